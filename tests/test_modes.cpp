// Request modes through the whole simulation: a split request's TTFT, KV transfer and decode by hand on a
// two-server topology, fast-forward against stepping, conservation with transfers, and the load errors of bad
// mode configurations.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/routing/mode_router.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

struct Seen {
  core::SimTime arrival, first_token, kv_reserved, kv_arrived, completion;
  std::int32_t instance, prefill_instance, status, mode;
};

struct Recorder final : serving::ServingObserver {
  std::map<std::uint64_t, Seen> done;
  unsigned signals() const override { return kRequests; }
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    done[r.spec.id] = Seen{r.spec.arrival,
                           r.first_token,
                           r.kv_reserved,
                           r.kv_arrived,
                           r.completion,
                           r.instance,
                           r.prefill_instance,
                           static_cast<std::int32_t>(r.status),
                           static_cast<std::int32_t>(r.mode)};
  }
};

// One A100 (new) that prefills, eight V100s (old) that decode, one site, Llama-2-7B everywhere.
std::string experiment_yaml(const std::string& workload, const std::string& extra = "") {
  return "name: modes\nseed: 5\nsites:\n  - {name: dc, pue: 1.2, carbon_intensity: 300}\n"
         "deployments:\n  - {name: new, model: llama-2-7b, modes: {disaggregated: {decode: old}}}\n"
         "  - {name: old, model: llama-2-7b}\n"
         "fleet:\n  - {site: dc, sku: azure-nc24ads-a100-v4, count: 1, deployment: new}\n"
         "  - {site: dc, sku: pcie-v100x8, count: 1, deployment: old, gpu_embodied: sunk}\n"
         "network: {tor_switch: greensku-rack}\nrouter: {name: least_outstanding_tokens}\n"
         "mode_router: {name: always_disaggregated}\n" +
         workload + extra;
}

const std::string kOneRequest =
    "workload: {source: synthetic, deployment: new, synthetic: {requests: 1, rate: 1, prompt_tokens: "
    "{distribution: constant, value: 500}, output_tokens: {distribution: constant, value: 20}}}\n";

}  // namespace

TEST_CASE("a split request by hand: prefill on the A100, KV over the network, decode on a V100") {
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    test::TempDir dir;
    const auto x = experiment::load_experiment(
        dir.write("x.yaml", experiment_yaml(kOneRequest, fast_forward ? "" : "engine: {fast_forward: false}\n")),
        test::catalog(), {});
    runner::Simulation sim(x, test::catalog());
    Recorder rec;
    sim.add_observer(&rec);
    sim.run();
    REQUIRE(rec.done.size() == 1);
    const Seen& r = rec.done.begin()->second;
    CHECK(r.status == 0);
    CHECK(r.mode == 1);
    CHECK(r.prefill_instance == 0);
    CHECK(r.instance >= 1);  // decoded on a V100 (instances 1-8)
    const serving::Instance& a100 = *sim.instances()[0];
    const serving::Instance& v100 = *sim.instances()[static_cast<std::size_t>(r.instance)];

    // TTFT: one prefill step of the 500-token prompt alone on the A100 (the first token comes with it).
    perf::BatchShape prefill;
    prefill.prefill_tokens = 500;
    prefill.prefill_seqs = prefill.prefill_final_chunks = 1;
    prefill.prefill_attn_ctx = 500.0 * 501 / 2;
    prefill.prefill_kv_tokens = 500;
    const core::SimTime ttft = core::from_seconds(a100.perf_model().step_cost(prefill).seconds);
    CHECK(r.first_token - r.arrival == ttft);
    // The V100 is idle: it reserves blocks at once, and the prompt's KV (500 tokens x 0.5 MiB) crosses the
    // network alone: the path's latency, then the bytes at its narrowest link's bandwidth, rounded up to a ns.
    CHECK(r.kv_reserved == r.first_token);
    const double bytes = 500.0 * 524288;
    const network::Endpoint from{a100.placement().server, a100.placement().first_device, 1};
    const network::Endpoint to{v100.placement().server, v100.placement().first_device, 1};
    auto& topology = const_cast<runner::Simulation&>(sim).network()->topology();
    const network::Path& path = topology.path(from, to);
    double bw = 1e30;
    for (std::uint32_t l : path.links) bw = std::min(bw, topology.links()[l].bytes_per_second);
    const core::SimTime transfer = path.latency + static_cast<core::SimTime>(std::ceil(bytes / bw * 1e9 - 1e-6));
    CHECK(r.kv_arrived - r.kv_reserved == transfer);
    CHECK(transfer > 10'000'000);  // 262 MB over at most 100 Gbit/s: tens of milliseconds
    // Decode: the other 19 tokens on the V100 from the KV's arrival, batch 1, context 501 growing by 1.
    const core::SimTime decode = core::from_seconds(v100.perf_model().decode_cost(1).run_seconds(501, 19, 1));
    CHECK(r.completion - r.kv_arrived == decode);
    // TPOT as reported: everything after the first token, transfer included, over the 19 tokens.
    const double tpot = core::to_seconds(r.completion - r.first_token) / 19;
    CHECK(tpot == doctest::Approx(core::to_seconds(transfer + decode) / 19));
    CHECK(sim.split_requests() == 1);
    CHECK(sim.handoff()->arrived() == 1);
    CHECK(sim.ledger().conservation_error() < 1e-9);
  }
}

