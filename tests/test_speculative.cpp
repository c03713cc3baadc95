// Speculative decoding across devices through the whole simulation: one request's rounds, step times and GPU
// energy on both devices by hand, fast-forward against stepping under load (expected and sampled acceptance,
// beside split and whole requests), conservation, the ledger's accrual of verifying requests' charges, and the
// load errors of bad speculative configurations.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

struct Seen {
  core::SimTime first_token, completion;
  std::int32_t instance, status, mode, draft;
};

struct Recorder final : serving::ServingObserver {
  std::map<std::uint64_t, Seen> done;
  struct Step {
    std::int32_t instance;
    core::SimTime start, end;
    double busy, prefill_share;
    std::int64_t prefill_tokens;
    std::int32_t seqs;
  };
  std::vector<Step> steps;
  unsigned signals() const override { return kRequests | kSteps; }
  void on_step(const serving::Instance& in, const serving::StepRecord& s) override {
    steps.push_back({in.id(), s.start, s.end, s.busy_seconds, s.prefill_share, s.shape->prefill_tokens,
                     s.shape->prefill_seqs + s.shape->decode_seqs});
  }
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    done[r.spec.id] = Seen{r.first_token,
                           r.completion,
                           r.instance,
                           static_cast<std::int32_t>(r.status),
                           static_cast<std::int32_t>(r.mode),
                           r.decode_instance};
  }
};

// One A100 serving Llama-2-7B (the target), one T4 running TinyLlama-1.1B (its draft), one site; `modes` and the
// mode router as given.
std::string experiment_yaml(const std::string& workload, const std::string& speculative,
                            const std::string& extra = "") {
  return "name: spec\nseed: 7\nsites:\n  - {name: dc, pue: 1.2, carbon_intensity: 300}\n"
         "deployments:\n  - {name: new, model: llama-2-7b, modes: {speculative: " +
         speculative +
         "}}\n"
         "  - {name: draft, model: tinyllama-1.1b}\n"
         "fleet:\n  - {site: dc, sku: azure-nc24ads-a100-v4, count: 1, deployment: new}\n"
         "  - {site: dc, sku: azure-nc4as-t4-v3, count: 1, deployment: draft, gpu_embodied: sunk}\n"
         "network: {tor_switch: greensku-rack}\nrouter: {name: round_robin}\n"
         "mode_router: {name: always_speculative}\n" +
         workload + extra;
}

const std::string kOneRequest =
    "workload: {source: synthetic, deployment: new, synthetic: {requests: 1, rate: 1, prompt_tokens: "
    "{distribution: constant, value: 500}, output_tokens: {distribution: constant, value: 20}}}\n";

// The ledger tests' server: two GPUs (idle 100 W, prefill 400 W, decode 200 W), host 50 W, at `ci`.
energy::ServerPower two_gpu_server(const energy::CarbonSignal& ci) {
  energy::ServerPower sp;
  sp.ci = &ci;
  sp.gpus = sp.gpus_in_instances = 2;
  sp.gpu_idle_w = 100, sp.gpu_prefill_w = 400, sp.gpu_decode_w = 200;
  sp.host_static_w = 50;
  return sp;
}

perf::BatchShape chunk(std::int64_t n, std::int64_t past) {
  perf::BatchShape s;
  s.prefill_tokens = n;
  s.prefill_seqs = s.prefill_final_chunks = 1;
  s.prefill_attn_ctx = static_cast<double>(n * past) + static_cast<double>(n * (n + 1)) / 2;
  s.prefill_kv_tokens = past + n;
  return s;
}

}  // namespace

