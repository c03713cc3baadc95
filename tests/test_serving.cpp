#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "instance_harness.hpp"
#include "sim/core/engine.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/runner/simulation.hpp"
#include "sim/serving/instance.hpp"
#include "test_support.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

struct Record {
  core::SimTime arrival, first_token, completion;
  int status;
  std::int32_t instance;
  std::int32_t preemptions;
  double energy_j = 0, operational_g = 0, embodied_g = 0;  // attributed by the carbon ledger, when there is one
};

// Collects every finished request and checks each instance's steps never run backwards or overlap.
struct Collector : serving::ServingObserver {
  std::map<std::uint64_t, Record> done;
  const energy::CarbonLedger* ledger = nullptr;  // per-request carbon, when set (attach after the ledger)
  std::map<const serving::Instance*, core::SimTime> last_end;
  void on_step(const serving::Instance& in, const serving::StepRecord& step) override {
    CHECK(step.start >= last_end[&in]);
    CHECK(step.end > step.start);
    CHECK(step.iterations >= 1);
    CHECK(step.busy_seconds >= 0);
    CHECK(step.busy_seconds <= core::to_seconds(step.end - step.start) + 1e-9);
    last_end[&in] = step.end;
  }
  void on_request_done(std::uint32_t slot, const serving::RequestState& r) override {
    const auto carbon = ledger ? ledger->request(slot) : energy::CarbonLedger::RequestCarbon{};
    done[r.spec.id] =
        Record{r.spec.arrival, r.first_token,   r.completion,         static_cast<int>(r.status), r.instance,
               r.preemptions,  carbon.energy_j, carbon.operational_g, carbon.embodied_g};
  }
};

using test::tiny_model;

workload::RequestSpec request_spec(std::uint64_t id, core::SimTime arrival, std::int32_t prompt,
                                   std::int32_t output,
                                   workload::RequestClass cls = workload::RequestClass::kOnline) {
  workload::RequestSpec s;
  s.id = id;
  s.arrival = arrival;
  s.prompt_tokens = prompt;
  s.output_tokens = output;
  s.cls = cls;
  return s;
}

// Delivers `specs` to one instance at their arrival times (in order), then runs the engine dry.
void run_arrivals(core::Engine& engine, serving::RequestPool& pool, serving::Instance& inst,
                  const std::vector<workload::RequestSpec>& specs) {
  test::drive(engine, pool, inst, specs);
}

}  // namespace

TEST_CASE("a recycled pool slot starts like a new one") {
  serving::RequestPool pool;
  workload::RequestSpec spec;
  spec.prompt_tokens = 100, spec.output_tokens = 10;
  const std::uint32_t a = pool.acquire(spec);
  serving::RequestState& r = pool[a];
  r.prefilled = 100, r.generated = 5, r.kv_blocks = 7, r.instance = 3, r.preemptions = 2, r.swapped = true;
  r.decoding = true;
  r.first_scheduled = 5, r.first_token = 6, r.completion = 7, r.status = serving::RequestStatus::kCompleted;
  pool.release(a);
  const serving::RequestState& n = pool[pool.acquire(spec)];
  const serving::RequestState fresh;
  CHECK(n.prefilled == fresh.prefilled);
  CHECK(n.prefill_target == spec.prompt_tokens);
  CHECK(n.generated == fresh.generated);
  CHECK(n.kv_blocks == fresh.kv_blocks);
  CHECK(n.instance == fresh.instance);
  CHECK(n.preemptions == fresh.preemptions);
  CHECK(n.swapped == fresh.swapped);
  CHECK(n.decoding == fresh.decoding);
  CHECK(n.first_scheduled == fresh.first_scheduled);
  CHECK(n.first_token == fresh.first_token);
  CHECK(n.completion == fresh.completion);
  CHECK(n.status == fresh.status);
}