TEST_CASE("split requests under load: fast-forward equals stepping, carbon conserved with transfers") {
  const std::string workload =
      "workload: {source: synthetic, deployment: new, synthetic: {requests: 400, rate: 8, prompt_tokens: "
      "{distribution: lognormal, mean: 900, sigma: 0.7, max: 3000}, output_tokens: {distribution: lognormal, "
      "mean: 150, sigma: 0.8, max: 900}}}\n";
  std::map<std::uint64_t, Seen> runs[2];
  for (int ff = 0; ff < 2; ++ff) {
    test::TempDir dir;
    const auto x = experiment::load_experiment(
        dir.write("x.yaml",
                  experiment_yaml(workload, ff ? "engine: {check_invariants: true}\n"
                                               : "engine: {fast_forward: false, check_invariants: true}\n")),
        test::catalog(), {});
    runner::Simulation sim(x, test::catalog());
    Recorder rec;
    sim.add_observer(&rec);
    sim.run();
    CHECK(sim.ledger().conservation_error() < 1e-9);
    CHECK(sim.split_requests() > 300);
    runs[ff] = rec.done;
  }
  REQUIRE(runs[0].size() == 400);
  REQUIRE(runs[1].size() == 400);
  for (const auto& [id, a] : runs[0]) {
    const Seen& b = runs[1].at(id);
    CAPTURE(id);
    CHECK(a.first_token == b.first_token);
    CHECK(a.kv_reserved == b.kv_reserved);
    CHECK(a.kv_arrived == b.kv_arrived);
    CHECK(a.completion == b.completion);
    CHECK(a.instance == b.instance);
  }
}

TEST_CASE("bad modes: unknown or same-model-less decode pools, no instances, no network are load errors") {
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
  const std::string ok = experiment_yaml(kOneRequest);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string y = ok;
    const auto at = y.find(from);
    REQUIRE(at != std::string::npos);
    return y.replace(at, from.size(), to);
  };
  fails(with("decode: old", "decode: nope"),
        "deployments[0].modes.disaggregated.decode: unknown deployment 'nope'");
  fails(with("decode: old", "decode: new"), "cannot be its own decode pool");
  fails(with("{name: old, model: llama-2-7b}", "{name: old, model: llama-3.1-8b}"),
        "must be read by the same model");
  fails(with("count: 1, deployment: old", "count: 0, deployment: old"), "has no instances in the fleet");
  fails(with("network: {tor_switch: greensku-rack}\n", ""), "add a `network:` section");
  // Two sites without a link between them: the pools cannot reach each other.
  const std::string two_sites = with("  - {site: dc, sku: pcie-v100x8", "  - {site: far, sku: pcie-v100x8");
  std::string far = two_sites;
  far.replace(far.find("deployments:"), 0, "  - {name: far, carbon_intensity: 100}\n");
  fails(far, "which no network.site_links joins");
  fails(with("modes: {disaggregated: {decode: old}}", "tensor_parallel: 1"), "mode_router.name: mode router");
  fails(with("disaggregated: {decode: old}", "disaggregated: {decode: old, speed: 2}"), "speed");
  fails(with("mode_router: {name: always_disaggregated}", "mode_router: {name: sometimes}"), "sometimes");
}

