#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/host_floor.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/perf/scaled.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

// The 2023 engine as a preset (scheduler.preset fastchat-hf-2023): the host floor in the step model, its closed
// form under fast-forward, the 2023 power line in the ledger (docs/MODELS.md, "Old GPUs").
using namespace greenfleet;

TEST_CASE("host floor: decode runs sum max(floor, the two lines) exactly, below, across and above the floor") {
  struct Case {
    double floor, fixed, a1, b1, a2, b2, x0, dx;
    std::int64_t k;
  };
  const Case cases[] = {
      {0.030, 0.001, 0.010, 1e-6, 0.004, 2e-6, 100, 1, 20000},  // below, then line 2 crosses the floor
      {0.030, 0.001, 0.010, 1e-6, 0.004, 2e-6, 100, 8, 5000},   // the lines cross beyond the floor too
      {0.001, 0.001, 0.010, 1e-6, 0.004, 2e-6, 100, 1, 300},    // floor never binds
      {1.000, 0.001, 0.010, 1e-6, 0.004, 2e-6, 100, 1, 300},    // floor binds throughout
      {0.020, 0.000, 0.030, -1e-5, 0.010, 0.0, 0, 1, 3000},     // a falling line drops under the floor
      {0.011, 0.001, 0.010, 0.0, 0.010, 0.0, 0, 1, 50},         // flat lines exactly at the floor
      {0.050, 0.002, 0.010, 1e-6, 0.004, 2e-6, 7, 3, 1},        // one iteration
  };
  for (const auto& c : cases) {
    CAPTURE(c.floor);
    CAPTURE(c.dx);
    double brute = 0;
    for (std::int64_t i = 0; i < c.k; ++i) {
      const double x = c.x0 + static_cast<double>(i) * c.dx;
      brute += std::max(c.floor, c.fixed + std::max(c.a1 + c.b1 * x, c.a2 + c.b2 * x));
    }
    CHECK(perf::sum_max_of_lines_with_floor(c.floor, c.fixed, c.a1, c.b1, c.a2, c.b2, c.x0, c.dx, c.k) ==
          doctest::Approx(brute).epsilon(1e-12));
  }
}

TEST_CASE("host floor model: its decode line agrees with its steps; the devices are busy only for the model's") {
  const auto& c = test::catalog();
  const double floor = 32 * 0.001;  // LLaMA-7B's 32 layers at 1 ms each
  perf::RooflineModel plain(c.model("llama-2-7b"), c.gpu("a100-sxm-80gb"), 1, spec::RooflineParams{});
  const auto floored =
      perf::host_floored(std::make_unique<perf::RooflineModel>(c.model("llama-2-7b"), c.gpu("a100-sxm-80gb"), 1,
                                                               spec::RooflineParams{}),
                         floor);
  CHECK(perf::host_floored(std::make_unique<perf::RooflineModel>(plain), 0).get() != nullptr);
  for (std::int32_t batch : {1, 8, 64}) {
    CAPTURE(batch);
    const perf::DecodeCost d = floored->decode_cost(batch);
    CHECK(d.floor == floor);
    double sum = 0, busy = 0;
    const std::int64_t ctx0 = 300LL * batch, k = 4000;
    for (std::int64_t i = 0; i < k; ++i) {
      perf::BatchShape s;
      s.decode_seqs = batch, s.decode_ctx = ctx0 + i * batch;
      const perf::StepCost fc = floored->step_cost(s), pc = plain.step_cost(s);
      CHECK(fc.seconds == std::max(floor, pc.seconds));
      CHECK(fc.busy_seconds == pc.busy_seconds);
      CHECK(d.step_seconds(static_cast<double>(s.decode_ctx)) == doctest::Approx(fc.seconds).epsilon(1e-12));
      sum += fc.seconds, busy += pc.busy_seconds;
    }
    CHECK(d.run_seconds(ctx0, k, batch) == doctest::Approx(sum).epsilon(1e-12));
    CHECK(d.busy_run_seconds(ctx0, k, batch) == doctest::Approx(busy).epsilon(1e-12));
  }
  // Scaled as well (perf_model.step_time_scale, the CPU instances' interference): the floor scales with the
  // steps, so the decode line still agrees with step_cost.
  const auto scaled = perf::scaled(perf::host_floored(std::make_unique<perf::RooflineModel>(plain), floor), 1.5);
  for (std::int32_t batch : {1, 64}) {
    CAPTURE(batch);
    const perf::DecodeCost d = scaled->decode_cost(batch);
    for (std::int64_t ctx : {300LL * batch, 4000LL * batch}) {
      perf::BatchShape s;
      s.decode_seqs = batch, s.decode_ctx = ctx;
      const perf::StepCost sc = scaled->step_cost(s);
      CHECK(d.step_seconds(static_cast<double>(ctx)) == doctest::Approx(sc.seconds).epsilon(1e-12));
      CHECK(d.busy_step_seconds(static_cast<double>(ctx)) == doctest::Approx(sc.busy_seconds).epsilon(1e-12));
    }
  }
  // Batch 1 is host-bound on the A100 (the 2025 step is 10-13 ms), batch 64 at long contexts is not.
  CHECK(floored->decode_cost(1).step_seconds(300) == floor);
  CHECK(floored->decode_cost(64).step_seconds(64.0 * 4000) > floor);
}

