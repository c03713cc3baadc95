#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "sim/catalog/coefficient_files.hpp"
#include "sim/core/error.hpp"
#include "sim/perf/calibrated.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/perf/scaled.hpp"
#include "test_support.hpp"

using namespace greenfleet;

TEST_CASE("sum_max_of_lines equals the brute-force sum, across the crossing") {
  struct Case {
    double a1, b1, a2, b2, x0, dx;
    std::int64_t k;
  };
  const Case cases[] = {
      {1.0, 0.001, 3.0, 0.0005, 100, 8, 5000},  // line 2 above, then line 1 above
      {5.0, 0.0, 1.0, 0.01, 0, 4, 1000},        // crosses the other way
      {1.0, 0.01, 0.5, 0.02, 10, 1, 1},         // single iteration
      {2.0, 0.0, 2.0, 0.0, 0, 1, 77},           // identical lines
      {1.0, 0.002, 0.0, 0.001, 0, 3, 10000},    // never crosses
  };
  for (const auto& c : cases) {
    double brute = 0;
    for (std::int64_t i = 0; i < c.k; ++i) {
      const double x = c.x0 + static_cast<double>(i) * c.dx;
      brute += std::max(c.a1 + c.b1 * x, c.a2 + c.b2 * x);
    }
    CHECK(perf::sum_max_of_lines(c.a1, c.b1, c.a2, c.b2, c.x0, c.dx, c.k) ==
          doctest::Approx(brute).epsilon(1e-12));
  }
}

