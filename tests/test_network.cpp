#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/network/flows.hpp"
#include "sim/network/topology.hpp"
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
