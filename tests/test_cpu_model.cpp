#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/calibration/cpu_calibration.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/core/error.hpp"
#include "sim/perf/cpu_model.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const std::string kMeasurements = std::string(GREENFLEET_SOURCE_DIR) +
                                  "/models/calibration/cpu/measurements/llamacpp-xeon-8480c-llama-3.1-8b.yaml";

const spec::CpuCoefficients& committed() {
  static const spec::CpuCoefficients c = catalog::load_cpu_coefficients(
      catalog::cpu_coefficients_path(GREENFLEET_SOURCE_DIR, "xeon-8480c", "llama-3.1-8b"));
  return c;
}

perf::BatchShape decode_shape(int batch, std::int64_t ctx) {
  perf::BatchShape s;
  s.decode_seqs = batch;
  s.decode_ctx = ctx;
  return s;
}

perf::BatchShape prefill_shape(std::int64_t tokens) {
  perf::BatchShape s;
  s.prefill_tokens = tokens;
  s.prefill_seqs = s.prefill_final_chunks = 1;
  s.prefill_attn_ctx = static_cast<double>(tokens) * (tokens + 1) / 2;
  return s;
}

}  // namespace

TEST_CASE("the CPU measurement file holds the published llama.cpp numbers, every third row held out") {
  const auto set = calibration::read_cpu_measurements(kMeasurements);
  CHECK(set.cpu == "xeon-8480c");
  CHECK(set.model == "llama-3.1-8b");
  REQUIRE(set.rows.size() == 12);  // 5 decode rows and 1 prefill row at each of 64 and 112 threads
  REQUIRE(set.power.size() == 2);
  CHECK(set.power[1].watts_low == 600);
  CHECK(set.power[1].watts_high == 680);
  const auto pts = calibration::cpu_points(set);
  CHECK(pts.size() == 14);  // the two "batch 16-32" rows give a point at each end
  int held = 0;
  for (const auto& r : set.rows) held += r.held_out;
  CHECK(held == 4);
  // Both ends of a span row fall on the same side of the split.
  for (const auto& p : pts)
    if (!p.prefill && p.batch >= 16) CHECK(p.held_out == (p.threads == 64));
  // The catalog still loads with models/calibration/cpu/ present (it is not a GPU calibration).
  CHECK(test::catalog().cpus().count(set.cpu) == 1);
}

TEST_CASE("calibrate regenerates the committed CPU coefficient file bit for bit, within the error guard") {
  const auto set = calibration::read_cpu_measurements(kMeasurements);
  const auto c = calibration::calibrate_cpu(set);
  CHECK(catalog::cpu_coefficients_yaml(c) ==
        test::slurp(catalog::cpu_coefficients_path(GREENFLEET_SOURCE_DIR, c.cpu, c.model)));
  // The guard (docs/CPU_MODEL.md): held-out throughput median <= 10% and p90 <= 15%; at least half the
  // held-out points inside their published range; the power line's leave-one-out median <= 12%.
  const auto held = calibration::cpu_held_out_errors(committed(), set);
  CHECK(held.points == 5);
  CHECK(held.median_ape <= 10.0);
  CHECK(held.p90_ape <= 15.0);
  CHECK(2 * calibration::cpu_held_out_in_range(committed(), set) >= held.points);
  CHECK(calibration::cpu_power_errors(set).median_ape <= 12.0);
  // The loader reads back what the writer wrote.
  CHECK(catalog::cpu_coefficients_yaml(committed()) == catalog::cpu_coefficients_yaml(c));
}