TEST_CASE("roofline decode runs sum the per-iteration step times exactly") {
  const auto& c = test::catalog();
  for (const char* model : {"llama-3.1-8b", "llama-2-7b"}) {
    for (int tp : {1, 2}) {
      perf::RooflineModel m(c.model(model), c.gpu("a100-sxm-80gb"), tp, spec::RooflineParams{});
      for (std::int32_t batch : {1, 16, 200}) {
        const std::int64_t ctx0 = 500LL * batch, k = 3000;
        double sum = 0;
        for (std::int64_t i = 0; i < k; ++i) sum += m.decode_step_seconds(batch, ctx0 + i * batch);
        CHECK(m.decode_run_seconds(batch, ctx0, k) == doctest::Approx(sum).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("roofline: the decode line equals the step model for any compute/memory serial share") {
  // max(C, M) + s min(C, M) is written as max(C + s M, M + s C); check it on both sides of the crossover.
  const auto& c = test::catalog();
  for (double s : {0.0, 0.3, 1.0}) {
    spec::RooflineParams p;
    p.compute_memory_serial = s;
    perf::RooflineModel m(c.model("llama-3.1-8b"), c.gpu("h100-sxm"), 1, p);
    for (std::int32_t batch : {1, 64, 512, 2048}) {
      perf::BatchShape shape;
      shape.decode_seqs = batch, shape.decode_ctx = 300LL * batch;
      CHECK(m.decode_cost(batch).step_seconds(static_cast<double>(shape.decode_ctx)) ==
            doctest::Approx(m.step_cost(shape).seconds).epsilon(1e-12));
    }
  }
}

TEST_CASE("roofline: prefill is compute-bound and decode bandwidth-bound") {
  const auto& c = test::catalog();
  spec::RooflineParams p;
  p.step_overhead_s = 0;
  p.compute_memory_serial = 0;  // the classic roofline: the larger of compute and memory time
  const auto& model = c.model("llama-2-7b");
  const auto& gpu = c.gpu("h100-sxm");
  perf::RooflineModel m(model, gpu, 1, p);
  // Decode of one sequence: reading the weights dominates, so time = weights / effective bandwidth.
  const double decode = m.decode_step_seconds(1, 100);
  const double weights_time = (model.weight_bytes() + 100 * model.kv_bytes_per_token()) /
                              (gpu.memory_bandwidth_gbps * 1e9 * p.bandwidth_efficiency);
  CHECK(decode == doctest::Approx(weights_time).epsilon(1e-12));
  // With compute and memory fully serial, the step adds the (small) compute time of the one token.
  spec::RooflineParams serial = p;
  serial.compute_memory_serial = 1;
  const double compute_time = (2.0 * model.layer_parameters() + 2.0 * model.vocab_size * model.hidden_size +
                               4.0 * model.layers * model.heads * model.head_dim * 100) /
                              (gpu.fp16_tflops * 1e12 * p.compute_efficiency);
  CHECK(perf::RooflineModel(model, gpu, 1, serial).decode_step_seconds(1, 100) ==
        doctest::Approx(weights_time + compute_time).epsilon(1e-12));
  // A 2048-token prefill: FLOPs dominate, time ~ 2 x params x tokens / effective FLOP rate.
  perf::BatchShape s;
  s.prefill_tokens = 2048;
  s.prefill_seqs = 1;
  s.prefill_final_chunks = 1;
  s.prefill_attn_ctx = 2048.0 * 2049 / 2;
  s.prefill_kv_tokens = 2048;
  const double t = m.step_seconds(s);
  const double matmul_only =
      2.0 * model.layer_parameters() * 2048 / (gpu.fp16_tflops * 1e12 * p.compute_efficiency);
  CHECK(t > matmul_only);
  CHECK(t < matmul_only * 1.15);  // attention and the LM head add a little
  CHECK(t > (model.weight_bytes() / (gpu.memory_bandwidth_gbps * 1e9 * p.bandwidth_efficiency)));
}

TEST_CASE("tensor parallelism speeds up steps but pays all-reduces") {
  const auto& c = test::catalog();
  const auto& model = c.model("llama-2-70b");
  perf::RooflineModel tp4(model, c.gpu("h100-sxm"), 4, spec::RooflineParams{});
  perf::RooflineModel tp8(model, c.gpu("h100-sxm"), 8, spec::RooflineParams{});
  const double t4 = tp4.decode_step_seconds(32, 32 * 1000), t8 = tp8.decode_step_seconds(32, 32 * 1000);
  CHECK(t8 < t4);
  CHECK(t8 > t4 / 2);  // overhead and communication do not shrink
}

TEST_CASE("a calibrated entry's prefill knee charges its extra slope only to a step's tokens beyond it") {
  spec::CalibrationCoefficients k;
  k.decode_floor = 0.03, k.decode_fixed = 0.025, k.per_decode_seq = 4e-4, k.per_decode_ctx = 4e-8;
  k.prefill_floor = 0.05, k.prefill_fixed = 0.02, k.per_prefill_token = 1e-4;
  const perf::CalibratedModel plain(k);
  k.prefill_knee_tokens = 2048, k.per_prefill_token_above_knee = 5e-5;
  k.gpu = "h100-sxm", k.model = "llama-2-70b", k.source = "a test", k.tensor_parallel = 8;
  const perf::CalibratedModel knee(k);
  const auto prefill = [](std::int64_t tokens, std::int32_t decodes) {
    perf::BatchShape s;
    s.prefill_tokens = tokens, s.prefill_seqs = s.prefill_final_chunks = 1;
    s.decode_seqs = decodes, s.decode_ctx = 1000LL * decodes;
    return s;
  };
  for (std::int32_t decodes : {0, 8}) {  // a prefill step and a mixed step
    CHECK(knee.step_seconds(prefill(2048, decodes)) == plain.step_seconds(prefill(2048, decodes)));
    CHECK(knee.step_seconds(prefill(1000, decodes)) == plain.step_seconds(prefill(1000, decodes)));
    CHECK(knee.step_seconds(prefill(3048, decodes)) ==
          doctest::Approx(plain.step_seconds(prefill(3048, decodes)) + 1000 * 5e-5).epsilon(1e-12));
  }
  // Decode steps have no prompt tokens: the knee leaves them and their closed-form runs alone.
  CHECK(knee.decode_run_seconds(32, 32000, 100) == plain.decode_run_seconds(32, 32000, 100));
  // The coefficient file keeps the knee; an entry without one writes neither key.
  const auto round = catalog::coefficients_yaml(k);
  CHECK(round.find("prefill_knee_tokens: 2048\n") != std::string::npos);
  CHECK(catalog::coefficients_yaml(plain.coefficients()).find("knee") == std::string::npos);
  // Read back, and a slope without its knee is an input error naming the file and key.
  const auto dir = std::filesystem::temp_directory_path() / "greenfleet_knee_test";
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "knee.yaml").string();
  { std::ofstream(file) << round; }
  CHECK(catalog::load_coefficients(file).per_prefill_token_above_knee == 5e-5);
  std::string bad = round;
  bad.replace(bad.find("prefill_knee_tokens: 2048"), 25, "prefill_knee_tokens: 0");
  { std::ofstream(file) << bad; }
  try {
    catalog::load_coefficients(file);
    FAIL("a slope without its knee was accepted");
  } catch (const core::InputError& e) {
    // The slope's own line (the file's 12th: the slope is set, the knee 0) and key.
    CHECK(std::string(e.what()).find("knee.yaml:12:") != std::string::npos);
    CHECK(std::string(e.what()).find(": per_prefill_token_above_knee_s:") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("step_time_scale multiplies every step and keeps decode runs summable in closed form") {
  spec::CalibrationCoefficients k;
  k.decode_floor = 0.03, k.decode_fixed = 0.025, k.per_decode_seq = 4e-4, k.per_decode_ctx = 4e-8;
  k.prefill_floor = 0.05, k.per_prefill_token = 1e-4, k.per_attn_ctx = 4e-9;
  const perf::CalibratedModel base(k);
  const auto scaled = perf::scaled(std::make_unique<perf::CalibratedModel>(k), 1.3);
  CHECK(scaled->kind() == "calibrated");
  perf::BatchShape s;
  s.prefill_tokens = 4000, s.prefill_seqs = s.prefill_final_chunks = 1, s.prefill_attn_ctx = 4000.0 * 4001 / 2;
  s.decode_seqs = 12, s.decode_ctx = 12000;
  CHECK(scaled->step_cost(s).seconds == doctest::Approx(1.3 * base.step_cost(s).seconds));
  CHECK(scaled->step_cost(s).busy_seconds == doctest::Approx(1.3 * base.step_cost(s).busy_seconds));
  CHECK(scaled->step_cost(s).prefill_share == doctest::Approx(base.step_cost(s).prefill_share));
  for (int batch : {1, 12, 64}) {  // below and above the decode floor
    double sum = 0;
    for (int i = 0; i < 300; ++i) sum += scaled->decode_step_seconds(batch, 1000LL * batch + i * batch);
    CHECK(scaled->decode_run_seconds(batch, 1000LL * batch, 300) == doctest::Approx(sum).epsilon(1e-12));
    CHECK(sum == doctest::Approx(1.3 * base.decode_run_seconds(batch, 1000LL * batch, 300)).epsilon(1e-12));
  }
  // A scale of 1 returns the model itself.
  auto model = std::make_unique<perf::CalibratedModel>(k);
  const perf::PerfModel* raw = model.get();
  CHECK(perf::scaled(std::move(model), 1.0).get() == raw);
}
