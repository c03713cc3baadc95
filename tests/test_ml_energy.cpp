#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/calibration/power_calibration.hpp"
#include "sim/calibration/sample_stats.hpp"
#include "sim/calibration/whole_run.hpp"
#include "sim/perf/calibrated.hpp"
#include "test_support.hpp"

using namespace greenfleet;

TEST_CASE("the ML.ENERGY replay prices the mean step, prompts spread over it, and charges power as the ledger") {
  spec::CalibrationCoefficients k;
  k.decode_floor = 0.01, k.decode_fixed = 0.002, k.per_decode_seq = 1e-4, k.per_decode_ctx = 1e-8;
  k.prefill_floor = 0.02, k.per_prefill_token = 5e-5, k.per_attn_ctx = 1e-9;
  const perf::CalibratedModel model(k);
  spec::GpuSpec gpu;
  gpu.power = {100, 600, 400};  // idle, prefill, decode W
  calibration::MlEnergyConfig c;
  c.batch = 64, c.output_tokens = 320, c.tp = 2, c.task = "lm-arena-chat";
  const double prompt = calibration::ml_energy_prompt_tokens(c.task);
  const double ctx = prompt + 160;
  const double decode_s = std::max(0.01, 0.002 + 64 * 1e-4) + 1e-8 * 64 * ctx;
  const double prefill_s = 5e-5 * prompt + 1e-9 * prompt * (prompt + 1) / 2;
  const calibration::MlEnergyPrediction p = calibration::predict_ml_energy(model, gpu, nullptr, c);
  // 64 / 320 = 0.2 prompts per step ride along; a running sequence's inter-token time is that mean step.
  const double mean_s = decode_s + 0.2 * prefill_s;
  CHECK(p.itl_s == doctest::Approx(mean_s));
  CHECK(p.throughput == doctest::Approx(64 / mean_s));
  // The calibrated model's step is busy throughout: the decode part at decode power, the prompt's at prefill.
  const double joules = 2 * (decode_s * 400 + 0.2 * prefill_s * 600);
  CHECK(p.j_per_token == doctest::Approx(joules / 64));
  // A power curve replaces the decode level.
  spec::GpuPowerCurve curve;
  curve.decode_w_small = 300, curve.decode_w_saturated = 300, curve.batch_scale = 10;
  const auto q = calibration::predict_ml_energy(model, gpu, &curve, c);
  CHECK(q.j_per_token == doctest::Approx(2 * (decode_s * 300 + 0.2 * prefill_s * 600) / 64));
}

TEST_CASE("ML.ENERGY v3 replay: the committed split and the held-out errors stay within their guard") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  std::map<std::string, int> skipped;
  const auto rows = calibration::read_ml_energy_configs(data + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv",
                                                        catalog, skipped);
  std::vector<const calibration::MlEnergyConfig*> fit, held;
  for (const auto& r : rows) (r.held_out ? held : fit).push_back(&r);
  CHECK(fit.size() == 54);
  CHECK(held.size() == 23);  // Llama-3.3-70B at TP 4 and Qwen3-14B at TP 1
  CHECK(skipped.at("google/gemma-3-12b-it") == 6);
  const auto e = calibration::ml_energy_errors(catalog, held);
  // Issue #17's targets on the held-out models, met since the roofline adds compute and memory time and carries
  // single-GPU kernel efficiencies (docs/MODELS.md, "ML.ENERGY v3 replay"): ITL and J/token within 10% median;
  // power, priced over whole steps, within 5%. The training models are guarded at today's level.
  CHECK(e.itl.median_ape <= 10);
  CHECK(e.j_per_token.median_ape <= 10);
  CHECK(e.gpu_w.median_ape <= 5);
  const auto t = calibration::ml_energy_errors(catalog, fit);
  CHECK(t.itl.median_ape <= 10);
  CHECK(t.j_per_token.median_ape <= 12);
  // Energy from power alone (the measured times priced with the modelled power): high by < 5%.
  CHECK(std::abs(e.w_bias) <= 5);
  for (const char* id : {"meta-llama/Llama-3.3-70B-Instruct", "Qwen/Qwen3-14B"}) {
    std::vector<const calibration::MlEnergyConfig*> one;
    for (const auto* r : held)
      if (r->model_id == id) one.push_back(r);
    CAPTURE(id);
    CHECK(calibration::ml_energy_errors(catalog, one).gpu_w.median_ape <= 6);
  }
}