TEST_CASE("a speculative request by hand: tokens per round, step times and energy on both devices") {
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    test::TempDir dir;
    const auto x = experiment::load_experiment(
        dir.write("x.yaml", experiment_yaml(kOneRequest, "{draft: draft, gamma: 4, acceptance: 0.5}",
                                            fast_forward ? "" : "engine: {fast_forward: false}\n")),
        test::catalog(), {});
    runner::Simulation sim(x, test::catalog());
    Recorder rec;
    sim.add_observer(&rec);
    sim.run();
    REQUIRE(rec.done.size() == 1);
    const Seen& r = rec.done.begin()->second;
    CHECK(r.status == 0);
    CHECK(r.mode == 2);
    const serving::Instance& a100 = *sim.instances()[0];
    const serving::Instance& t4 = *sim.instances()[1];
    CHECK(r.instance == 0);
    CHECK(r.draft == 1);
    CHECK(t4.role() == serving::InstanceRole::kDraft);
    const serving::Speculation& sp = *a100.speculation();
    CHECK(sp.link_latency_s > 0);  // PCIe, NICs and the top-of-rack switch between the two servers

    // Expected acceptance: E = (1 - 0.5^5) / 0.5 = 1.9375 tokens per round, spread as floor((k+1)E) - floor(kE):
    // 1, 2, 2, ... After the prefill's first token, 19 tokens take 10 rounds; each round drafts 4 tokens, or only
    // the tokens still needed after the target's own (3 when 4 are left, 1 when 2 are).
    const std::vector<std::int32_t> emitted = {1, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    const std::vector<std::int32_t> drafts = {4, 4, 4, 4, 4, 4, 4, 4, 3, 1};
    CHECK(a100.stats().verify_rounds == 10);
    CHECK(a100.stats().verify_tokens == 19);
    CHECK(a100.stats().decode_tokens == 20);
    CHECK(t4.stats().decode_tokens == 36);
    CHECK(t4.stats().prefill_tokens == 500);

    // Steps: the first prefills the prompt on both devices (the A100 waits for the T4's prefill: no ids cross
    // yet); each round then drafts on the T4 (its first iteration at the context produced so far, one more token
    // each after), sends the ids both ways, and verifies drafts + 1 positions on the A100 as a chunk after the KV.
    std::vector<Recorder::Step> on_a100, on_t4;
    for (const auto& s : rec.steps) (s.instance == 0 ? on_a100 : on_t4).push_back(s);
    REQUIRE(on_a100.size() == 11);
    REQUIRE(on_t4.size() == 11);
    const perf::PerfModel& target = a100.perf_model();
    const perf::PerfModel& draft = t4.perf_model();
    // The draft's prefill samples nothing: its first draft comes from its first drafting iteration.
    perf::BatchShape draft_chunk = chunk(500, 0);
    draft_chunk.prefill_final_chunks = 0;
    const double draft_prefill = draft.step_cost(draft_chunk).seconds;
    core::SimTime t = 0;
    core::SimTime end = core::from_seconds(draft_prefill + target.step_cost(chunk(500, 0)).seconds);
    CHECK(on_a100[0].start == 0);
    CHECK(on_a100[0].end == end);
    CHECK(on_t4[0].end - on_t4[0].start == core::from_seconds(draft_prefill));
    CHECK(r.first_token == end);
    std::int32_t generated = 1;
    double t4_busy = draft.step_cost(draft_chunk).busy_seconds;
    for (std::size_t k = 0; k < emitted.size(); ++k) {
      CAPTURE(k);
      t = end;
      const std::int64_t context = 500 + generated;  // the draft's first iteration attends to all tokens so far
      perf::BatchShape first;
      first.decode_seqs = 1;
      first.decode_ctx = context;
      double drafting = draft.step_cost(first).seconds;
      t4_busy += draft.step_cost(first).busy_seconds;
      for (std::int32_t j = 1; j < drafts[k]; ++j) {
        const perf::DecodeCost dc = draft.decode_cost(1);
        drafting += dc.step_seconds(static_cast<double>(context + j));
        t4_busy += dc.step_seconds(static_cast<double>(context + j)) - dc.overhead;
      }
      const double link = 2 * sp.link_latency_s + (drafts[k] ? 1.0 : 0.0) * (4 + 2) * 4 / sp.link_bytes_per_s;
      const double verify = target.step_cost(chunk(drafts[k] + 1, context - 1)).seconds;
      end = t + core::from_seconds(drafting + link + verify);
      CHECK(on_t4[k + 1].start == t);
      CHECK(on_t4[k + 1].end == t + core::from_seconds(drafting));
      CHECK(on_a100[k + 1].start == t);
      CHECK(on_a100[k + 1].end == end);
      CHECK(on_a100[k + 1].prefill_tokens == drafts[k] + 1);  // the verify chunk
      CHECK(on_t4[k + 1].prefill_tokens == drafts[k]);        // charged by the drafts made for it
      generated += emitted[k];
    }
    CHECK(generated == 20);
    CHECK(r.completion == end);

    // GPU energy on each device: idle power over the whole run, plus (phase power - idle) over its busy time,
    // the phase power mixing prefill and decode power by the step's prefill share (batch 1).
    for (const auto* steps : {&on_a100, &on_t4}) {
      const auto server = static_cast<std::size_t>(sim.instances()[steps == &on_a100 ? 0 : 1]->placement().server);
      const energy::ServerPower& p = sim.ledger().servers()[server];
      double joules = p.gpu_idle_w * core::to_seconds(sim.end_time());
      for (const auto& s : *steps) {
        const double mix = s.prefill_share * p.gpu_prefill_w + (1 - s.prefill_share) * p.decode_w_at(s.seqs);
        joules += (mix - p.gpu_idle_w) * s.busy;
      }
      CHECK(sim.ledger().server_total(server).energy_gpu == doctest::Approx(joules).epsilon(1e-9));
    }
    double busy = 0;
    for (const auto& s : on_t4) busy += s.busy;
    CHECK(busy == doctest::Approx(t4_busy).epsilon(1e-9));
    // The request carries the busy energy of both devices (and their hosts while busy); idle lines the rest.
    CHECK(sim.ledger().requests_total().energy() > 0);
    CHECK(sim.ledger().conservation_error() < 1e-9);
  }
}

