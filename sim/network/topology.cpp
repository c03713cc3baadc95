#include "sim/network/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "sim/core/error.hpp"

namespace greenfleet::network {

namespace {
// Dijkstra's weight of one hop: its latency in ns, scaled so that one extra hop breaks ties between paths of
// equal latency and never outweighs a nanosecond.
constexpr std::int64_t kHopsPerNanosecond = 1 << 16;
}  // namespace

struct Topology::Graph {
  using G = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::undirectedS, boost::no_property,
      boost::property<boost::edge_weight_t, std::int64_t, boost::property<boost::edge_index_t, std::uint32_t>>>;
  G g;
};

std::int32_t Topology::add_node(std::string name) {
  node_names_.push_back(std::move(name));
  return static_cast<std::int32_t>(node_names_.size() - 1);
}

void Topology::add_link(std::int32_t a, std::int32_t b, const spec::LinkKind& kind, double bandwidth_gbps) {
  Link l;
  l.from = a, l.to = b;
  l.bytes_per_second = bandwidth_gbps * 1e9;
  l.latency = static_cast<core::SimTime>(std::llround(kind.latency_us * 1e3));
  l.joules_per_byte = kind.energy_pj_per_bit * 8e-12;
  l.kind = kind.id;
  links_.push_back(l);
  std::swap(l.from, l.to);
  links_.push_back(l);
}

Topology::Topology(const std::vector<ServerFabric>& servers, std::int32_t sites,
                   const std::vector<SiteLink>& site_links)
    : graph_(std::make_shared<Graph>()) {
  servers_per_site_.assign(static_cast<std::size_t>(sites), 0);
  for (std::int32_t s = 0; s < sites; ++s) tor_.push_back(add_node(fmt::format("site {} tor switch", s)));
  for (std::size_t si = 0; si < servers.size(); ++si) {
    const ServerFabric& f = servers[si];
    if (f.site < 0 || f.site >= sites) throw std::logic_error("network: a server's site is out of range");
    ++servers_per_site_[static_cast<std::size_t>(f.site)];
    first_gpu_node_.push_back(static_cast<std::int32_t>(node_names_.size()));
    server_gpus_.push_back(f.gpus);
    if (f.gpus <= 0) continue;  // nothing to transfer from or to
    const std::int32_t first = first_gpu_node_.back();
    for (std::int32_t g = 0; g < f.gpus; ++g) add_node(fmt::format("server {} gpu {}", si, g));
    if (f.has_scale_up) {
      const std::int32_t sw = add_node(fmt::format("server {} {} switch", si, f.scale_up.kind));
      for (std::int32_t g = 0; g < f.gpus; ++g) add_link(first + g, sw, f.scale_up, f.scale_up.bandwidth_gbps);
    }
    const std::int32_t per = std::max(1, f.gpus_per_pcie_switch);
    const std::int32_t switches = (f.gpus + per - 1) / per;
    const std::int32_t root = add_node(fmt::format("server {} root complex", si));
    // The NICs of the server are split evenly over its PCIe switches; each switch's share is one NIC node whose
    // slots are as wide as its NICs.
    const double nic_share = f.nic_gbps > 0 ? f.nic_gbps / 8 / switches : f.nic.bandwidth_gbps;
    for (std::int32_t k = 0; k < switches; ++k) {
      const std::int32_t sw = add_node(fmt::format("server {} pcie switch {}", si, k));
      for (std::int32_t g = k * per; g < std::min(f.gpus, (k + 1) * per); ++g)
        add_link(first + g, sw, f.pcie, f.pcie.bandwidth_gbps);
      add_link(sw, root, f.pcie, f.pcie.bandwidth_gbps);
      const std::int32_t nic = add_node(fmt::format("server {} nic {}", si, k));
      add_link(sw, nic, f.pcie, nic_share);
      add_link(nic, tor_[static_cast<std::size_t>(f.site)], f.nic, nic_share);
    }
  }
  for (const SiteLink& l : site_links) {
    if (l.a < 0 || l.a >= sites || l.b < 0 || l.b >= sites || l.a == l.b)
      throw std::logic_error("network: a site link's sites are out of range");
    add_link(tor_[static_cast<std::size_t>(l.a)], tor_[static_cast<std::size_t>(l.b)], l.link,
             l.link.bandwidth_gbps);
  }
  graph_->g = Graph::G(node_names_.size());
  for (std::size_t k = 0; k < links_.size(); k += 2) {
    const Link& l = links_[k];
    boost::add_edge(
        static_cast<std::size_t>(l.from), static_cast<std::size_t>(l.to),
        Graph::G::edge_property_type(l.latency * kHopsPerNanosecond + 1, static_cast<std::uint32_t>(k / 2)),
        graph_->g);
  }
}

std::int32_t Topology::gpu_node(std::int32_t server, std::int32_t gpu) const {
  if (server < 0 || static_cast<std::size_t>(server) >= first_gpu_node_.size() || gpu < 0 ||
      gpu >= server_gpus_[static_cast<std::size_t>(server)])
    throw std::logic_error(fmt::format("network: no GPU {} on server {}", gpu, server));
  return first_gpu_node_[static_cast<std::size_t>(server)] + gpu;
}

const std::vector<std::int64_t>& Topology::predecessors(std::int32_t source) {
  auto it = trees_.find(source);
  if (it != trees_.end()) return it->second;
  using G = Graph::G;
  const G& g = graph_->g;
  std::vector<G::edge_descriptor> via(boost::num_vertices(g));
  std::vector<bool> reached(boost::num_vertices(g), false);
  reached[static_cast<std::size_t>(source)] = true;
  std::vector<std::int64_t> distance(boost::num_vertices(g));
  auto record =
      boost::make_dijkstra_visitor(boost::record_edge_predecessors(via.data(), boost::on_edge_relaxed()));
  boost::dijkstra_shortest_paths(g, static_cast<std::size_t>(source),
                                 boost::distance_map(distance.data()).visitor(record));
  // Mark what was reached: a relaxed edge into a node means a path to it.
  std::vector<std::int64_t> tree(boost::num_vertices(g), -1);
  const auto index = boost::get(boost::edge_index, g);
  const std::int64_t unreached = std::numeric_limits<std::int64_t>::max();
  for (std::size_t v = 0; v < tree.size(); ++v) {
    if (static_cast<std::int32_t>(v) == source || distance[v] == unreached) continue;
    const std::uint32_t k = index[via[v]];
    // The direction that enters v.
    tree[v] = links_[2 * k].to == static_cast<std::int32_t>(v) ? 2 * k : 2 * k + 1;
  }
  return trees_.emplace(source, std::move(tree)).first->second;
}

bool Topology::reachable(const Endpoint& from, const Endpoint& to) {
  const std::int32_t a = gpu_node(from.server, from.first_gpu), b = gpu_node(to.server, to.first_gpu);
  return a == b || predecessors(a)[static_cast<std::size_t>(b)] >= 0;
}

const Path& Topology::path(const Endpoint& from, const Endpoint& to) {
  const std::int32_t a = gpu_node(from.server, from.first_gpu), b = gpu_node(to.server, to.first_gpu);
  const std::uint64_t key = static_cast<std::uint64_t>(a) << 32 | static_cast<std::uint32_t>(b);
  if (auto it = paths_.find(key); it != paths_.end()) return it->second;
  Path p;
  if (a != b) {
    const std::vector<std::int64_t>& tree = predecessors(a);
    if (tree[static_cast<std::size_t>(b)] < 0)
      throw core::InputError(fmt::format(
          "network: no path from {} to {} (servers at sites with no site link between them; add one under "
          "network.site_links)",
          node_name(a), node_name(b)));
    for (std::int32_t v = b; v != a;) {
      const auto k = static_cast<std::uint32_t>(tree[static_cast<std::size_t>(v)]);
      p.links.push_back(k);
      v = links_[k].from;
    }
    std::reverse(p.links.begin(), p.links.end());
    for (std::uint32_t k : p.links) p.latency += links_[k].latency, p.joules_per_byte += links_[k].joules_per_byte;
  }
  return paths_.emplace(key, std::move(p)).first->second;
}

std::string Topology::describe(const Path& p) const {
  if (p.links.empty()) return "(same GPU)";
  std::string out = node_name(links_[p.links.front()].from);
  for (std::uint32_t k : p.links) out += fmt::format(" -[{}]-> {}", links_[k].kind, node_name(links_[k].to));
  return out;
}

}  // namespace greenfleet::network