TEST_CASE("golden: two requests on one GPU follow the roofline by hand") {
  // Model: P = 4,194,304 (attention) + 8,388,608 (MLP) + 1,024,000 (tied embedding) = 13,606,912 parameters.
  // FLOPs per token (layers) = 2 x 12,582,912 = 25,165,824; per logit = 2 x 1,024,000; attention 4,096 per
  // attended position; weights 27,213,824 bytes; KV 4,096 bytes per token. Compute wins every step below.
  const spec::LlmModel model = tiny_model();
  CHECK(model.parameters() == 13606912.0);
  const perf::RooflineModel roofline = test::tiny_roofline();

  core::Engine engine;
  serving::RequestPool pool;
  Collector obs;
  serving::SchedulerConfig cfg;
  serving::Instance inst(0, {}, cfg, 1000, 4096, &roofline, &engine, &pool, &obs);
  run_arrivals(engine, pool, inst,
               {request_spec(0, 0, 100, 3), request_spec(1, 1'000'000, 50, 2)});  // A at 0 s; B at 1 ms

  // Step 1 [0, 3,539,315]: A's 100-token prefill. FLOPs 25,165,824x100 + 2,048,000 + 4,096x5,050 =
  //   2,539,315,200 -> 2.5393152 ms + 1 ms overhead.
  // Step 2 [.., 5,832,504]: A decodes (context 101) while B's 50-token prefill runs (attention 1,275):
  //   25,165,824x51 + 2,048,000x2 + 4,096x1,376 = 1,293,189,120 -> 2.29318912 ms + 1 ms.
  // Step 3 [.., 6,887,558]: both decode (context 102 + 51): 25,165,824x2 + 2,048,000x2 + 4,096x153 =
  //   55,054,336 -> 0.055054336 ms + 1 ms. Both finish.
  REQUIRE(obs.done.size() == 2);
  const Record& a = obs.done.at(0);
  const Record& b = obs.done.at(1);
  CHECK(a.first_token == 3'539'315);
  CHECK(b.first_token == 5'832'504);
  CHECK(a.completion == 6'887'558);
  CHECK(b.completion == 6'887'558);
  CHECK(b.first_token - b.arrival == 4'832'504);  // B's TTFT includes waiting for step 1
  CHECK(inst.stats().iterations == 3);
  CHECK(inst.stats().prefill_tokens == 150);
  CHECK(inst.stats().decode_tokens == 5);
  CHECK(inst.kv_blocks_free() == 1000);
}

TEST_CASE("golden: decode steps that emit three tokens per sequence, by hand") {
  // The first request of the golden above, with every decode step emitting 3 tokens per sequence (a known count,
  // as speculative decoding under expected acceptance gives). The prefill step ends at 3,539,315 ns with the first
  // token; the other 9 take 3 iterations, at contexts 101, 104 and 107, of 27,213,824 + 4,096 x context ps
  // each (compute and memory coincide on this hardware) plus 1 ms: 82,919,424 ps + 3 ms = 3,082,919.424 ns,
  // rounded once for the run (fast-forward) or for the stretch of decode steps (stepping).
  const perf::RooflineModel roofline = test::tiny_roofline();
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    core::Engine engine;
    serving::RequestPool pool;
    Collector obs;
    serving::SchedulerConfig cfg;
    cfg.fast_forward = fast_forward;
    cfg.check_invariants = true;
    serving::Instance inst(0, {}, cfg, 1000, 4096, &roofline, &engine, &pool, &obs);
    inst.set_tokens_per_step(3);
    run_arrivals(engine, pool, inst, {request_spec(0, 0, 100, 10)});
    REQUIRE(obs.done.size() == 1);
    CHECK(obs.done.at(0).first_token == 3'539'315);
    CHECK(obs.done.at(0).completion == 3'539'315 + 3'082'919);
    CHECK(inst.stats().iterations == 4);
    CHECK(inst.stats().decode_tokens == 10);
    CHECK(inst.kv_blocks_free() == 1000);
  }
}

namespace {

// vLLM v0's scheduling without chunked prefill (prefill-only steps), invariants checked every step.
serving::SchedulerConfig prefill_only_steps(bool fast_forward) {
  serving::SchedulerConfig cfg;
  cfg.chunked_prefill = false;
  cfg.prefill_steps = serving::PrefillSteps::kSeparate;
  cfg.fast_forward = fast_forward;
  cfg.check_invariants = true;
  return cfg;
}

}  // namespace

TEST_CASE("golden: a prefill-only step runs ahead of the decodes, by hand (prefill_steps: separate)") {
  // The two requests of the golden above with chunked prefill off and vLLM v0's prefill-only steps: B's prompt,
  // waiting when A's prefill ends, runs in a step of its own while A's decode waits.
  // Step 1 [0, 3,539,315]: A's 100-token prefill, as above.
  // Step 2 [.., 5,804,877]: B's 50-token prefill alone: 25,165,824x50 + 2,048,000 + 4,096x1,275 = 1,265,561,600
  //   -> 1.2655616 ms + 1 ms = 2,265,561.6 ns. B's first token.
  // Step 3 [.., 6,859,927]: both decode (contexts 101 + 51): 25,165,824x2 + 2,048,000x2 + 4,096x152 = 55,050,240
  //   -> 1,055,050.24 ns. B is done (2 tokens).
  // Step 4 [.., 7,887,559]: A decodes alone (context 102; compute and memory coincide): 27,213,824 + 4,096x102 =
  //   27,631,616 -> 1,027,631.616 ns. A is done.
  const perf::RooflineModel roofline = test::tiny_roofline();
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    core::Engine engine;
    serving::RequestPool pool;
    Collector obs;
    const serving::SchedulerConfig cfg = prefill_only_steps(fast_forward);
    serving::Instance inst(0, {}, cfg, 1000, 4096, &roofline, &engine, &pool, &obs);
    run_arrivals(engine, pool, inst, {request_spec(0, 0, 100, 3), request_spec(1, 1'000'000, 50, 2)});
    REQUIRE(obs.done.size() == 2);
    const Record& a = obs.done.at(0);
    const Record& b = obs.done.at(1);
    CHECK(a.first_token == 3'539'315);
    CHECK(b.first_token == 5'804'877);  // mixed steps: 5,832,504 (B's prefill shares step 2 with A's decode)
    CHECK(b.completion == 6'859'927);
    CHECK(a.completion == 7'887'559);  // mixed steps: 6,887,558
    CHECK(inst.stats().iterations == 4);
    CHECK(inst.stats().prefill_tokens == 150);
    CHECK(inst.stats().decode_tokens == 5);
    CHECK(inst.kv_blocks_free() == 1000);
  }
}

