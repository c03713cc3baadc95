#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/network/flows.hpp"
#include "sim/network/topology.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// A server wired as its catalog entry says.
network::ServerFabric fabric_of(const std::string& sku_id, std::int32_t site) {
  const auto& c = test::catalog();
  const auto& sku = c.server(sku_id);
  network::ServerFabric f;
  f.site = site;
  f.gpus = sku.gpu_count;
  f.has_scale_up = !sku.scale_up_link.empty();
  if (f.has_scale_up) f.scale_up = c.link_kinds().at(sku.scale_up_link);
  f.pcie = c.link_kinds().at(sku.pcie_link);
  f.gpus_per_pcie_switch = sku.gpus_per_pcie_switch;
  f.nic = c.link_kinds().at(sku.nic_link);
  f.nic_gbps = sku.nic_gbps;
  return f;
}

// Server 0: HGX H100 (NVLink4, PCIe Gen5 switches of two GPUs, 8 x 400 Gb/s NDR: 100 GB/s per switch).
// Server 1: eight L4 (PCIe Gen4, two GPUs per switch, 2 x 100 GbE: 6.25 GB/s per switch), same site.
// Server 2: one T4 (PCIe Gen3, 8 Gb/s Ethernet) at a second site.
std::vector<network::ServerFabric> three_servers() {
  return {fabric_of("hgx-h100x8", 0), fabric_of("pcie-l4x8", 0), fabric_of("azure-nc4as-t4-v3", 1)};
}

std::vector<std::string> kinds_on(const network::Topology& t, const network::Path& p) {
  std::vector<std::string> out;
  for (std::uint32_t k : p.links) out.push_back(t.links()[k].kind);
  return out;
}

struct Recorder final : network::FlowSink {
  std::vector<network::Transfer> done;
  void on_flow_done(const network::Transfer& t) override { done.push_back(t); }
  const network::Transfer& of(std::uint64_t tag) const {
    for (const auto& t : done)
      if (t.tag == tag) return t;
    FAIL("no such transfer");
    return done.front();
  }
};

constexpr double kKvBytes = 1000 * 512.0 * 1024;  // 1,000 tokens of Llama-2-7B fp16 KV (0.5 MiB per token)

}  // namespace

TEST_CASE("network catalog: link kinds, switch kinds and how each server SKU is wired") {
  const auto& c = test::catalog();
  CHECK(c.link_kinds().at("pcie4-x16").bandwidth_gbps == 31.5);
  CHECK(c.link_kinds().at("nvlink4").bandwidth_gbps == 450);
  CHECK(c.link_kinds().at("eth-100g").bandwidth_gbps == 12.5);
  CHECK(c.switch_kinds().at("greensku-rack").ports == 10);
  for (const auto& [id, sku] : c.servers()) {
    CAPTURE(id);
    CHECK(c.link_kinds().count(sku.pcie_link) == 1);
    CHECK(c.link_kinds().count(sku.nic_link) == 1);
    // NVLink GPUs have a scale-up link of the GPU's own bandwidth; PCIe cards none.
    if (c.gpu(sku.gpu).link == "nvlink") {
      REQUIRE(c.link_kinds().count(sku.scale_up_link) == 1);
      CHECK(c.link_kinds().at(sku.scale_up_link).bandwidth_gbps == c.gpu(sku.gpu).link_bandwidth_gbps);
    } else {
      CHECK(sku.scale_up_link.empty());
    }
  }
  CHECK(c.server("dgx-a100x8-80gb").scale_up_link == "nvlink3");
}