TEST_CASE("a draft on a host-bound engine: its drafting steps wait on the host, busy only for the GPU's part") {
  // TinyLlama's 22 layers at 5 ms: a 110 ms floor on every T4 step, far above its batch-1 steps (a few ms), so a
  // drafting phase is mostly host wait, which is not busy GPU time (perf::HostFloorModel).
  std::string yaml = experiment_yaml(kOneRequest, "{draft: draft, gamma: 4, acceptance: 0.5}");
  const std::string plain_draft = "  - {name: draft, model: tinyllama-1.1b}\n";
  REQUIRE(yaml.find(plain_draft) != std::string::npos);
  yaml.replace(yaml.find(plain_draft), plain_draft.size(),
               "  - {name: draft, model: tinyllama-1.1b, scheduler: {host_time_per_layer: 5ms}}\n");
  test::TempDir dir;
  const auto x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  Recorder rec;
  sim.add_observer(&rec);
  sim.run();
  REQUIRE(rec.done.size() == 1);
  const perf::PerfModel& draft = sim.instances()[1]->perf_model();
  const double floor = 22 * 0.005;
  int drafting_steps = 0;
  for (const auto& s : rec.steps) {
    if (s.instance != 1 || s.prefill_tokens == 500) continue;  // the draft's prefill is one floored step too
    ++drafting_steps;
    const double seconds = core::to_seconds(s.end - s.start);
    CHECK(seconds >= floor);  // at least one iteration, each at least the floor
    // Busy: the model's own steps (a few ms each, at most gamma of them), never the host's wait.
    CHECK(s.busy < 4 * draft.decode_cost(1).busy_step_seconds(600.0) * 1.01);
    CHECK(s.busy < 0.2 * seconds);
  }
  CHECK(drafting_steps == 10);
  CHECK(sim.ledger().conservation_error() < 1e-9);
}

