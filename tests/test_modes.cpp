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
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

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