TEST_CASE("paths: NVLink inside a server, PCIe switches, the ToR, and site links") {
  const auto servers = three_servers();
  network::Topology t(servers, 2, {});
  // Two GPUs of an NVLink server: through the NVLink switch.
  const auto& nv = t.path({0, 0, 1}, {0, 5, 1});
  CHECK(kinds_on(t, nv) == std::vector<std::string>{"nvlink4", "nvlink4"});
  CHECK(nv.latency == 2000);
  // PCIe server: the same switch, then across the root complex.
  CHECK(kinds_on(t, t.path({1, 0, 1}, {1, 1, 1})) == std::vector<std::string>{"pcie4-x16", "pcie4-x16"});
  CHECK(t.path({1, 0, 1}, {1, 2, 1}).links.size() == 4);
  // Between servers of one site: PCIe switch, NIC, ToR, the other server's NIC and PCIe switch.
  const auto& across = t.path({0, 0, 1}, {1, 0, 1});
  CHECK(kinds_on(t, across) ==
        std::vector<std::string>{"pcie5-x16", "pcie5-x16", "ib-ndr-400g", "eth-100g", "pcie4-x16", "pcie4-x16"});
  CHECK(across.latency == 7000);  // 1 + 1 + 1 + 2 + 1 + 1 us
  CHECK(t.node_name(t.links()[across.links[3]].from) == "site 0 tor switch");
  // The same GPU: an empty path.
  CHECK(t.path({0, 0, 2}, {0, 0, 2}).links.empty());
  // Sites with no link between them: unreachable, and asking for a path is an input error.
  CHECK_FALSE(t.reachable({0, 0, 1}, {2, 0, 1}));
  CHECK_THROWS_AS(t.path({0, 0, 1}, {2, 0, 1}), core::InputError);
  // With a site link the path crosses it once.
  network::Topology linked(servers, 2, {{0, 1, test::catalog().link_kinds().at("wan-metro-100g")}});
  CHECK(linked.reachable({0, 0, 1}, {2, 0, 1}));
  const auto& wan = linked.path({0, 0, 1}, {2, 0, 1});
  CHECK(kinds_on(linked, wan) == std::vector<std::string>{"pcie5-x16", "pcie5-x16", "ib-ndr-400g",
                                                          "wan-metro-100g", "eth-25g", "pcie3-x16", "pcie3-x16"});
  CHECK(wan.latency == 3000 + 250000 + 4000);
  // Each direction is its own link: the way back uses the reverse links.
  const auto& back = linked.path({2, 0, 1}, {0, 0, 1});
  REQUIRE(back.links.size() == wan.links.size());
  for (std::size_t i = 0; i < back.links.size(); ++i)
    CHECK((back.links[i] ^ 1) == wan.links[wan.links.size() - 1 - i]);
}

TEST_CASE("one transfer by hand: latency per hop, then bytes over the bottleneck bandwidth") {
  core::Engine engine;
  network::Network net(&engine, three_servers(), 2, {});
  Recorder sink;
  net.transfer({0, 0, 1}, {1, 0, 1}, kKvBytes, &sink, 7);
  engine.run();
  REQUIRE(sink.done.size() == 1);
  // 7 us of latency, then 524,288,000 bytes at the L4 server's share of its NICs: 200 Gb/s / 8 / 4 switches =
  // 6.25 GB/s, 0.08388608 s.
  CHECK(sink.done[0].start == 0);
  CHECK(sink.done[0].end == 7000 + 83886080);
  CHECK(sink.done[0].bytes == kKvBytes);
  // 5 + 5 + 10 + 10 + 5 + 5 pJ per bit.
  CHECK(sink.done[0].joules == doctest::Approx(kKvBytes * 8 * 40e-12).epsilon(1e-12));
}