namespace {

// Each step's prefill and decode sequences, iterations and tokens per decode, in order.
struct StepShapes : serving::ServingObserver {
  struct Shape {
    std::int32_t prefills, decodes;
    std::int64_t iterations;
    std::int32_t tokens_per_step;
  };
  std::vector<Shape> steps;
  void on_step(const serving::Instance&, const serving::StepRecord& s) override {
    steps.push_back({s.shape->prefill_seqs, s.shape->decode_seqs, s.iterations, s.tokens_per_step});
  }
};

}  // namespace

TEST_CASE("prefill-only steps follow vLLM v0: prompts alone under the whole budget, running sequences count") {
  // A decodes when B, C and D (60-token prompts) are waiting; budget 128 tokens, at most 3 sequences. vLLM v0
  // (`Scheduler._schedule_default`) admits waiting prompts under the whole token budget with the running
  // sequences counted against max_num_seqs, and schedules no decode in that step: B and C run alone (D would
  // pass the budget and the sequence cap), then A, B and C decode; D waits for a free sequence slot.
  const perf::RooflineModel roofline = test::tiny_roofline();
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    core::Engine engine;
    serving::RequestPool pool;
    StepShapes obs;
    serving::SchedulerConfig cfg = prefill_only_steps(fast_forward);
    cfg.max_batched_tokens = 128;
    cfg.max_num_seqs = 3;
    serving::Instance inst(0, {}, cfg, 1000, 4096, &roofline, &engine, &pool, &obs);
    run_arrivals(engine, pool, inst,
                 {request_spec(0, 0, 100, 4), request_spec(1, 1'000'000, 60, 3), request_spec(2, 1'000'000, 60, 3),
                  request_spec(3, 1'000'000, 60, 3)});
    // Stepping and fast-forward fold decode steps differently; compare the steps up to D's prefill.
    REQUIRE(obs.steps.size() >= 4);
    CHECK(obs.steps[0].prefills == 1);  // A
    CHECK(obs.steps[0].decodes == 0);
    CHECK(obs.steps[1].prefills == 2);  // B and C alone; A waits
    CHECK(obs.steps[1].decodes == 0);
    CHECK(obs.steps[1].tokens_per_step == 0);  // A's decode sits it out
    CHECK(obs.steps[2].prefills == 0);         // A, B and C decode
    CHECK(obs.steps[2].decodes == 3);
    // D joins once B and C are done (3 tokens: after two decode iterations), in a step of its own.
    std::size_t d = 3;
    while (d < obs.steps.size() && obs.steps[d].prefills == 0) ++d;
    REQUIRE(d < obs.steps.size());
    CHECK(obs.steps[d].prefills == 1);
    CHECK(obs.steps[d].decodes == 0);
    CHECK(inst.stats().completed == 4);
    CHECK(inst.stats().iterations == 7);  // A; B+C; two of A+B+C; D (A waits); A+D (A done); D
    CHECK(inst.kv_blocks_free() == 1000);
  }
}