TEST_CASE("speculative requests under load: fast-forward equals stepping, beside split and whole requests") {
  const std::string workload =
      "workload: {source: synthetic, deployment: new, synthetic: {requests: 300, rate: 4, prompt_tokens: "
      "{distribution: lognormal, mean: 700, sigma: 0.7, max: 2500}, output_tokens: {distribution: lognormal, "
      "mean: 150, sigma: 0.8, max: 900}}}\n";
  // Expected and sampled acceptance under always_speculative; and greenllm choosing among three modes (a V100
  // decode pool added; at 300 g/kWh it runs most requests whole and some speculatively).
  const std::string three_modes = "{draft: draft, gamma: 5, acceptance: 0.8}, disaggregated: {decode: old}";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{draft: draft, gamma: 4, acceptance: 0.7}", ""},
      {"{draft: draft, gamma: 3, acceptance: 0.6, acceptance_draw: sampled}", ""},
      {three_modes, "greenllm"}};
  for (const auto& [speculative, router] : cases) {
    CAPTURE(speculative);
    std::map<std::uint64_t, Seen> runs[2];
    std::uint64_t modes[2][3] = {};
    for (int ff = 0; ff < 2; ++ff) {
      test::TempDir dir;
      std::string yaml = experiment_yaml(
          workload, speculative,
          ff ? "engine: {check_invariants: true}\n" : "engine: {fast_forward: false, check_invariants: true}\n");
      if (!router.empty()) {
        yaml.replace(yaml.find("always_speculative"), 18, router + ", params: {slo_scale: 50}");
        yaml.replace(yaml.find("  - {name: draft"), 0, "  - {name: old, model: llama-2-7b}\n");
        yaml.replace(yaml.find("network:"), 0,
                     "  - {site: dc, sku: pcie-v100x8, count: 1, deployment: old, gpu_embodied: sunk}\n");
      }
      const auto x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
      runner::Simulation sim(x, test::catalog());
      Recorder rec;
      sim.add_observer(&rec);
      sim.run();
      CHECK(sim.ledger().conservation_error() < 1e-9);
      for (int m = 0; m < 3; ++m) modes[ff][m] = sim.mode_decisions(static_cast<serving::RequestMode>(m));
      runs[ff] = rec.done;
    }
    CHECK(modes[0][2] > 0);  // some requests ran speculatively
    for (int m = 0; m < 3; ++m) CHECK(modes[0][m] == modes[1][m]);
    REQUIRE(runs[0].size() == 300);
    REQUIRE(runs[1].size() == 300);
    for (const auto& [id, a] : runs[0]) {
      const Seen& b = runs[1].at(id);
      CAPTURE(id);
      CHECK(a.first_token == b.first_token);
      CHECK(a.completion == b.completion);
      CHECK(a.instance == b.instance);
      CHECK(a.mode == b.mode);
    }
  }
}

TEST_CASE("a horizon cutting speculative steps in flight: requests keep only the rounds that finished") {
  // A round is credited to its request when its step is formed; a step the horizon cuts never finishes, so its
  // rounds must not count: every request's tokens and rounds add up to the target instance's statistics, which
  // count finished steps only.
  const std::string workload =
      "workload: {source: synthetic, deployment: new, synthetic: {requests: 60, rate: 6, prompt_tokens: "
      "{distribution: lognormal, mean: 600, sigma: 0.6, max: 2000}, output_tokens: {distribution: lognormal, "
      "mean: 150, sigma: 0.8, max: 900}}}\n";
  struct Tokens final : serving::ServingObserver {
    std::int64_t generated = 0, rounds = 0, verifying_unfinished = 0;
    unsigned signals() const override { return kRequests; }
    void on_request_done(std::uint32_t, const serving::RequestState& r) override {
      generated += r.generated;
      rounds += r.verify_rounds;
      if (r.status == serving::RequestStatus::kUnfinished && r.verify_rounds > 0) ++verifying_unfinished;
    }
  };
  for (const std::string acceptance : {"", ", acceptance_draw: sampled"})
    for (const std::string horizon : {"3s", "4500ms", "7s"})
      for (int ff = 0; ff < 2; ++ff) {
        CAPTURE(acceptance);
        CAPTURE(horizon);
        CAPTURE(ff);
        test::TempDir dir;
        const std::string yaml =
            experiment_yaml(workload, "{draft: draft, gamma: 4, acceptance: 0.7" + acceptance + "}",
                            "horizon: " + horizon + "\ndrain: false\nengine: {check_invariants: true" +
                                (ff ? "" : ", fast_forward: false") + "}\n");
        const auto x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
        runner::Simulation sim(x, test::catalog());
        Tokens tokens;
        sim.add_observer(&tokens);
        sim.run();
        const auto& instances = sim.instances();
        const auto it = std::find_if(instances.begin(), instances.end(),
                                     [](const auto& in) { return in->speculation() != nullptr; });
        REQUIRE(it != instances.end());
        const serving::InstanceStats& target = (*it)->stats();
        CHECK(tokens.verifying_unfinished > 0);
        CHECK(tokens.generated == static_cast<std::int64_t>(target.decode_tokens));
        CHECK(tokens.rounds == static_cast<std::int64_t>(target.verify_rounds));
        CHECK(sim.ledger().conservation_error() < 1e-9);
      }
}