TEST_CASE("two transfers sharing a link: equal shares, then the survivor speeds up") {
  core::Engine engine;
  network::Network net(&engine, three_servers(), 2, {});
  Recorder sink;
  // GPUs 0 and 1 of each server sit behind the same PCIe switch and NIC node: both flows cross the L4 server's
  // 6.25 GB/s NIC link.
  const auto a = net.transfer({0, 0, 1}, {1, 0, 1}, kKvBytes, &sink, 1);
  const auto b = net.transfer({0, 1, 1}, {1, 1, 1}, kKvBytes / 2, &sink, 2);
  engine.run(7000);
  CHECK(net.flows().rate(a) == doctest::Approx(3.125e9));
  CHECK(net.flows().rate(b) == doctest::Approx(3.125e9));
  engine.run();
  // b: 262,144,000 bytes at 3.125 GB/s = 83,886,080 ns after its latency. a has moved as much by then and
  // moves the other half alone at 6.25 GB/s: 41,943,040 ns more.
  CHECK(sink.of(2).end == 7000 + 83886080);
  CHECK(sink.of(1).end == 7000 + 83886080 + 41943040);
  CHECK(net.flows().in_flight() == 0);

  // Staggered: the second flow starts when the first has moved half of its bytes; both then end together.
  Recorder later;
  struct Starter final : core::EventHandler {
    network::Network* net;
    Recorder* sink;
    void on_event(const core::Event&) override { net->transfer({0, 1, 1}, {1, 1, 1}, kKvBytes / 2, sink, 4); }
  } starter;
  starter.net = &net, starter.sink = &later;
  const core::SimTime t0 = engine.now();
  net.transfer({0, 0, 1}, {1, 0, 1}, kKvBytes, &later, 3);
  // The first flow moves at 6.25 GB/s from t0 + 7 us; half its bytes take 41,943,040 ns.
  engine.schedule(t0 + 41943040, core::kPriorityArrival, engine.register_kind(&starter), 0);
  engine.run();
  REQUIRE(later.done.size() == 2);
  // At t0 + 41,950,040 the second flow has paid its latency and the first has moved 6.25 GB/s x 41,943,040 ns =
  // 262,144,000 bytes: each has 262,144,000 left at 3.125 GB/s, 83,886,080 ns, and they end in the same
  // nanosecond.
  CHECK(later.of(3).end == t0 + 41950040 + 83886080);
  CHECK(later.of(4).end == t0 + 41950040 + 83886080);
}

TEST_CASE("three flows with different bottlenecks share max-min fairly") {
  core::Engine engine;
  network::Network net(&engine, three_servers(), 2, {});
  Recorder sink;
  // f1 and f3 both enter the L4 server's NIC node 0 (6.25 GB/s); f1, f2 and f3 all cross its PCIe link into
  // GPU 0 (31.5 GB/s). Progressive filling: the NIC link gives f1 and f3 3.125 GB/s each, which leaves
  // 31.5 - 6.25 = 25.25 GB/s of the GPU's link to f2, whose own first link (31.5) does not limit it.
  const auto f1 = net.transfer({0, 0, 1}, {1, 0, 1}, 1e12, &sink, 1);
  const auto f2 = net.transfer({1, 1, 1}, {1, 0, 1}, 1e12, &sink, 2);
  const auto f3 = net.transfer({0, 2, 1}, {1, 0, 1}, 1e12, &sink, 3);
  engine.run(10000);
  CHECK(net.flows().moving() == 3);
  CHECK(net.flows().rate(f1) == doctest::Approx(3.125e9));
  CHECK(net.flows().rate(f2) == doctest::Approx(25.25e9));
  CHECK(net.flows().rate(f3) == doctest::Approx(3.125e9));
  // The GPU's link is full: no flow can go faster without slowing one that is no faster.
  CHECK(net.flows().rate(f1) + net.flows().rate(f2) + net.flows().rate(f3) == doctest::Approx(31.5e9));
}

TEST_CASE("a start or an end recomputes the rates of the flows linked to it, transitively, and only those") {
  core::Engine engine;
  network::Network net(&engine, three_servers(), 2, {});
  Recorder sink;
  // As above: f1 over the L4 server's NIC node 0 into GPU 0, f2 from GPU 1 to GPU 0 through their PCIe switch;
  // g between two H100s over NVLink shares no link with them.
  const auto f1 = net.transfer({0, 0, 1}, {1, 0, 1}, 1e12, &sink, 1);
  const auto f2 = net.transfer({1, 1, 1}, {1, 0, 1}, 1e12, &sink, 2);
  const auto g = net.transfer({0, 4, 1}, {0, 6, 1}, 1e12, &sink, 3);
  engine.run(10000);
  CHECK(net.flows().rate(f1) == doctest::Approx(6.25e9));
  CHECK(net.flows().rate(f2) == doctest::Approx(25.25e9));
  const double g_rate = net.flows().rate(g);
  CHECK(g_rate > 0);
  // f3 shares only the NIC link with f1 (it ends at GPU 1, whose link from the switch f2 does not use): f1
  // halves to 3.125 GB/s, which leaves f2 31.5 - 3.125 = 28.375 GB/s of GPU 0's link, a change that reaches f2
  // only through f1.
  const auto f3 = net.transfer({0, 2, 1}, {1, 1, 1}, 1e9, &sink, 4);
  engine.run(30000);
  CHECK(net.flows().rate(f3) == doctest::Approx(3.125e9));
  CHECK(net.flows().rate(f1) == doctest::Approx(3.125e9));
  CHECK(net.flows().rate(f2) == doctest::Approx(28.375e9));
  CHECK(net.flows().rate(g) == g_rate);
  // f3 ends after 1 GB at 3.125 GB/s (0.32 s): f1 and, through it, f2 get their former rates back.
  engine.run(1000000000);
  REQUIRE(sink.done.size() == 1);
  CHECK(sink.of(4).end > 320000000);
  CHECK(net.flows().rate(f1) == doctest::Approx(6.25e9));
  CHECK(net.flows().rate(f2) == doctest::Approx(25.25e9));
  CHECK(net.flows().rate(g) == g_rate);
  CHECK(net.flows().moving() == 3);
}