namespace {

// What routers and reports see of one instance, sampled every `every` ns, and how its requests ended.
struct Trajectory {
  std::vector<std::int64_t> outstanding, free_blocks;
  std::map<std::uint64_t, Record> done;
  serving::InstanceStats stats;
  std::uint64_t events = 0;
  std::int64_t free_after = 0;  // once everything is abandoned: all of it
};

// One instance on the hand-sized GPU, fed `specs`, sampled on a grid, run to `until` and then abandoned (as a
// horizon without drain does).
Trajectory trajectory(bool fast_forward, std::int64_t kv_blocks, const std::vector<workload::RequestSpec>& specs,
                      core::SimTime every, core::SimTime until) {
  const perf::RooflineModel roofline = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  Collector obs;
  serving::SchedulerConfig cfg;
  cfg.kv_block_size = 4;
  cfg.max_batched_tokens = 64;
  cfg.fast_forward = fast_forward;
  cfg.check_invariants = true;
  serving::Instance inst(0, {}, cfg, kv_blocks, 4096, &roofline, &engine, &pool, &obs);
  Trajectory t;
  std::vector<test::ProbeAt> probes;
  for (core::SimTime at = every; at < until; at += every) probes.push_back({at, core::kPriorityTick});
  test::LoadSamples samples = test::drive(engine, pool, inst, specs, probes, until);
  t.outstanding = std::move(samples.outstanding);
  t.free_blocks = std::move(samples.free_blocks);
  t.free_after = inst.kv_blocks_free();
  t.done = obs.done;
  t.stats = inst.stats();
  t.events = engine.events_dispatched();
  return t;
}

void check_same_trajectory(std::int64_t kv_blocks, const std::vector<workload::RequestSpec>& specs,
                           core::SimTime until) {
  const Trajectory ff = trajectory(true, kv_blocks, specs, 97'000, until);
  const Trajectory ref = trajectory(false, kv_blocks, specs, 97'000, until);
  CHECK(ff.outstanding == ref.outstanding);
  CHECK(ff.free_blocks == ref.free_blocks);
  REQUIRE(ff.done.size() == ref.done.size());
  for (const auto& [id, r] : ref.done) {
    CAPTURE(id);
    const Record& f = ff.done.at(id);
    CHECK(f.status == r.status);
    CHECK(f.preemptions == r.preemptions);
    CHECK(f.first_token == r.first_token);
    CHECK(f.completion == r.completion);
  }
  CHECK(ff.stats.iterations == ref.stats.iterations);
  CHECK(ff.stats.prefill_tokens == ref.stats.prefill_tokens);
  CHECK(ff.stats.decode_tokens == ref.stats.decode_tokens);
  CHECK(ff.stats.preemptions == ref.stats.preemptions);
  CHECK(ff.stats.batch_size_iterations == ref.stats.batch_size_iterations);
  CHECK(ff.stats.busy_time == ref.stats.busy_time);
  CHECK(ff.events <= ref.events);
  if (until > 100'000'000) CHECK(ff.events < ref.events);
  CHECK(ff.free_after == kv_blocks);
  CHECK(ref.free_after == kv_blocks);
}

}  // namespace

TEST_CASE("a prefill step and the decode run after it share one event, exactly") {
  // Step times here are about 1-3 ms; arrivals land in prefill steps (joining at their end, or not admissible
  // for want of KV), inside runs, and on nothing; sampled every 97 us, the load signals must match stepping.
  std::vector<workload::RequestSpec> specs;
  const core::SimTime at[] = {0, 1'000'000, 9'000'000, 9'500'000, 30'000'000, 31'200'000, 32'000'000, 60'000'000};
  const std::int32_t prompt[] = {40, 30, 20, 90, 10, 60, 25, 33};
  const std::int32_t output[] = {12, 20, 2, 15, 30, 9, 17, 1};
  for (std::uint64_t i = 0; i < 8; ++i) specs.push_back(request_spec(i, at[i], prompt[i], output[i]));
  SUBCASE("plenty of KV, drained") { check_same_trajectory(1000, specs, 200'000'000); }
  SUBCASE("tight KV: arrivals wait and runs stop at block shortages") {
    check_same_trajectory(40, specs, 200'000'000);
  }
  // Horizons inside a prefill step with a folded run, inside the run, and exactly at the ends of prefill steps
  // (the first tokens).
  std::vector<core::SimTime> horizons = {31'000'000, 33'000'000, 34'000'000, 45'000'000, 61'000'000};
  for (const auto& [id, r] : trajectory(true, 1000, specs, 97'000, 200'000'000).done)
    horizons.push_back(r.first_token);
  for (const core::SimTime until : horizons) {
    CAPTURE(until);
    check_same_trajectory(1000, specs, until);
  }
}

TEST_CASE("golden: KV exhaustion preempts the newest request, which recomputes later") {
  // Same hand-sized hardware; 5 KV blocks of 4 tokens. With this model and 1 TFLOP/s, 1 TB/s, a decode step's
  // compute and memory times coincide: 27,213,824 + 4,096 x context picoseconds, plus 1 ms overhead.
  const perf::RooflineModel roofline = test::tiny_roofline();
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    core::Engine engine;
    serving::RequestPool pool;
    Collector obs;
    serving::SchedulerConfig cfg;
    cfg.kv_block_size = 4;
    cfg.fast_forward = fast_forward;
    serving::Instance inst(0, {}, cfg, 5, 4096, &roofline, &engine, &pool, &obs);
    run_arrivals(engine, pool, inst, {request_spec(0, 0, 8, 6), request_spec(1, 0, 8, 6)});
    // 1 [0, 1,203,522]: A prefills 8 (2 blocks): 203,522,048 FLOP -> 0.203522 ms + 1 ms.
    // 2 [.., 2,434,295]: A decodes (3rd block), B prefills 8 (2 blocks, cache now full): 230,772,736 FLOP.
    // 3 [.., 3,461,550]: B needs a 3rd block for its next token and none is free: B (newest) is preempted,
    //   nothing is admitted this step; A decodes at context 10: 1.027254784 ms.
    // 4 [.., 6,543,339]: B would need 3 blocks to recompute 9 tokens, only 2 free; A decodes 3 tokens
    //   (contexts 11-13, a 4th block) in one fast-forwarded run and completes.
    // 5 [.., 7,772,064]: B re-admitted, recomputes prompt + 1 output token (9 tokens, attention 45): 1.228725 ms.
    // 6 [.., 11,881,108]: B decodes its last 4 tokens (contexts 10-13).
    REQUIRE(obs.done.size() == 2);
    const Record& a = obs.done.at(0);
    const Record& b = obs.done.at(1);
    CHECK(a.first_token == 1'203'522);
    CHECK(a.completion == 6'543'339);
    CHECK(a.preemptions == 0);
    CHECK(b.first_token == 2'434'295);
    CHECK(b.completion == 11'881'108);
    CHECK(b.preemptions == 1);
    CHECK(inst.stats().preemptions == 1);
    CHECK(inst.stats().prefill_tokens == 8 + 8 + 9);
    CHECK(inst.stats().decode_tokens == 12);
    CHECK(inst.stats().iterations == 11);
    CHECK(inst.stats().steps == (fast_forward ? 6u : 11u));
    CHECK(inst.kv_blocks_free() == 5);
  }
}

namespace {

std::string scenario_yaml(const std::string& workload, const std::string& scheduler, int servers,
                          const std::string& sku = "hgx-h100x8") {
  return "name: ff\nseed: 11\nsites: [{name: s, carbon_intensity: 261}]\n"
         "deployments:\n  - name: d\n    model: llama-3.1-8b\n    scheduler: " +
         scheduler +
         "\n"
         "fleet: [{site: s, sku: " +
         sku + ", count: " + std::to_string(servers) +
         "}]\n"
         "router: {name: least_outstanding_tokens}\n"
         "workload:\n  source: synthetic\n  synthetic: " +
         workload + "\n";
}

std::map<std::uint64_t, Record> simulate(const std::string& yaml, std::vector<std::string> overrides,
                                         std::uint64_t* events = nullptr, std::uint64_t* preemptions = nullptr) {
  test::TempDir dir;
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), o);
  runner::Simulation sim(x, test::catalog());
  Collector c;
  c.ledger = &sim.ledger();
  sim.add_observer(&c);
  sim.run();
  // Per-request carbon (prefill chunks paid per step, decodes settled when they stop) plus idle adds up to the
  // fleet totals, also through preemptions and swaps.
  CHECK(sim.ledger().conservation_error() < 1e-9);
  if (events) *events = sim.engine().events_dispatched();
  if (preemptions) {
    *preemptions = 0;
    for (const auto& in : sim.instances()) *preemptions += in->stats().preemptions;
  }
  return c.done;
}

// Returns the number of preemptions, so scenarios can show they exercised them.
std::uint64_t check_equivalent(const std::string& yaml) {
  std::uint64_t ff_events = 0, ref_events = 0, ff_preempt = 0, ref_preempt = 0;
  const auto ff = simulate(yaml, {"engine.check_invariants=true"}, &ff_events, &ff_preempt);
  const auto ref =
      simulate(yaml, {"engine.fast_forward=false", "engine.check_invariants=true"}, &ref_events, &ref_preempt);
  CHECK(ff_preempt == ref_preempt);
  REQUIRE(ff.size() == ref.size());
  std::int64_t worst = 0;
  for (const auto& [id, r] : ref) {
    const Record& f = ff.at(id);
    CHECK(f.status == r.status);
    CHECK(f.instance == r.instance);
    CHECK(f.preemptions == r.preemptions);
    // Both modes round a run's summed time once (stepping sums the steps' own prices), so they agree to the
    // nanosecond unless the two sums, in doubles, straddle a half nanosecond.
    worst = std::max({worst, std::abs(f.first_token - r.first_token), std::abs(f.completion - r.completion)});
    // Every decode of a run takes part in all its iterations, and power is linear in time and busy time, so a
    // request's carbon is the same whether the run is priced whole (and settled when the request stops
    // decoding) or step by step.
    CHECK(f.energy_j == doctest::Approx(r.energy_j).epsilon(1e-6));
    CHECK(f.operational_g == doctest::Approx(r.operational_g).epsilon(1e-6));
    CHECK(f.embodied_g == doctest::Approx(r.embodied_g).epsilon(1e-6));
  }
  MESSAGE("fast-forward events " << ff_events << " vs reference " << ref_events << ", worst difference " << worst
                                 << " ns");
  CHECK(ff_events < ref_events);
  CHECK(worst <= 2);  // 0 in every scenario here; a run's time straddling a half nanosecond could give 1
  return ref_preempt;
}

}  // namespace

TEST_CASE("fast-forward equals stepping: light load") {
  check_equivalent(scenario_yaml(
      "{requests: 400, rate: 2, prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.8, max: 4000}, "
      "output_tokens: {distribution: lognormal, mean: 150, sigma: 0.8, max: 1000}}",
      "{}", 1));
}

TEST_CASE("fast-forward equals stepping: overload with preemption") {
  const auto preemptions = check_equivalent(scenario_yaml(
      "{requests: 1500, rate: 300, prompt_tokens: {distribution: lognormal, mean: 1500, sigma: 0.6, max: 8000}, "
      "output_tokens: {distribution: lognormal, mean: 300, sigma: 0.7, max: 2000}}",
      "{max_num_seqs: 128}", 1, "pcie-l4x8"));
  CHECK(preemptions > 0);
}

TEST_CASE("fast-forward equals stepping: overload with swap preemption and reserve allocation") {
  const std::string w =
      "{requests: 1000, rate: 300, prompt_tokens: {distribution: lognormal, mean: 1500, sigma: 0.6, max: 8000}, "
      "output_tokens: {distribution: lognormal, mean: 300, sigma: 0.7, max: 2000}}";
  CHECK(check_equivalent(scenario_yaml(w, "{preemption: swap}", 1, "pcie-l4x8")) > 0);
  CHECK(check_equivalent(scenario_yaml(w, "{kv_allocation: reserve, max_num_seqs: 48}", 1, "pcie-l4x8")) == 0);
}

TEST_CASE("fast-forward equals stepping: chunked prefill of long prompts") {
  check_equivalent(
      scenario_yaml("{requests: 300, rate: 8, prompt_tokens: {distribution: uniform, min: 8000, max: 30000}, "
                    "output_tokens: {distribution: lognormal, mean: 200, sigma: 0.5, max: 1000}}",
                    "{max_batched_tokens: 512}", 1));
}

TEST_CASE("fast-forward equals stepping: no chunked prefill") {
  check_equivalent(scenario_yaml(
      "{requests: 600, rate: 20, prompt_tokens: {distribution: empirical, values: [10, 100, 1000, 3000]}, "
      "output_tokens: {distribution: empirical, values: [1, 2, 50, 400]}}",
      "{chunked_prefill: false, max_batched_tokens: 2048}", 1));
}

TEST_CASE("fast-forward equals stepping: GPU steps slowed only while the host's CPU instances step") {
  // Three CPU instances beside the GPUs take a share of the requests: each time the first of them starts stepping
  // or the last one stops, the GPU instances' runs are cut at their next iteration boundary (docs/CPU_MODEL.md).
  const auto yaml = [](const std::string& synthetic, double cpu_share) {
    return "name: ff\nseed: 7\nsites: [{name: s, carbon_intensity: 261}]\n"
           "deployments:\n  - {name: gpu, model: llama-3.1-8b}\n"
           "  - {name: cpu, model: llama-3.1-8b, scheduler: {max_num_seqs: 8}}\n"
           "fleet: [{site: s, sku: hgx-h100x8, deployment: gpu,\n"
           "         cpu_instances: {count: 3, deployment: cpu, interference_slowdown: 0.25}}]\n"
           "router: {name: least_outstanding_tokens}\n"
           "workload:\n  source: synthetic\n  synthetic: " +
           synthetic +
           "\n  classes:\n    - {name: chat, deployment: gpu, share: " + std::to_string(1 - cpu_share) +
           "}\n    - {name: batch, deployment: cpu, share: " + std::to_string(cpu_share) + "}\n";
  };
  check_equivalent(
      yaml("{requests: 500, rate: 12, prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.8, "
           "max: 4000}, output_tokens: {distribution: lognormal, mean: 150, sigma: 0.8, max: 1000}}",
           0.15));
  // Mostly short outputs and 5% on the CPUs: the CPU instances fall idle and start again 28 times, cutting the GPU
  // instances' runs 117 times in fast-forward (counted once by instrumenting the cut, 2026-12-06).
  check_equivalent(
      yaml("{requests: 2000, rate: 10, prompt_tokens: {distribution: lognormal, mean: 300, sigma: 0.8, "
           "max: 4000}, output_tokens: {distribution: empirical, values: [1, 1, 2, 2, 3, 40, 400]}}",
           0.05));
}

TEST_CASE("fast-forward equals stepping: prefill-only steps (vLLM v0 without chunked prefill)") {
  const std::string w =
      "{requests: 600, rate: 20, prompt_tokens: {distribution: empirical, values: [10, 100, 1000, 3000]}, "
      "output_tokens: {distribution: empirical, values: [1, 2, 50, 400]}}";
  check_equivalent(
      scenario_yaml(w, "{chunked_prefill: false, max_batched_tokens: 2048, prefill_steps: separate}", 1));
  check_equivalent(scenario_yaml(w, "{preset: vllm-v0}", 1));
  // Under memory pressure: preemption by recompute and by swap (a swapped request comes back in a decode step).
  const std::string overload =
      "{requests: 1000, rate: 300, prompt_tokens: {distribution: lognormal, mean: 1500, sigma: 0.6, max: 8000}, "
      "output_tokens: {distribution: lognormal, mean: 300, sigma: 0.7, max: 2000}}";
  CHECK(check_equivalent(scenario_yaml(overload, "{preset: vllm-v0, max_num_seqs: 128}", 1, "pcie-l4x8")) > 0);
  CHECK(check_equivalent(scenario_yaml(overload, "{preset: vllm-v0, preemption: swap}", 1, "pcie-l4x8")) > 0);
  // Online and offline queues.
  CHECK(check_equivalent(scenario_yaml(overload, "{preset: vllm-v0}", 1, "pcie-l4x8") +
                         "  offline: {share: 0.4, deadline: 1h}\n") > 0);
}

TEST_CASE("same seed and config give identical results; another seed does not") {
  const std::string yaml = scenario_yaml(
      "{requests: 2000, rate: 50, arrivals: gamma, cv: 3, prompt_tokens: {distribution: lognormal, mean: 800, "
      "sigma: 1, "
      "max: 8000}, output_tokens: {distribution: lognormal, mean: 150, sigma: 1, max: 2000}}",
      "{}", 1);
  const auto a = simulate(yaml, {});
  const auto b = simulate(yaml, {});
  REQUIRE(a.size() == 2000);
  bool same = true;
  for (const auto& [id, r] : a) {
    const Record& s = b.at(id);
    same &= r.first_token == s.first_token && r.completion == s.completion && r.instance == s.instance;
  }
  CHECK(same);
  const auto c = simulate(yaml, {"seed=12"});
  bool differs = false;
  for (const auto& [id, r] : a) differs |= c.count(id) && c.at(id).completion != r.completion;
  CHECK(differs);
}

TEST_CASE("every arrival is reported: completed, rejected or unfinished") {
  // Prompts longer than the model's context are rejected; a horizon without drain leaves some unfinished.
  const std::string yaml = scenario_yaml(
      "{requests: 500, rate: 100, prompt_tokens: {distribution: empirical, values: [100, 200000], max: 200000}, "
      "output_tokens: {distribution: constant, value: 100}}",
      "{}", 1);
  const auto all = simulate(yaml, {"horizon=3s", "drain=false"});
  // The arrivals, counted independently of the simulator: the same synthetic stream, drawn here, up to the
  // horizon.
  test::TempDir dir;
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  workload::SyntheticSource source(x.workload.synthetic, x.seed);
  std::uint64_t arrived = 0;
  for (workload::RequestSpec s; source.next(s) && s.arrival < 3 * core::kSecond;) ++arrived;
  CHECK(arrived >= 250);                      // ~300 arrive in the first 3 s
  REQUIRE(all.size() == arrived);             // one row per arrival, none lost, none twice (ids are keys)
  CHECK(all.rbegin()->first == arrived - 1);  // ids 0 .. arrived - 1
  int completed = 0, rejected = 0, unfinished = 0;
  for (const auto& [id, r] : all) {
    completed += r.status == 0;
    unfinished += r.status == 1;
    rejected += r.status == 2;
  }
  CHECK(completed + rejected + unfinished == static_cast<int>(arrived));  // every status is one of the three
  CHECK(rejected > 0);
  CHECK(unfinished > 0);
  CHECK(completed > 0);
}

TEST_CASE("the Azure conv trace runs end to end") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  experiment::LoadOptions o;
  o.data_dir = data;
  const experiment::Experiment x = experiment::load_experiment(
      std::string(GREENFLEET_SOURCE_DIR) + "/experiments/azure_conv_2023.yaml", test::catalog(), o);
  runner::Simulation sim(x, test::catalog());
  sim.run();
  CHECK(sim.arrived() == 19366);
  CHECK(sim.metrics().completed() + sim.metrics().rejected() == 19366);
  CHECK(sim.metrics().ttft().quantile(0.5) > 0);
}