TEST_CASE("preempted speculative requests: swap and recompute keep both KV caches and the draft prefill exact") {
  // A target cache of a few thousand tokens under five to ten 500-token requests: preemptions. Swapped requests
  // come back as verify chunks (blocks for gamma + 1 more tokens); recomputed ones do not prefill the draft again.
  for (const std::string preemption : {"swap", "recompute"}) {
    CAPTURE(preemption);
    const std::string yaml =
        "name: p\nseed: 7\nsites:\n  - {name: dc, pue: 1.2, carbon_intensity: 300}\n"
        "deployments:\n  - {name: new, model: llama-2-7b, gpu_memory_utilization: 0.185, scheduler: "
        "{max_num_seqs: 12, max_batched_tokens: 64, preemption: " +
        preemption +
        "}, modes: {speculative: {draft: draft, gamma: 4, acceptance: 0.7}}}\n"
        "  - {name: draft, model: tinyllama-1.1b}\n"
        "fleet:\n  - {site: dc, sku: azure-nc24ads-a100-v4, count: 1, deployment: new}\n"
        "  - {site: dc, sku: azure-nc4as-t4-v3, count: 1, deployment: draft, gpu_embodied: sunk}\n"
        "network: {tor_switch: greensku-rack}\nrouter: {name: round_robin}\n"
        "mode_router: {name: always_speculative}\n"
        "workload: {source: synthetic, deployment: new, synthetic: {requests: 10, rate: 50, prompt_tokens: "
        "{distribution: constant, value: 300}, output_tokens: {distribution: constant, value: 200}}}\n";
    std::map<std::uint64_t, Seen> runs[2];
    for (int ff = 0; ff < 2; ++ff) {
      test::TempDir dir;
      const auto x = experiment::load_experiment(
          dir.write("x.yaml", yaml + (ff ? "engine: {check_invariants: true}\n"
                                         : "engine: {fast_forward: false, check_invariants: true}\n")),
          test::catalog(), {});
      runner::Simulation sim(x, test::catalog());
      Recorder rec;
      sim.add_observer(&rec);
      sim.run();
      CHECK(sim.metrics().completed() == 10);
      CHECK(sim.instances()[0]->stats().preemptions > 0);
      CHECK(sim.instances()[1]->stats().prefill_tokens == 10 * 300);  // each prompt once on the draft
      CHECK(sim.instances()[1]->kv_blocks_free() == sim.instances()[1]->kv_blocks_total());  // all released
      CHECK(sim.ledger().conservation_error() < 1e-9);
      runs[ff] = rec.done;
    }
    for (const auto& [id, a] : runs[0]) {
      CAPTURE(id);
      CHECK(a.first_token == runs[1].at(id).first_token);
      CHECK(a.completion == runs[1].at(id).completion);
    }
  }
}