namespace {
std::string preset_yaml(const std::string& sku, const std::string& scheduler, int requests,
                        const std::string& extra = "", int rate = 6) {
  return "name: e2023\nseed: 3\nsites: [{name: s, carbon_intensity: 300}]\n"
         "deployments:\n  - name: d\n    model: llama-2-7b\n    scheduler: " +
         scheduler + "\n    perf_model: {kind: calibrated}\nfleet: [{site: s, sku: " + sku +
         ", count: 1}]\n"
         "workload:\n  source: synthetic\n  synthetic: {requests: " +
         std::to_string(requests) + ", rate: " + std::to_string(rate) +
         ", prompt_tokens: {distribution: lognormal, mean: 300, sigma: 0.7, max: 2000}, "
         "output_tokens: {distribution: lognormal, mean: 150, sigma: 0.8, max: 1200}}\n" +
         extra;
}
}  // namespace

TEST_CASE("preset fastchat-hf-2023: one request at a time, whole prompts, the GPU's fitted host time") {
  test::TempDir dir;
  const auto x = experiment::load_experiment(
      dir.write("x.yaml", preset_yaml("dgx-a100x8-80gb", "{preset: fastchat-hf-2023}", 10)), test::catalog(), {});
  const auto& d = x.deployments.at(0);
  CHECK(d.engine_2023);
  CHECK(d.scheduler.max_num_seqs == 1);
  CHECK_FALSE(d.scheduler.chunked_prefill);
  CHECK(d.scheduler.max_batched_tokens == 4096);  // max(Llama-2-7B's context, 2048): any prompt in one step
  CHECK(d.host_s_per_layer < 0);                  // the GPU's, resolved when the simulation is built
  runner::Simulation sim(x, test::catalog());
  const auto* curve = test::catalog().power_curve("a100-sxm-80gb");
  REQUIRE(curve);
  REQUIRE(curve->host_s_per_layer > 0);
  CHECK(sim.instances()[0]->perf_model().decode_cost(1).floor == doctest::Approx(curve->host_s_per_layer * 32));

  // An explicit host time overrides it, also without the preset (the floor alone; power unchanged).
  const auto y = experiment::load_experiment(
      dir.write("y.yaml", preset_yaml("hgx-h100x8", "{host_time_per_layer: 2ms}", 10)), test::catalog(), {});
  CHECK_FALSE(y.deployments.at(0).engine_2023);
  CHECK(y.deployments.at(0).host_s_per_layer == doctest::Approx(0.002));
  runner::Simulation ysim(y, test::catalog());
  CHECK(ysim.instances()[0]->perf_model().decode_cost(1).floor == doctest::Approx(0.064));
  // The default has no floor.
  const auto z =
      experiment::load_experiment(dir.write("z.yaml", preset_yaml("hgx-h100x8", "{}", 10)), test::catalog(), {});
  runner::Simulation zsim(z, test::catalog());
  CHECK(zsim.instances()[0]->perf_model().decode_cost(1).floor == 0);

  // A GPU the 2023 leaderboard did not measure has no fit: the load names the key and the GPU.
  const auto h = experiment::load_experiment(
      dir.write("h.yaml", preset_yaml("hgx-h100x8", "{preset: fastchat-hf-2023}", 10)), test::catalog(), {});
  try {
    runner::Simulation hsim(h, test::catalog());
    FAIL("no error");
  } catch (const core::InputError& e) {
    const std::string m = e.what();
    CAPTURE(m);
    CHECK(m.find("h.yaml") != std::string::npos);
    CHECK(m.find("deployments[0].scheduler.host_time_per_layer") != std::string::npos);
    CHECK(m.find("h100-sxm") != std::string::npos);
  }
  CHECK_THROWS_AS(
      experiment::load_experiment(dir.write("b.yaml", preset_yaml("hgx-h100x8", "{host_time_per_layer: 2s}", 10)),
                                  test::catalog(), {}),
      core::InputError);
}