TEST_CASE("fast-forward equals stepping: mixed online and offline under memory pressure") {
  const std::string yaml = scenario_yaml(
                               "{requests: 1500, rate: 200, prompt_tokens: {distribution: lognormal, mean: 1200, "
                               "sigma: 0.7, max: 8000}, "
                               "output_tokens: {distribution: lognormal, mean: 250, sigma: 0.8, max: 2000}}",
                               "{}", 1, "pcie-l4x8") +
                           "  offline: {share: 0.4, deadline: 1h}\n";
  CHECK(check_equivalent(yaml) > 0);
}

TEST_CASE("fast-forward equals stepping: the Mooncake conversation trace (long prompts, chunked prefill)") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  // The first 1500 requests of the real trace on one 8x H100 server with a small token budget.
  const std::string yaml =
      "name: mc\nseed: 1\nsites: [{name: s, carbon_intensity: 261}]\n"
      "deployments:\n  - {name: d, model: llama-3.1-70b, tensor_parallel: 4, "
      "scheduler: {max_batched_tokens: 1024}}\n"
      "fleet: [{site: s, sku: hgx-h100x8, count: 1}]\n"
      "workload: {source: mooncake_jsonl, file: " +
      data + "/traces/mooncake/conversation_trace.jsonl, max_requests: 1500}\n";
  check_equivalent(yaml);
}