TEST_CASE("amx_speedup 1 reproduces the llama.cpp measurements; 3.67 divides the compute") {
  const auto set = calibration::read_cpu_measurements(kMeasurements);
  const auto& c = committed();
  // Every published point, fitted or held out, within the held-out p90 error of its middle or inside its
  // range.
  for (const auto& p : calibration::cpu_points(set)) {
    CAPTURE(p.threads);
    CAPTURE(p.batch);
    const double tps = calibration::cpu_tokens_per_s(c, p);
    const bool in_range = tps >= p.tps_low && tps <= p.tps_high;
    CHECK((in_range || 100 * std::abs(tps - p.tps) / p.tps <= c.held_out_p90_ape + 1e-9));
  }
  CHECK(perf::kEcoServeAmxSpeedup == 3.67);
  for (int threads : {64, 112}) {
    const perf::CpuInferenceModel base(c, threads, 1.0), amx(c, threads);
    CHECK(amx.amx_speedup() == 3.67);
    // The compute line is exactly 3.67x shorter at any batch; compute-bound steps (a long prompt, a batch of
    // 128) are 3.67x faster. With AMX the compute line drops below the weight read at smaller batches than
    // before (a batch of 32 on 112 threads streams), so a mid-size batch gains less.
    for (int batch : {1, 8, 32, 128})
      CHECK(base.decode_cost(batch).a2 / amx.decode_cost(batch).a2 == doctest::Approx(3.67));
    CHECK(base.step_seconds(prefill_shape(512)) / amx.step_seconds(prefill_shape(512)) == doctest::Approx(3.67));
    CHECK(base.step_seconds(decode_shape(128, 0)) / amx.step_seconds(decode_shape(128, 0)) ==
          doctest::Approx(3.67));
    // A single sequence streams the weights, which AMX does not speed up: faster, but far less than 3.67x.
    const double single = base.step_seconds(decode_shape(1, 0)) / amx.step_seconds(decode_shape(1, 0));
    CHECK(single > 1.0);
    CHECK(single < 1.5);
  }
}

TEST_CASE("CPU step times fall and host power rises with threads") {
  const auto& c = committed();
  double last_prefill = INFINITY, last_power = 0;
  std::vector<double> last_decode(4, INFINITY);
  for (int threads = 1; threads <= 224; ++threads) {
    const perf::CpuInferenceModel m(c, threads);
    CAPTURE(threads);
    const double pre = m.step_seconds(prefill_shape(512));
    CHECK(pre <= last_prefill);
    last_prefill = pre;
    const std::vector<int> batches = {1, 4, 16, 32};
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const double d = m.step_seconds(decode_shape(batches[i], 1000));
      CHECK(d <= last_decode[i]);
      last_decode[i] = d;
      if (i > 0) CHECK(d > m.step_seconds(decode_shape(batches[i - 1], 1000)));  // a bigger batch takes longer
    }
    CHECK(m.busy_power_w() > last_power);
    last_power = m.busy_power_w();
  }
  // Throughput with more threads never drops, and Amdahl's factor is 1 on one thread.
  CHECK(perf::amdahl_factor(c.serial_fraction, 1) == doctest::Approx(1.0));
  CHECK(perf::amdahl_factor(0.0, 64) == doctest::Approx(1.0 / 64));
  CHECK_THROWS_AS(perf::CpuInferenceModel(c, 0), core::InputError);
  CHECK_THROWS_AS(perf::CpuInferenceModel(c, 8, 0.0), core::InputError);
}