namespace {
struct Done final : serving::ServingObserver {
  unsigned signals() const override { return kRequests | kSteps; }
  // Steps (per iteration) at the floor and above it.
  void on_step(const serving::Instance& instance, const serving::StepRecord& step) override {
    const double per = core::to_seconds(step.end - step.start) / static_cast<double>(step.iterations);
    const double floor = instance.perf_model().decode_cost(1).floor;
    (per < floor * 1.001 ? at_floor : above) += 1;
  }
  int at_floor = 0, above = 0;
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    seen[r.spec.id] = {r.first_token, r.completion, r.instance};
  }
  struct Seen {
    core::SimTime first_token, completion;
    std::int32_t instance;
  };
  std::map<std::uint64_t, Seen> seen;
};
}  // namespace

TEST_CASE("preset fastchat-hf-2023: fast-forward equals stepping with the floor binding and not, energy too") {
  // On a V100: batch 1 is host-bound; batches of up to 48 under load are not at long contexts, so runs cross the
  // floor. Invariants are checked at every step.
  for (const int batch : {1, 48}) {
    const std::string scheduler = "{preset: fastchat-hf-2023, max_num_seqs: " + std::to_string(batch) + "}";
    CAPTURE(scheduler);
    std::map<std::uint64_t, Done::Seen> runs[2];
    double gpu_j[2], busy[2];
    for (int ff = 0; ff < 2; ++ff) {
      test::TempDir dir;
      const auto x = experiment::load_experiment(
          dir.write("x.yaml", preset_yaml("pcie-v100x8", scheduler, batch == 1 ? 300 : 1500,
                                          ff ? "engine: {check_invariants: true}\n"
                                             : "engine: {fast_forward: false, check_invariants: true}\n",
                                          batch == 1 ? 6 : 100)),
          test::catalog(), {});
      runner::Simulation sim(x, test::catalog());
      Done rec;
      sim.add_observer(&rec);
      sim.run();
      CHECK(sim.ledger().conservation_error() < 1e-9);
      gpu_j[ff] = sim.ledger().fleet_total().energy_gpu;
      busy[ff] = 0;
      for (double b : sim.ledger().slot_busy_gpu_seconds()) busy[ff] += b;
      runs[ff] = rec.seen;
      CHECK(rec.at_floor > 0);
      if (batch > 1) CHECK(rec.above > 0);  // runs cross the floor
    }
    REQUIRE(runs[0].size() == (batch == 1 ? 300 : 1500));
    REQUIRE(runs[1].size() == runs[0].size());
    for (const auto& [id, a] : runs[0]) {
      const auto& b = runs[1].at(id);
      CAPTURE(id);
      CHECK(a.first_token == b.first_token);
      CHECK(a.completion == b.completion);
      CHECK(a.instance == b.instance);
    }
    CHECK(gpu_j[1] == doctest::Approx(gpu_j[0]).epsilon(1e-9));
    CHECK(busy[1] == doctest::Approx(busy[0]).epsilon(1e-9));
  }
}

