#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/spec/network.hpp"

// The link topology KV transfers cross (docs/ARCHITECTURE.md, "Network").
namespace greenfleet::network {

// How one server is wired, from its catalog entry (hardware_catalog/servers.yaml, network.yaml).
struct ServerFabric {
  std::int32_t site = 0;
  std::int32_t gpus = 0;
  bool has_scale_up = false;  // NVLink (or Infinity Fabric) through one switch
  spec::LinkKind scale_up;
  spec::LinkKind pcie;
  std::int32_t gpus_per_pcie_switch = 1;
  spec::LinkKind nic;
  double nic_gbps = 0;  // Gb/s of all its NICs together (0: one NIC of the kind's bandwidth per PCIe switch)
};

// A link between the top-of-rack switches of two sites.
struct SiteLink {
  std::int32_t a = 0, b = 0;
  spec::LinkKind link;
};

// One direction of a physical link: every link is full duplex and each direction has its own capacity.
struct Link {
  std::int32_t from = 0, to = 0;  // nodes
  double bytes_per_second = 0;
  core::SimTime latency = 0;  // per hop, ns
  double joules_per_byte = 0;
  std::string kind;  // the link kind's id
};

// Where a transfer starts or ends: the GPUs of one instance.
struct Endpoint {
  std::int32_t server = 0;
  std::int32_t first_gpu = 0;
  std::int32_t gpus = 1;
  bool operator==(const Endpoint&) const = default;
};

// The directed links a transfer crosses, in order, with what they add up to.
struct Path {
  std::vector<std::uint32_t> links;
  core::SimTime latency = 0;   // sum of the per-hop latencies
  double joules_per_byte = 0;  // sum over the links
};

// Nodes: per server its GPUs, an NVLink switch (scale-up SKUs), its PCIe switches (each with
// gpus_per_pcie_switch GPUs and a NIC node holding that switch's share of the NICs), a root complex joining the
// PCIe switches; per site a top-of-rack switch that every NIC of the site reaches; site links between ToRs.
// Paths are the shortest by latency, then by hop count (Boost Graph's Dijkstra), computed on demand once per
// pair of endpoints and cached. An endpoint is represented by its first GPU: the KV shards of a tensor-parallel
// instance are taken to leave through that GPU's links (a simplification: see docs/ARCHITECTURE.md).
class Topology {
 public:
  Topology(const std::vector<ServerFabric>& servers, std::int32_t sites, const std::vector<SiteLink>& site_links);

  // The path between two endpoints (empty, latency 0, when they start on the same GPU). Throws core::InputError
  // when no path joins them (servers at sites with no site link between them).
  const Path& path(const Endpoint& from, const Endpoint& to);
  bool reachable(const Endpoint& from, const Endpoint& to);

  const std::vector<Link>& links() const { return links_; }
  std::size_t nodes() const { return node_names_.size(); }
  const std::string& node_name(std::int32_t node) const { return node_names_[static_cast<std::size_t>(node)]; }
  std::int32_t gpu_node(std::int32_t server, std::int32_t gpu) const;
  std::int32_t tor_node(std::int32_t site) const { return tor_[static_cast<std::size_t>(site)]; }
  // Servers each site holds (what sizes its ToR switches).
  const std::vector<std::int32_t>& servers_per_site() const { return servers_per_site_; }
  // A readable path: "server 0 gpu 0 -> server 0 pcie switch 0 -> ...".
  std::string describe(const Path& p) const;

 private:
  std::int32_t add_node(std::string name);
  void add_link(std::int32_t a, std::int32_t b, const spec::LinkKind& kind, double bandwidth_gbps);
  // Shortest-path predecessors from one node (Dijkstra), computed once per source node.
  const std::vector<std::int64_t>& predecessors(std::int32_t source);

  std::vector<std::string> node_names_;
  std::vector<Link> links_;  // directed: 2k is a -> b of the k-th physical link, 2k + 1 is b -> a
  std::vector<std::int32_t> first_gpu_node_, server_gpus_;  // per server
  std::vector<std::int32_t> tor_;                           // per site
  std::vector<std::int32_t> servers_per_site_;
  struct Graph;  // the Boost Graph of the physical links, weighted by latency then hops
  std::shared_ptr<Graph> graph_;
  // Per source node: the directed link into each node on the shortest path tree (-1: unreached or the source).
  std::unordered_map<std::int32_t, std::vector<std::int64_t>> trees_;
  std::unordered_map<std::uint64_t, Path> paths_;  // by (from GPU node, to GPU node); node-based: stable
};

}  // namespace greenfleet::network