TEST_CASE("the roofline's compute/memory serial share is the one fitted to the ML.ENERGY training models") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  std::map<std::string, int> skipped;
  const auto rows = calibration::read_ml_energy_configs(data + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv",
                                                        test::catalog(), skipped);
  const auto fit = calibration::fit_compute_memory_serial(rows, test::catalog());
  REQUIRE(fit.grid.size() == 21);
  CHECK(spec::RooflineParams{}.compute_memory_serial == doctest::Approx(fit.serial));
  // The classic roofline (perfect overlap) predicts the training rows clearly worse.
  CHECK(fit.grid.front() > fit.training_median_ape + 5);
}

TEST_CASE("power line: least squares on relative error recovers a line and skips held-out points") {
  std::vector<calibration::UtilisationPoint> pts;
  for (double u : {0.2, 0.3, 0.5, 0.6}) pts.push_back({"x", u, 70 + 400 * u, false});
  pts.push_back({"held", 0.4, 999, true});  // far off the line: a fit that used it would move
  const calibration::PowerLine line = calibration::fit_power_line(pts);
  CHECK(line.intercept_w == doctest::Approx(70));
  CHECK(line.slope_w == doctest::Approx(400));
  const auto [median, p90] = calibration::power_line_errors(line, pts);
  CHECK(median == doctest::Approx(100.0 * (999 - 230) / 999));
  CHECK(p90 == doctest::Approx(median));
  CHECK_THROWS(calibration::fit_power_line({pts[0], pts[4]}));  // one training point
}

TEST_CASE("ML.ENERGY 2023: power lines and J/token on the held-out LLaMA-shaped rows stay within their guard") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  const std::string dir = data + "/profiling/ml_energy/legacy_2023";
  const auto lines = calibration::read_ml_energy_2023_power(dir, catalog);
  REQUIRE(lines.size() == 3);
  for (const auto& [gpu, pts] : lines) {
    CAPTURE(gpu);
    const spec::GpuPowerCurve* curve = catalog.power_curve(gpu);
    REQUIRE(curve != nullptr);
    CHECK(curve->method == "line");
    // Held out: the LLaMA-shaped rows the replay checks; fastchat-t5 (encoder-decoder) is not read.
    int held = 0;
    for (const auto& p : pts) {
      held += p.held_out;
      CHECK(p.name.find("t5") == std::string::npos);
    }
    CHECK(held >= 11);
    CHECK(curve->training_points >= 8);
    // Power of held-out models at their measured utilisation: 3.7-5.2% median today.
    CHECK(curve->held_out_median_ape <= 6);
    CHECK(curve->decode_w_saturated >= curve->decode_w_small);
    CHECK(curve->decode_w_saturated <= catalog.gpu(gpu).tdp_w);
  }
  // J/token of the held-out rows replayed at the step model and power a simulation uses (a 2025 engine): within
  // 20% per GPU and shape (A40 +2-3%, A100 -6 to -14%, V100 -16 to -18% today); the 10% target is asserted on
  // the 2023 engine's replay (the test case below), which gets time and power each right.
  std::map<std::pair<std::string, std::string>, std::vector<double>> err;
  for (const auto& r : calibration::read_ml_energy_2023_rows(dir, catalog)) {
    const auto model = calibration::calibrated_or_fallback(catalog, r.gpu, r.model, 1);
    const auto p = calibration::predict_ml_energy_2023(*model, catalog.gpu(r.gpu), catalog.power_curve(r.gpu), r);
    err[{r.gpu, r.model}].push_back(100 * (p.j_per_token - r.j_per_token) / r.j_per_token);
  }
  CHECK(err.size() == 6);
  for (const auto& [key, e] : err) {
    CAPTURE(key.first);
    CAPTURE(key.second);
    CHECK(std::abs(calibration::sample_median(e)) <= 20);
  }
}