namespace {

// The GreenLLM mode router on idle or loaded instances of the hand-sized hardware: instance 0 (server 0, the new
// GPU), instance 1 (server 1, the old one that decodes split requests) and instance 2 (server 2, an old one that
// drafts for instance 0), with powers, embodied rates and carbon intensity set per case.
struct ModeBench {
  perf::RooflineModel model = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  std::unique_ptr<serving::Instance> front, decode, draft;
  serving::Speculation speculation;
  energy::CarbonSignal ci = energy::CarbonSignal::constant(0);
  std::vector<energy::ServerPower> servers = std::vector<energy::ServerPower>(3);
  bool offer_decode = true, offer_draft = false;
  std::unique_ptr<routing::ModeRouter> router = routing::mode_routers().create(
      "greenllm", core::default_values(routing::mode_routers().info("greenllm").params), 1);

  explicit ModeBench(double g_per_kwh) : ci(energy::CarbonSignal::constant(g_per_kwh)) {
    for (int i = 0; i < 3; ++i) {
      serving::Placement p;
      p.server = i;
      (i == 0   ? front
       : i == 1 ? decode
                : draft) = std::make_unique<serving::Instance>(i, p, serving::SchedulerConfig{}, 4000, 4096,
                                                               &model, &engine, &pool, nullptr);
      servers[static_cast<std::size_t>(i)].ci = &ci;
      servers[static_cast<std::size_t>(i)].gpu_prefill_w = 300;
    }
    speculation.draft = draft.get();
    speculation.gamma = 4;
    speculation.acceptance = 0.7;
    speculation.prepare();
    front->set_speculation(&speculation);
  }
  void load(serving::Instance& in, int requests) {
    for (int i = 0; i < requests; ++i) {
      workload::RequestSpec s;
      s.prompt_tokens = 20, s.output_tokens = 200;
      in.enqueue(pool.acquire(s));
    }
  }
  routing::ModeChoice choose(core::SimTime ttft, core::SimTime tpot) {
    const routing::RoutingContext ctx(&engine, &servers);
    workload::RequestSpec s;
    s.prompt_tokens = 200, s.output_tokens = 100;
    const std::uint32_t slot = pool.acquire(s);
    routing::ModeCandidates c;
    c.front = front.get(), c.slo_ttft = ttft, c.slo_tpot = tpot;
    if (offer_decode) c.decode = decode.get();
    if (offer_draft) c.draft = draft.get();
    const routing::ModeChoice m = router->choose(pool[slot], routing::ModeOptions{}, c, ctx);
    pool.release(slot);
    return m;
  }
};

}  // namespace