TEST_CASE("bad speculative configurations are load errors naming file, line and key") {
  auto fails = [](const std::string& yaml, const std::string& what) {
    CAPTURE(yaml);
    test::TempDir dir;
    try {
      experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
      FAIL("no error");
    } catch (const core::InputError& e) {
      const std::string m = e.what();
      CAPTURE(m);
      CHECK(m.find(what) != std::string::npos);
      CHECK(m.find("x.yaml:") != std::string::npos);  // file and line
    }
  };
  const std::string ok = experiment_yaml(kOneRequest, "{draft: draft}");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string y = ok;
    const auto at = y.find(from);
    REQUIRE(at != std::string::npos);
    return y.replace(at, from.size(), to);
  };
  fails(with("{draft: draft}", "{draft: nope}"),
        "deployments[0].modes.speculative.draft: unknown deployment 'nope'");
  fails(with("{draft: draft}", "{draft: new}"), "cannot draft for itself");
  fails(with("count: 1, deployment: new", "count: 2, deployment: new"),
        "needs a draft instance of its own: 'new' has 2 instances and 'draft' has 1");
  fails(with("{draft: draft}", "{draft: draft, gamma: 0}"), "deployments[0].modes.speculative.gamma");
  fails(with("{draft: draft}", "{draft: draft, gamma: 17}"), "deployments[0].modes.speculative.gamma");
  fails(with("{draft: draft}", "{draft: draft, acceptance: 1.5}"), "deployments[0].modes.speculative.acceptance");
  fails(with("{draft: draft}", "{draft: draft, acceptance_draw: always}"),
        "deployments[0].modes.speculative.acceptance_draw");
  fails(with("{draft: draft}", "{draft: draft, depth: 2}"), "depth");
  fails(with("deployment: new, synthetic", "deployment: draft, synthetic"), "also receives requests of its own");
  fails(with("network: {tor_switch: greensku-rack}\n", ""), "add a `network:` section");
  {
    std::string both = with("{draft: draft}", "{draft: draft}, disaggregated: {decode: draft}");
    both.replace(both.find("{name: draft, model: tinyllama-1.1b}"), 36, "{name: draft, model: llama-2-7b}");
    both.replace(both.find("azure-nc4as-t4-v3"), 17, "azure-nc24ads-a100-v4");
    fails(both, "draft pool 'draft' also serves deployment 'new'");  // its own decode pool as well
  }
  fails(with("{name: draft, model: tinyllama-1.1b}", "{name: draft, model: llama-3.2-1b}"),
        "must share its target's tokenizer");
  fails(with("{name: draft, model: tinyllama-1.1b}",
             "{name: draft, model: tinyllama-1.1b, modes: {disaggregated: {decode: new}}}"),
        "has modes of its own");
  fails(with("{draft: draft}}}", "{draft: draft, gamma: 16}}, scheduler: {max_num_seqs: 256}}"),
        "above its step budget scheduler.max_batched_tokens = 2048");
  fails(with("modes: {speculative: {draft: draft}}", "tensor_parallel: 1"), "mode_router.name: mode router");
}

TEST_CASE("the ledger charges verifying requests by accrual on the target and its draft instance") {
  // One server with two GPUs (idle 100 W, prefill 400 W, decode 200 W), a target instance on one and its draft
  // on the other, each stepping 1 s, 0.5 s of it busy, a quarter of the work prefill: each step costs GPU
  // 100 + (100 + 150 - 100) x 0.5 = 175 J and host (50 / 2 + 10) = 35 J, 210 J in all.
  const auto ci = energy::CarbonSignal::constant(360);
  energy::ServerPower sp = two_gpu_server(ci);
  sp.cpu_w_per_busy_instance = 10;
  serving::RequestPool pool;
  workload::RequestSpec spec;
  spec.prompt_tokens = 30, spec.output_tokens = 10;
  const std::uint32_t a = pool.acquire(spec), b = pool.acquire(spec), c = pool.acquire(spec);
  energy::CarbonLedger ledger({sp}, {{0, 1}, {0, 1}}, core::kHour);
  for (std::uint32_t slot : {a, b, c}) ledger.on_request_begin(slot, pool[slot]);
  core::Engine engine;
  const perf::RooflineModel roofline = test::tiny_roofline();  // not stepped: the records are written by hand
  serving::Instance target(0, {}, {}, 10, 100, &roofline, &engine, &pool, nullptr);
  serving::Instance draft(1, {}, {}, 10, 100, &roofline, &engine, &pool, nullptr);
  serving::Speculation sp4;
  sp4.draft = &draft;
  sp4.gamma = 4;
  sp4.prepare();
  target.set_speculation(&sp4);
  // a prefills a 30-token chunk; b and c verify: b drafts gamma = 4 tokens (a chunk of 5), c only 2 (a chunk of
  // 3, its last round). Neither is listed: they accrue 5 tokens on the target and 4 on the draft, c less 2 on
  // each.
  ledger.on_verify_begin(target, b);
  ledger.on_verify_begin(target, c);
  const serving::VerifyShort shorts[] = {{c, 2}};
  const serving::BatchEntry prefill[] = {{a, 30, 0, 0}};
  perf::BatchShape target_shape, draft_shape;
  target_shape.prefill_tokens = 30 + 5 + 3;
  target_shape.prefill_seqs = 3;
  draft_shape.prefill_tokens = 4 + 2;
  draft_shape.prefill_seqs = 2;
  for (int round = 0; round < 2; ++round) {
    const core::SimTime start = (1 + 2 * round) * core::kSecond;
    serving::StepRecord d;
    d.start = start, d.end = start + core::kSecond;
    d.shape = &draft_shape;
    d.busy_seconds = 0.5, d.prefill_share = 0.25;
    d.verify_tokens = 4;
    d.verify_short = shorts;
    ledger.on_step(draft, d);
    serving::StepRecord t = d;
    t.shape = &target_shape;
    t.verify_tokens = 5;
    t.entries = prefill;
    ledger.on_step(target, t);
  }
  ledger.on_verify_end(target, b);
  ledger.on_verify_end(target, c);
  CHECK(ledger.request(a).energy_j == doctest::Approx(2 * 210.0 * 30 / 38));
  CHECK(ledger.request(b).energy_j == doctest::Approx(2 * (210.0 * 5 / 38 + 210.0 * 4 / 6)));
  CHECK(ledger.request(c).energy_j == doctest::Approx(2 * (210.0 * 3 / 38 + 210.0 * 2 / 6)));
  for (std::uint32_t slot : {a, b, c}) ledger.on_request_done(slot, pool[slot]);
  ledger.finalize(5 * core::kSecond);
  CHECK(ledger.conservation_error() < 1e-12);
}

