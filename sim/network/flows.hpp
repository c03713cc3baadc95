#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/network/topology.hpp"

namespace greenfleet::network {

// A finished transfer, as its sink is told.
struct Transfer {
  std::uint64_t tag = 0;    // the caller's
  core::SimTime start = 0;  // when start_flow was called
  core::SimTime end = 0;    // when its last byte arrived
  double bytes = 0;
  double joules = 0;  // bytes x the path's energy per byte
};

class FlowSink {
 public:
  virtual void on_flow_done(const Transfer& t) = 0;

 protected:
  ~FlowSink() = default;
};

// Transfers sharing links, the flow model SimGrid uses: a flow first pays its path's latency (the sum of the
// per-hop latencies), then moves its bytes at its max-min fair share of every link it crosses (progressive
// filling: the link with the least capacity per unfinished flow fixes the rate of the flows crossing it, which
// are then removed with their share, and so on). Rates are recomputed only when a flow starts moving or ends,
// and only for the flows linked to it through shared links, transitively (the others' cannot change); between
// those instants they are constant, so remaining bytes are advanced exactly. Event times are integer
// nanoseconds: a flow's end is rounded up to the next nanosecond (never early; a tolerance of 1e-13 of the time
// absorbs floating-point noise), and flows ending in the same nanosecond end together. One completion event is
// pending for the earliest end, a tracked one: when rates change it is moved to the new earliest end, ordered as a
// new event scheduled then would be (Engine::reschedule()), or dropped when nothing moves. A flow whose path is
// empty (same GPU) or whose byte count is 0 ends when its latency has passed, by an event (never inside
// start_flow, so a sink may start flows freely).
class FlowModel final : public core::EventHandler {
 public:
  FlowModel(core::Engine* engine, const Topology* topology);

  // Starts moving `bytes` along `path` (which must outlive the flow: Topology's cached paths do) now; `sink` is
  // told when the last byte arrives. Returns the flow's id (reused after it ends).
  std::uint32_t start_flow(const Path& path, double bytes, FlowSink* sink, std::uint64_t tag);

  // Bytes per second the flow gets now (0 while it pays its latency).
  double rate(std::uint32_t flow) const { return flows_[flow].rate; }
  std::size_t in_flight() const { return flows_.size() - free_.size(); }
  std::size_t moving() const { return active_.size(); }
  std::uint64_t completed() const { return completed_; }

  void on_event(const core::Event& e) override;

 private:
  struct Flow {
    const Path* path = nullptr;
    double bytes = 0, remaining = 0, rate = 0;
    double alone = 0;  // its rate with no other flow on its links: the least capacity on its path
    core::SimTime start = 0, end_at = 0;
    FlowSink* sink = nullptr;
    std::uint64_t tag = 0;
    bool frozen = false;     // scratch of the progressive filling
    std::uint64_t mark = 0;  // scratch: == mark_ when in the component being recomputed
  };
  void advance(core::SimTime now);  // remaining bytes of moving flows at `now`
  void reschedule();                // max-min rates, projected ends, the completion event
  void fill();                      // max-min rates of the flows in component_
  void mark_links(const Path& path) {
    for (std::uint32_t k : path.links) link_mark_[k] = mark_;
  }
  void finish(std::uint32_t id, core::SimTime now);  // frees the flow, its sink and transfer into done_

  core::Engine* engine_;
  const Topology* topology_;
  std::uint16_t kind_ = 0;
  std::vector<Flow> flows_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> active_;  // moving flows
  core::SimTime last_update_ = 0;
  std::uint16_t end_kind_ = 0;  // the completion event's kind
  std::uint32_t tracker_ = 0;   // and its target (Engine::new_tracker())
  std::uint64_t completed_ = 0;
  // Per directed link: capacity left and unfrozen flows crossing it (scratch), and the links in use.
  std::vector<double> capacity_;
  std::vector<std::int32_t> crossing_;
  std::vector<std::uint32_t> used_;
  // The flows whose rates reschedule() recomputes: those linked (through shared links, transitively) to the
  // links of the flow that started or the flows that ended; the others keep their rates (see reschedule()).
  std::vector<std::uint64_t> link_mark_;  // per directed link: == mark_ when in that component
  std::uint64_t mark_ = 0;
  std::vector<std::uint32_t> component_;
  std::vector<std::pair<FlowSink*, Transfer>> done_;  // scratch: flows ending at one instant
};

// A run's network: the topology and the flows on it.
class Network {
 public:
  Network(core::Engine* engine, const std::vector<ServerFabric>& servers, std::int32_t sites,
          const std::vector<SiteLink>& site_links)
      : topology_(servers, sites, site_links), flows_(engine, &topology_) {}
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  Topology& topology() { return topology_; }
  const Topology& topology() const { return topology_; }
  FlowModel& flows() { return flows_; }
  const FlowModel& flows() const { return flows_; }
  // Starts a transfer of `bytes` between two instances' GPUs (core::InputError when they are unreachable).
  std::uint32_t transfer(const Endpoint& from, const Endpoint& to, double bytes, FlowSink* sink,
                         std::uint64_t tag) {
    return flows_.start_flow(topology_.path(from, to), bytes, sink, tag);
  }

 private:
  Topology topology_;
  FlowModel flows_;
};

}  // namespace greenfleet::network