TEST_CASE("greenllm mode router: each mode wins in turn, by carbon and by SLO") {
  const core::SimTime loose = 10 * core::kSecond;
  SUBCASE("by carbon: a sunk old GPU at zero carbon intensity takes the decode") {
    ModeBench b(0);
    b.servers[0].gpu_decode_w = b.servers[1].gpu_decode_w = 200;
    b.servers[0].gpu_emb_g_per_s = 0.01;  // the new GPU's embodied carbon; the old one's is sunk (0)
    const routing::ModeChoice m = b.choose(loose, loose);
    CHECK(m.mode == serving::RequestMode::kDisaggregated);
    CHECK_FALSE(m.fallback);
  }
  SUBCASE("by carbon: at a high carbon intensity the old GPU's extra power loses") {
    ModeBench b(800);
    b.servers[0].gpu_decode_w = 200;
    b.servers[1].gpu_decode_w = 400;  // the old GPU draws more for the same decode
    b.servers[0].gpu_emb_g_per_s = 0.0001;
    CHECK(b.choose(loose, loose).mode == serving::RequestMode::kUnified);
  }
  SUBCASE("by SLO: a loaded new GPU misses the TPOT target, the split meets it even when it emits more") {
    ModeBench b(800);
    b.servers[0].gpu_decode_w = 200;
    b.servers[1].gpu_decode_w = 400;
    b.load(*b.front, 250);
    const routing::ModeChoice idle = ModeBench(800).choose(loose, loose);
    REQUIRE(idle.tpot_s > 0);
    // A TPOT target between the idle instance's prediction and the loaded one's.
    const routing::ModeChoice loaded_whole = b.choose(loose, loose);
    CHECK(loaded_whole.mode == serving::RequestMode::kUnified);  // loose SLO: carbon decides (unified)
    const auto target = core::from_seconds((idle.tpot_s + loaded_whole.tpot_s) / 2);
    const routing::ModeChoice m = b.choose(loose, target);
    CHECK(m.mode == serving::RequestMode::kDisaggregated);
    CHECK_FALSE(m.fallback);
  }
  SUBCASE("by SLO: a loaded old GPU misses the TPOT target, unified meets it even when it emits more") {
    ModeBench b(0);
    b.servers[0].gpu_decode_w = b.servers[1].gpu_decode_w = 200;
    b.servers[0].gpu_emb_g_per_s = 0.01;
    b.load(*b.decode, 100);
    b.engine.run(core::kSecond / 10);  // the first step ends and admits the other 99: all run, none queued
    REQUIRE(b.decode->queued() == 0);
    REQUIRE(b.decode->running() == 100);
    const routing::ModeChoice loaded_split = b.choose(loose, loose);
    CHECK(loaded_split.mode == serving::RequestMode::kDisaggregated);  // carbon alone: split
    // A TPOT target between the unified prediction (the idle new GPU) and the loaded old GPU's.
    ModeBench idle_bench(800);
    idle_bench.servers[1].gpu_decode_w = 400;
    const routing::ModeChoice idle = idle_bench.choose(loose, loose);
    REQUIRE(idle.mode == serving::RequestMode::kUnified);
    REQUIRE(idle.tpot_s < loaded_split.tpot_s);
    const auto target = core::from_seconds((idle.tpot_s + loaded_split.tpot_s) / 2);
    const routing::ModeChoice m = b.choose(loose, target);
    CHECK(m.mode == serving::RequestMode::kUnified);
    CHECK_FALSE(m.fallback);
  }
  SUBCASE("by carbon: speculative rounds spend less of the new GPU's embodied carbon than plain decoding") {
    // At zero carbon intensity only embodied carbon counts: the new GPU's (the draft's is sunk). A round takes
    // the new GPU about one iteration for E = 2.77 tokens, plain decoding one iteration per token.
    ModeBench b(0);
    b.servers[0].gpu_decode_w = b.servers[2].gpu_decode_w = 200;
    b.servers[0].gpu_emb_g_per_s = 0.01;
    b.offer_decode = false, b.offer_draft = true;
    const routing::ModeChoice m = b.choose(loose, loose);
    CHECK(m.mode == serving::RequestMode::kSpeculative);
    CHECK_FALSE(m.fallback);
    // With the decode pool offered as well, its sunk old GPU takes the whole decode and wins.
    b.offer_decode = true;
    CHECK(b.choose(loose, loose).mode == serving::RequestMode::kDisaggregated);
  }
  SUBCASE("by SLO: drafting on a GPU as slow as the target misses a TPOT target that plain decoding meets") {
    // Four draft iterations, the ids and a verify per 2.77 tokens take longer per token than one iteration.
    ModeBench b(0);
    b.servers[0].gpu_decode_w = b.servers[2].gpu_decode_w = 200;
    b.servers[0].gpu_emb_g_per_s = 0.01;
    b.offer_decode = false, b.offer_draft = true;
    const routing::ModeChoice spec = b.choose(loose, loose);
    REQUIRE(spec.mode == serving::RequestMode::kSpeculative);
    b.offer_draft = false;
    const routing::ModeChoice whole = b.choose(loose, loose);
    REQUIRE(whole.tpot_s < spec.tpot_s);
    b.offer_draft = true;
    const routing::ModeChoice m = b.choose(loose, core::from_seconds((whole.tpot_s + spec.tpot_s) / 2));
    CHECK(m.mode == serving::RequestMode::kUnified);
    CHECK_FALSE(m.fallback);
  }
  SUBCASE("a decode instance with requests queued takes no split, whatever the carbon") {
    ModeBench b(0);
    b.servers[0].gpu_decode_w = b.servers[1].gpu_decode_w = 200;
    b.servers[0].gpu_emb_g_per_s = 0.01;
    REQUIRE(b.choose(loose, loose).mode == serving::RequestMode::kDisaggregated);
    b.load(*b.decode, 250);  // 5,000 prompt tokens: the step's budget of 2,048 leaves some queued
    REQUIRE(b.decode->queued() > 0);
    CHECK(b.choose(loose, loose).mode == serving::RequestMode::kUnified);
  }
  SUBCASE("no mode meets the SLO: unified, marked as a fallback") {
    ModeBench b(0);
    const routing::ModeChoice m = b.choose(1, 1);
    CHECK(m.mode == serving::RequestMode::kUnified);
    CHECK(m.fallback);
  }
}