TEST_CASE("the CPU model's decode cost agrees with its step cost and sums in closed form") {
  spec::CpuCoefficients k;
  k.floor_s = 0.04, k.stream_per_seq_1t_s = 0.36, k.compute_per_seq_1t_s = 0.6, k.per_prefill_token_1t_s = 0.35;
  k.serial_fraction = 0.01;
  for (const auto& coefficients : {k, committed()}) {
    for (double amx : {1.0, 3.67}) {
      const perf::CpuInferenceModel m(coefficients, 64, amx);
      for (int batch : {1, 2, 8, 12, 32, 64}) {  // both lines of the maximum
        CAPTURE(batch);
        const auto d = m.decode_cost(batch);
        CHECK(d.batch == batch);
        for (std::int64_t ctx : {0LL, 100LL * batch, 4000LL * batch})
          CHECK(d.step_seconds(static_cast<double>(ctx)) == doctest::Approx(m.decode_step_seconds(batch, ctx)));
        double sum = 0;
        for (int i = 0; i < 300; ++i) sum += m.decode_step_seconds(batch, 500LL * batch + i * batch);
        CHECK(m.decode_run_seconds(batch, 500LL * batch, 300) == doctest::Approx(sum).epsilon(1e-12));
        const auto cost = m.step_cost(decode_shape(batch, 500LL * batch));
        CHECK(cost.prefill_share == 0);
        CHECK(cost.busy_seconds == cost.seconds);
      }
    }
  }
  // A prefill chunk riding with decodes never makes the step cheaper; its share is the time it adds.
  const perf::CpuInferenceModel m(k, 64);
  for (int batch : {1, 8, 32}) {
    auto mixed = decode_shape(batch, 300LL * batch);
    const auto alone = m.step_cost(mixed);
    mixed.prefill_tokens = 64, mixed.prefill_seqs = 1, mixed.prefill_attn_ctx = 64.0 * 65 / 2;
    const auto both = m.step_cost(mixed);
    CHECK(both.seconds >= alone.seconds);
    CHECK(both.prefill_share == doctest::Approx((both.seconds - alone.seconds) / both.seconds));
  }
  CHECK(m.step_cost(prefill_shape(512)).prefill_share == 1);
  // A prompt of one token still streams the weights once.
  CHECK(m.step_seconds(prefill_shape(1)) == doctest::Approx(k.floor_s));
  CHECK(m.step_seconds(perf::BatchShape{}) == 0);
}

TEST_CASE("CPU measurement files are checked: ranges, required sections, unknown keys") {
  const std::string head =
      "source: s\ncpu: xeon-8480c\nmodel: llama-3.1-8b\nengine: e\nquantisation: q\n"
      "power: [{threads: 64, watts: [548, 590]}, {threads: 112, watts: [600, 680]}]\n";
  test::TempDir dir;
  CHECK_THROWS_WITH_AS(calibration::read_cpu_measurements(
                           dir.write("a.yaml", head + "decode: [{threads: 64, batch: 1, tokens_per_s: [22, 17]}]\n"
                                                      "prefill: [{threads: 64, tokens_per_s: [97, 121]}]\n")),
                       doctest::Contains("expected [low, high]"), core::InputError);
  CHECK_THROWS_WITH_AS(calibration::read_cpu_measurements(
                           dir.write("b.yaml", head + "decode: [{threads: 64, batch: 1, tokens_per_s: [17, 22]}]\n"
                                                      "prefill: []\n")),
                       doctest::Contains("prefill"), core::InputError);
  CHECK_THROWS_AS(calibration::read_cpu_measurements(dir.write(
                      "c.yaml", head + "decode: [{threads: 64, batch: 1, tokens_per_s: [17, 22], ctx: 5}]\n"
                                       "prefill: [{threads: 64, tokens_per_s: [97, 121]}]\n")),
                  core::InputError);
  // The power line needs two thread counts; the error names the file and the key.
  std::string one_count = head;
  one_count.replace(one_count.find(", {threads: 112, watts: [600, 680]}"), 35, "");
  CHECK_THROWS_WITH_AS(calibration::read_cpu_measurements(dir.write(
                           "e.yaml", one_count + "decode: [{threads: 64, batch: 1, tokens_per_s: [17, 22]}]\n"
                                                 "prefill: [{threads: 64, tokens_per_s: [97, 121]}]\n")),
                       doctest::Contains("e.yaml:6:8: power: needs rows at two or more distinct thread counts"),
                       core::InputError);
  // Too few rows to fit both phases once every third row is held out.
  const auto few = calibration::read_cpu_measurements(
      dir.write("d.yaml", head + "decode: [{threads: 64, batch: 1, tokens_per_s: [17, 22]}]\n"
                                 "prefill: [{threads: 64, tokens_per_s: [97, 121]}]\n"));
  CHECK_THROWS_AS(calibration::calibrate_cpu(few), core::InputError);
}