TEST_CASE("2023 power line in the ledger: a floored decode run priced by hand") {
  // One GPU (idle 50 W, prefill 300 W), line 70 + 400 u W, weights read in 5 ms; a 10-iteration decode run of
  // 0.5 s (50 ms a step, host-bound): u = 0.005 / 0.05 = 0.1, so 110 W and 55 J over the run.
  const auto ci = energy::CarbonSignal::constant(0);
  energy::ServerPower sp;
  sp.ci = &ci;
  sp.gpus = sp.gpus_in_instances = 1;
  sp.gpu_idle_w = 50, sp.gpu_prefill_w = 300, sp.gpu_decode_w = 999;  // the decode level is not used
  energy::CarbonLedger ledger({sp}, {{0, 1}}, core::kHour);
  ledger.set_line_2023(0, {70, 400, 0.005});
  serving::RequestPool pool;
  workload::RequestSpec spec;
  spec.prompt_tokens = 30, spec.output_tokens = 20;
  const std::uint32_t a = pool.acquire(spec);
  ledger.on_request_begin(a, pool[a]);
  core::Engine engine;
  spec::LlmModel m;
  m.layers = m.hidden_size = m.heads = m.kv_heads = m.head_dim = m.ffn_size = m.vocab_size = 1;
  spec::GpuSpec g;
  g.fp16_tflops = g.memory_bandwidth_gbps = g.link_bandwidth_gbps = 1;
  perf::RooflineModel roofline(m, g, 1, {});
  serving::Instance inst(0, {}, {}, 10, 100, &roofline, &engine, &pool, nullptr);
  perf::BatchShape shape;
  shape.decode_seqs = 1;
  const serving::BatchEntry entries[] = {{a, 0, 1, 31}};
  serving::StepRecord step;
  step.start = 0, step.end = core::kSecond / 2, step.iterations = 10;
  step.shape = &shape;
  step.busy_seconds = 0.1;  // the GPU's own work; the rest it waits on the host
  step.entries = entries;
  ledger.on_decode_begin(inst, a);
  ledger.on_step(inst, step);
  ledger.on_decode_end(inst, a);
  CHECK(ledger.request(a).energy_j == doctest::Approx(55.0));
  // With a quarter of the work prefill, that share is priced as elsewhere: idle on the time, prefill above idle
  // on the busy part.
  const double mixed = 0.75 * 55.0 + 0.25 * (50 * 0.5 + (300 - 50) * 0.1);
  step.start = core::kSecond, step.end = core::kSecond + core::kSecond / 2, step.prefill_share = 0.25;
  ledger.on_decode_begin(inst, a);
  ledger.on_step(inst, step);
  ledger.on_decode_end(inst, a);
  CHECK(ledger.request(a).energy_j == doctest::Approx(55.0 + mixed));
  ledger.on_request_done(a, pool[a]);
  ledger.finalize(2 * core::kSecond);
  CHECK(ledger.conservation_error() < 1e-12);
}

TEST_CASE("step timer: iterations done by t and the next end, with the floor binding, crossing and not") {
  // The count is the largest j with run_boundary(j) <= t, found with one test of the floor per call; the end of
  // iteration count + 1, where the search computed it, is exactly run_boundary(count + 1) (a cut uses it).
  // Steps of 11.9 ms growing to 13.3 ms; the two lines cross in the run (b2 4e-7) or not (3e-7).
  const double floors[] = {0.0, 0.011, 0.0125, 0.0128, 1.0};  // none, below, crossed by the run, throughout
  for (const double b2 : {4e-7, 3e-7})
    for (const double floor : floors) {
      CAPTURE(floor);
      CAPTURE(b2);
      perf::DecodeCost cost;
      cost.fixed = 0.001, cost.a1 = 0.008, cost.b1 = 2e-7, cost.a2 = 0.004, cost.b2 = b2, cost.floor = floor;
      perf::BatchShape shape;
      shape.decode_seqs = 16;
      shape.decode_ctx = 16 * 900;
      serving::StepTimer timer;
      timer.busy = true;
      timer.step_start = timer.run_start = 5 * core::kSecond;
      timer.begin_run(cost, shape, 400, 1);
      CHECK(timer.run_cost.has_floor() == (floor > 0));
      const core::SimTime end = timer.run_end();
      // Instants spread over the run, and either side of every boundary (where a guess is most often one off).
      std::vector<core::SimTime> times;
      for (core::SimTime t = timer.run_start + 1; t < end; t += (end - timer.run_start) / 997) times.push_back(t);
      for (std::int64_t j = 1; j < timer.run_iterations; ++j)
        times.insert(times.end(), {timer.run_boundary(j) - 1, timer.run_boundary(j)});
      int with_next = 0;
      for (const core::SimTime t : times) {
        const std::int64_t k = timer.completed_iterations_at(t);
        core::SimTime next = -1;
        CHECK(timer.completed_iterations_at(t, next) == k);
        CHECK(timer.run_boundary(k) <= t);
        if (k + 1 < timer.run_iterations) CHECK(timer.run_boundary(k + 1) > t);
        if (next >= 0) {
          ++with_next;
          CHECK(next == timer.run_boundary(k + 1));
        }
      }
      // One line without a floor (the common case) guesses within an iteration, so the search nearly always
      // computes it; elsewhere a wider bracket is searched and only some counts bring it.
      CHECK(with_next > (floor == 0 && b2 < 3.5e-7 ? 1700 : 40));
    }
}