TEST_CASE("2023 engine: host time per layer is the training rows' median and the power line reads the step") {
  std::vector<calibration::UtilisationPoint> pts;
  // Training rows with known layer counts (ITL / layers: 0.5, 1.0 and 2.0 ms) and one held-out row far off.
  pts.push_back({"StabilityAI/stablelm-tuned-alpha-7b", 0.2, 150, false, 0.016});        // 16 layers
  pts.push_back({"databricks/dolly-v2-12b", 0.3, 190, false, 0.036});                    // 36 layers
  pts.push_back({"togethercomputer/RedPajama-INCITE-7B-Chat", 0.4, 230, false, 0.064});  // 32 layers
  pts.push_back({"unknown/model-7b", 0.5, 270, false, 9.0});  // no layer count: not used
  pts.push_back({"metaai/llama-7B", 0.1, 999, true, 5.0});    // held out: not used
  const calibration::Engine2023 e = calibration::fit_engine_2023(pts);
  CHECK(e.training_rows == 3);
  CHECK(e.host_s_per_layer == doctest::Approx(0.002 / 2));  // median of 1, 1 and 2 ms
  CHECK(e.line.intercept_w == doctest::Approx(70));
  CHECK(e.line.slope_w == doctest::Approx(400));
  CHECK(calibration::ml_energy_2023_layers("lmsys/vicuna-13B") == 40);
  CHECK(calibration::ml_energy_2023_layers("no/such-model") == 0);

  // A LLaMA-7B row on an A100: the host-bound step (32 layers x 1 ms) is longer than the GPU's, and the power
  // is the line at the weights read over that step.
  const catalog::Catalog& catalog = test::catalog();
  const auto& gpu = catalog.gpu("a100-sxm-80gb");
  const auto& llm = catalog.model("llama-2-7b");
  const auto model = calibration::calibrated_or_fallback(catalog, gpu.id, llm.id, 1);
  calibration::MlEnergy2023Row row;
  row.gpu = gpu.id, row.model = llm.id, row.output_tokens = 200;
  const auto step = calibration::predict_ml_energy_2023(*model, gpu, nullptr, row);
  REQUIRE(step.itl_s < 0.032);
  const auto p = calibration::predict_engine_2023(*model, gpu, llm, e, row);
  CHECK(p.itl_s == doctest::Approx(0.032));
  const double u = llm.weight_bytes() / 0.032 / (gpu.memory_bandwidth_gbps * 1e9);
  CHECK(p.gpu_w == doctest::Approx(70 + 400 * u));
  CHECK(p.j_per_token == doctest::Approx(p.gpu_w * 0.032));
}

namespace {

// Issue #17's targets on the held-out LLaMA-shaped 2023 rows, per GPU and shape: J/token median <= 10%, with the
// time and the power each right (median <= 15%), not only their product. `predict(row)` gives a prediction.
template <class Predict>
void check_2023_targets(const std::vector<calibration::MlEnergy2023Row>& rows, Predict predict) {
  std::map<std::pair<std::string, std::string>, std::vector<double>> itl, w, j;
  for (const auto& r : rows) {
    const calibration::MlEnergyPrediction p = predict(r);
    REQUIRE(p.itl_s > 0);
    itl[{r.gpu, r.model}].push_back(100 * (p.itl_s - r.itl_s) / r.itl_s);
    w[{r.gpu, r.model}].push_back(100 * (p.gpu_w - r.gpu_w) / r.gpu_w);
    j[{r.gpu, r.model}].push_back(100 * (p.j_per_token - r.j_per_token) / r.j_per_token);
  }
  REQUIRE(j.size() == 6);
  for (const auto& [key, e] : j) {
    CAPTURE(key.first);
    CAPTURE(key.second);
    CHECK(std::abs(calibration::sample_median(e)) <= 10);
    CHECK(std::abs(calibration::sample_median(itl.at(key))) <= 15);
    CHECK(std::abs(calibration::sample_median(w.at(key))) <= 15);
  }
}

}  // namespace

TEST_CASE("ML.ENERGY 2023 on the 2023 engine: held-out J/token within 10%, time and power each within 15%") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  const std::string dir = data + "/profiling/ml_energy/legacy_2023";
  const auto points = calibration::read_ml_energy_2023_power(dir, catalog);
  // Today J/token -7.5 to +4.3%, ITL -13.6 to +4.3%, W -4.8 to +10.4%.
  check_2023_targets(calibration::read_ml_energy_2023_rows(dir, catalog), [&](const auto& r) {
    const auto engine = calibration::fit_engine_2023(points.at(r.gpu));
    CHECK(engine.training_rows == 9);
    const auto model = calibration::calibrated_or_fallback(catalog, r.gpu, r.model, 1);
    return calibration::predict_engine_2023(*model, catalog.gpu(r.gpu), catalog.model(r.model), engine, r);
  });
}

TEST_CASE("ML.ENERGY 2023 through the simulator on preset fastchat-hf-2023: held-out targets per GPU and shape") {
  // What a simulation charges the held-out LLaMA-shaped rows (issue #17 items 5 and 6): each row a whole run of
  // one request per instance on the preset, with the host times and power lines committed in
  // models/calibration/power/ (fitted to the training rows only).
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  const catalog::Catalog& catalog = test::catalog();
  // Today J/token -5.3 to +4.6%, ITL -13.6 to +4.5%, W -4.4 to +10.8%: the replay's targets, met by what a
  // simulation charges.
  check_2023_targets(calibration::read_ml_energy_2023_rows(data + "/profiling/ml_energy/legacy_2023", catalog),
                     [&](const auto& r) { return calibration::engine_2023_whole_run(catalog, r); });
}