TEST_CASE("offline requests yield to online ones") {
  // Under overload, online requests see shorter queueing than offline ones on the same instances.
  const std::string yaml = scenario_yaml(
                               "{requests: 3000, rate: 150, prompt_tokens: {distribution: constant, value: 1000}, "
                               "output_tokens: {distribution: constant, value: 200}}",
                               "{max_num_seqs: 32}", 1) +
                           "  offline: {share: 0.5, deadline: 24h}\n";
  test::TempDir dir;
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  struct QueueByClass : serving::ServingObserver {
    double sum[2] = {0, 0};
    int n[2] = {0, 0};
    void on_request_done(std::uint32_t, const serving::RequestState& r) override {
      const int c = static_cast<int>(r.spec.cls);
      sum[c] += core::to_seconds(r.first_scheduled - r.spec.arrival);
      ++n[c];
    }
  } q;
  sim.add_observer(&q);
  sim.run();
  REQUIRE(q.n[0] > 1000);
  REQUIRE(q.n[1] > 1000);
  CHECK(q.sum[0] / q.n[0] < 0.5 * (q.sum[1] / q.n[1]));
}

TEST_CASE("regression: a request preempted during its recompute still recomputes everything it produced") {
  // The quick start overloaded on L4s with a small token budget: recompute prefills span several steps and get
  // preempted again (this found the bug). check_invariants verifies KV blocks and token counts at every step.
  std::ifstream in(std::string(GREENFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml");
  std::string yaml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<std::string> overrides = {
      "fleet.0.sku=pcie-l4x8", "deployments.0.scheduler.max_batched_tokens=256", "workload.synthetic.rate=300",
      "workload.synthetic.requests=3000", "output.path=/dev/null"};
  for (bool ff : {true, false}) {
    std::vector<std::string> o = overrides;
    o.push_back("engine.check_invariants=true");
    o.push_back(ff ? "engine.fast_forward=true" : "engine.fast_forward=false");
    std::uint64_t preemptions = 0;
    CHECK_NOTHROW(simulate(yaml, o, nullptr, &preemptions));
    CHECK(preemptions > 100);
  }
}

TEST_CASE("a horizon without drain books the step in flight in both modes") {
  const std::string yaml = scenario_yaml(
                               "{requests: 200, rate: 8, prompt_tokens: {distribution: constant, value: 600}, "
                               "output_tokens: {distribution: constant, value: 2000}}",
                               "{}", 1) +
                           "horizon: 10s\ndrain: false\n";
  double busy[2] = {0, 0}, energy[2] = {0, 0};
  for (int ff = 0; ff < 2; ++ff) {
    test::TempDir dir;
    experiment::LoadOptions o;
    o.overrides = {ff ? "engine.fast_forward=true" : "engine.fast_forward=false"};
    const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), o);
    runner::Simulation sim(x, test::catalog());
    sim.run();
    for (const auto& in : sim.instances()) busy[ff] += core::to_seconds(in->stats().busy_time);
    energy[ff] = sim.ledger().fleet_total().energy();
    CHECK(sim.ledger().conservation_error() < 1e-9);
  }
  CHECK(busy[1] == doctest::Approx(busy[0]).epsilon(1e-6));
  // A cut-short run's devices are busy as stepping books them, so energy agrees to rounding, fleet-wide and
  // per request (check_equivalent compares each unfinished request's energy and carbon too).
  CHECK(energy[1] == doctest::Approx(energy[0]).epsilon(1e-9));
  check_equivalent(yaml);
}