TEST_CASE("a transfer to the same GPU ends by an event at its start; zero bytes pay the latency only") {
  core::Engine engine;
  network::Network net(&engine, three_servers(), 2, {});
  Recorder sink;
  net.transfer({0, 0, 1}, {0, 0, 1}, kKvBytes, &sink, 1);
  CHECK(sink.done.empty());  // never inside transfer()
  net.transfer({0, 0, 1}, {1, 0, 1}, 0, &sink, 2);
  engine.run();
  CHECK(sink.of(1).end == 0);
  CHECK(sink.of(1).joules == 0);
  CHECK(sink.of(2).end == 7000);
}

namespace {

// Moves each request's KV between two instances when it arrives, and books the transfer on the request if it is
// still running when the transfer ends (what the disaggregation code will do at a hand-off).
struct KvMover final : serving::ServingObserver, network::FlowSink {
  runner::Simulation* sim = nullptr;
  std::vector<std::uint64_t> request_in_slot;  // request id + 1, 0 when free
  std::uint64_t booked = 0, started = 0;
  double joules = 0;
  unsigned signals() const override { return kRequests; }
  void on_request_begin(std::uint32_t slot, const serving::RequestState& r) override {
    if (slot >= request_in_slot.size()) request_in_slot.resize(slot + 1, 0);
    request_in_slot[slot] = r.spec.id + 1;
    const auto& in = sim->instances();
    const auto& a = in[r.spec.id % in.size()]->placement();
    const auto& b = in[(r.spec.id * 7 + 3) % in.size()]->placement();
    const double bytes = r.spec.prompt_tokens * 131072.0;
    sim->network()->transfer({a.server, a.first_device, a.devices}, {b.server, b.first_device, b.devices}, bytes,
                             this, static_cast<std::uint64_t>(slot) << 32 | (r.spec.id & 0xffffffffu));
    ++started;
  }
  void on_request_done(std::uint32_t slot, const serving::RequestState&) override { request_in_slot[slot] = 0; }
  void on_flow_done(const network::Transfer& t) override {
    const auto slot = static_cast<std::uint32_t>(t.tag >> 32);
    if (request_in_slot[slot] != (t.tag & 0xffffffffu) + 1) return;  // the request is gone
    // The site of the receiving end does not matter to the books; site 0 here.
    sim->ledger().book_transfer(slot, 0, t.start, t.end, t.joules);
    ++booked;
    joules += t.joules;
  }
};

}  // namespace