TEST_CASE("a draft instance's wait for its target comes with its step and is booked as its idle time") {
  // One server with two GPUs (idle 100 W each, host 50 W split by GPU: 125 W per idle instance), a target that
  // never steps and its draft, stepping 0.5 s at a time with the wait after each in the same record, in slots of
  // 2 s; the last wait crosses into the third slot. Idle: the target's 5 s and the draft's 1 + 0.5 + 0.5 + 1 +
  // 0.5 s.
  const auto ci = energy::CarbonSignal::constant(360);
  energy::ServerPower sp = two_gpu_server(ci);
  serving::RequestPool pool;
  workload::RequestSpec spec;
  spec.prompt_tokens = 30, spec.output_tokens = 10;
  const std::uint32_t b = pool.acquire(spec);
  energy::CarbonLedger ledger({sp}, {{0, 1}, {0, 1}}, 2 * core::kSecond);
  ledger.on_request_begin(b, pool[b]);
  core::Engine engine;
  const perf::RooflineModel roofline = test::tiny_roofline();  // not stepped: the records are written by hand
  serving::Instance target(0, {}, {}, 10, 100, &roofline, &engine, &pool, nullptr);
  serving::Instance draft(1, {}, {}, 10, 100, &roofline, &engine, &pool, nullptr);
  serving::Speculation sp4;
  sp4.draft = &draft;
  sp4.gamma = 4;
  sp4.prepare();
  target.set_speculation(&sp4);
  ledger.on_verify_begin(target, b);
  perf::BatchShape shape;
  shape.prefill_tokens = 4;
  shape.prefill_seqs = 1;
  const std::pair<std::int64_t, std::int64_t> steps_ms[] = {{1000, 2000}, {2000, 3000}, {3000, 4500}};
  for (const auto& [start_ms, until_ms] : steps_ms) {
    serving::StepRecord d;
    d.start = start_ms * core::kMillisecond, d.end = d.start + 500 * core::kMillisecond;
    d.idle_until = until_ms * core::kMillisecond;
    d.shape = &shape;
    d.busy_seconds = 0.5;
    d.verify_tokens = 4;
    ledger.on_step(draft, d);
  }
  ledger.on_verify_end(target, b);
  ledger.on_request_done(b, pool[b]);
  ledger.finalize(5 * core::kSecond);
  CHECK(ledger.idle_lines().energy() == doctest::Approx(125.0 * (5 + 3.5)));
  CHECK(ledger.phase(energy::kIdle).energy() == doctest::Approx(125.0 * (5 + 3.5)));
  // The third slot, [4 s, 5 s): both instances idle, the draft's part of it from the wait that crossed into it.
  CHECK(ledger.slots() == 3);
  CHECK(ledger.slot_table()[2].energy() == doctest::Approx(2 * 125.0));
  CHECK(ledger.conservation_error() < 1e-12);
}
