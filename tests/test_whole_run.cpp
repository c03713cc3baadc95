#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "sim/calibration/whole_run.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/perf/calibrated.hpp"
#include "test_support.hpp"

using namespace greenfleet;

TEST_CASE("a whole run of one batch sent at once takes one prefill step and the decode run, on every instance") {
  const catalog::Catalog& catalog = test::catalog();
  const perf::CalibratedModel model(
      catalog::load_coefficients(catalog::coefficients_path(catalog.root(), "a100-sxm-80gb", "llama-2-70b", 4)));
  calibration::WholeRunCase c;
  c.gpu = "a100-sxm-80gb", c.model = "llama-2-70b", c.tp = 4;
  c.batch = 8, c.prompt = 512, c.output = 64;
  c.max_batched_tokens = 4096;
  const auto r = calibration::simulate_whole_run(catalog, c);
  REQUIRE(r.completed == 16);  // two TP-4 instances on the 8-GPU server, 8 requests each
  perf::BatchShape pre;
  pre.prefill_tokens = 8 * 512, pre.prefill_seqs = pre.prefill_final_chunks = 8;
  pre.prefill_attn_ctx = 8 * (512.0 * 513 / 2);
  const double prefill = model.step_seconds(pre);
  const double expected = prefill + model.decode_run_seconds(8, 8 * 513, 63);
  // Arrivals spread over a few nanoseconds; steps are whole nanoseconds.
  CHECK(r.batch_latency_s == doctest::Approx(expected).epsilon(1e-6));
  CHECK(r.ttft_s == doctest::Approx(prefill).epsilon(1e-6));
  CHECK(r.throughput == doctest::Approx(8 * 64 / expected).epsilon(1e-6));
  // A budget below the batch's prompts splits the prefill over steps (no chunking: whole prompts per step). Below
  // the entry's prefill knee (2,048 tokens) a second step only adds its fixed cost and the decodes' delay; above
  // it, splitting saves the knee's extra slope, so both runs stay under it.
  c.batch = 4;
  const auto whole4 = calibration::simulate_whole_run(catalog, c);
  c.max_batched_tokens = 1024;
  const auto split = calibration::simulate_whole_run(catalog, c);
  CHECK(split.completed == 8);
  CHECK(split.batch_latency_s > whole4.batch_latency_s);
}

TEST_CASE("whole-run validation: SplitwiseSim's held-out batch latencies stay within today's levels") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  std::map<std::string, int> skipped;
  const auto sets = calibration::read_splitwise_sim(data + "/profiling/splitwise_sim/perf_model.csv", skipped);
  REQUIRE(sets.size() == 6);
  for (const auto& set : sets) {
    CAPTURE(set.gpu);
    CAPTURE(set.tensor_parallel);
    const auto e = calibration::splitwise_whole_run_errors(catalog, set);
    CHECK(e.latency.points >= 4);
    // Regression guard at the level measured today, 0.7-5.1% (docs/MODELS.md, "Whole runs"); issue #17's
    // target, 10%, is met on this data.
    CHECK(e.latency.median_ape <= 5.5);
    // Issue #17's p90 target, 20%, on every set: met since the KV cache is sized in the GiB the GPUs hold (the
    // TP 2 batches of 32 x 640 tokens missed it by preempting, 28.7% and 49.7%; today 16.7% and 6.5%).
    CHECK(e.latency.p90_ape <= 20.0);
    CHECK(e.beyond_context == (set.tensor_parallel == 2 ? 1 : 0));  // the 4,096-token prompt at TP 2
  }
}

TEST_CASE("whole-run validation: ML.ENERGY v3's held-out models stay within today's levels") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  std::map<std::string, int> skipped;
  const auto rows = calibration::read_ml_energy_configs(data + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv",
                                                        catalog, skipped);
  std::vector<double> itl, tput;
  for (const auto& c : rows) {
    if (!c.held_out) continue;
    const auto r = calibration::ml_energy_whole_run(catalog, c);
    CHECK(r.result.completed == r.result.requests);
    itl.push_back(std::abs(r.itl_error));
    tput.push_back(std::abs(r.throughput_error));
  }
  REQUIRE(itl.size() == 23);
  // The target, 10% median, met on both (4.5% and 7.7% today: docs/MODELS.md, "Whole runs").
  CHECK(calibration::ape_stats(itl).median_ape <= 10);
  CHECK(calibration::ape_stats(tput).median_ape <= 10);
}