TEST_CASE("network line: switches and transfers priced, and per-request carbon plus idle lines equal the totals") {
  const std::string yaml =
      "name: net\nseed: 3\nsites:\n  - {name: a, pue: 1.2, carbon_intensity: 100}\n"
      "  - {name: b, pue: 1.5, carbon_intensity: {kind: solar, base: 400, dip: 300}}\n"
      "deployments:\n  - {name: d, model: llama-3.1-8b, tensor_parallel: 1}\n"
      "fleet:\n  - {site: a, sku: hgx-h100x8, count: 1, deployment: d}\n"
      "  - {site: b, sku: pcie-l4x8, count: 2, deployment: d}\n"
      "router: {name: round_robin}\n"
      "network: {tor_switch: greensku-rack, site_links: [{from: a, to: b, link: wan-metro-100g}]}\n"
      "workload:\n  source: synthetic\n  synthetic: {requests: 600, rate: 5, prompt_tokens: {distribution: "
      "lognormal, mean: 800, sigma: 0.8, max: 8000}, output_tokens: {distribution: lognormal, mean: 100, sigma: "
      "0.8, max: 500}}\n";
  test::TempDir dir;
  const auto x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  REQUIRE(x.network);
  runner::Simulation sim(x, test::catalog());
  REQUIRE(sim.network());
  KvMover mover;
  mover.sim = &sim;
  sim.add_observer(&mover);
  sim.run();
  const auto& L = sim.ledger();
  CHECK(mover.started == 600);
  CHECK(mover.booked > 500);  // transfers of milliseconds, requests of seconds: nearly all still running
  CHECK(L.conservation_error() < 1e-9);
  // Each site has one GreenSKU rack unit (10 servers per unit): 500 W over the run, 500 kg over 15 years.
  const double seconds = core::to_seconds(sim.end_time());
  const energy::Accum net = L.network_total();
  CHECK(net.energy() == doctest::Approx(2 * 500 * seconds + mover.joules).epsilon(1e-12));
  CHECK(net.emb() == doctest::Approx(2 * 500e3 * seconds / (15 * 8760 * 3600.0)).epsilon(1e-12));
  CHECK(L.network_site_total(0).op() ==
        doctest::Approx((500 * seconds + mover.joules) * 100 * 1.2 / 3.6e6).epsilon(1e-9));
  CHECK(mover.joules > 0);
  // The fleet totals are the servers' plus the network's, and the phases still add up to them.
  energy::Accum servers, phases;
  for (std::size_t s = 0; s < L.servers().size(); ++s) servers += L.server_total(s);
  for (int p = 0; p < energy::kPhases; ++p) phases += L.phase(static_cast<energy::Phase>(p));
  CHECK(L.fleet_total().energy() == doctest::Approx(servers.energy() + net.energy()).epsilon(1e-12));
  CHECK(phases.energy() == doctest::Approx(L.fleet_total().energy()).epsilon(1e-9));
  CHECK(phases.op() == doctest::Approx(L.fleet_total().op()).epsilon(1e-9));
  CHECK(phases.emb() == doctest::Approx(L.fleet_total().emb()).epsilon(1e-9));
}

TEST_CASE("network section: bad switch, link and site references are input errors; absent means no network") {
  const std::string base =
      "name: n\nsites:\n  - {name: a, carbon_intensity: 100}\n  - {name: b, carbon_intensity: 100}\n"
      "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: a, sku: pcie-l4x8, deployment: d}\n"
      "workload: {source: synthetic, synthetic: {requests: 10, rate: 1, prompt_tokens: {distribution: constant, "
      "value: 50}, output_tokens: {distribution: constant, value: 5}}}\n";
  test::TempDir dir;
  auto load = [&](const std::string& extra) {
    return experiment::load_experiment(dir.write("x.yaml", base + extra), test::catalog(), {});
  };
  CHECK_FALSE(load("").network);
  runner::Simulation plain(load(""), test::catalog());
  CHECK(plain.network() == nullptr);
  CHECK_FALSE(plain.ledger().has_network());
  CHECK(load("network: {}\n").network->tor_switch == "greensku-rack");
  auto fails = [&](const std::string& extra, const std::string& what) {
    CAPTURE(extra);
    try {
      load(extra);
      FAIL("no error");
    } catch (const core::InputError& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      CHECK(std::string(e.what()).find("x.yaml:") != std::string::npos);
    }
  };
  fails("network: {tor_switch: nope}\n", "network.tor_switch");
  fails("network: {site_links: [{from: a, to: c, link: wan-metro-100g}]}\n", "unknown site 'c'");
  fails("network: {site_links: [{from: a, to: a, link: wan-metro-100g}]}\n", "two different sites");
  fails("network: {site_links: [{from: a, to: b, link: pcie4-x16}]}\n", "not one between sites");
  fails("network: {site_links: [{from: a, to: b, link: wan-metro-100g}, {from: b, to: a, link: eth-100g}]}\n",
        "already linked");
  fails("network: {site_links: [{from: a, to: b, link: wan-metro-100g, speed: 3}]}\n", "speed");
}
