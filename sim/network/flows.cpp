#include "sim/network/flows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "sim/core/event.hpp"

namespace greenfleet::network {

FlowModel::FlowModel(core::Engine* engine, const Topology* topology)
    : engine_(engine),
      topology_(topology),
      capacity_(topology->links().size(), 0.0),
      crossing_(topology->links().size(), 0),
      link_mark_(topology->links().size(), 0) {
  kind_ = engine_->register_kind(this);  // a flow's latency has passed (payload: the flow)
  end_kind_ = engine_->register_kind(this);
  tracker_ = engine_->new_tracker();
}

std::uint32_t FlowModel::start_flow(const Path& path, double bytes, FlowSink* sink, std::uint64_t tag) {
  if (!(bytes >= 0) || !std::isfinite(bytes)) throw std::logic_error("network: a flow needs a finite byte count");
  std::uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(flows_.size());
    flows_.emplace_back();
  }
  Flow& f = flows_[id];
  f = Flow{};
  f.path = &path;
  f.bytes = f.remaining = bytes;
  f.alone = std::numeric_limits<double>::infinity();
  for (std::uint32_t k : path.links) f.alone = std::min(f.alone, topology_->links()[k].bytes_per_second);
  f.start = engine_->now();
  f.sink = sink;
  f.tag = tag;
  // Network events order like arrivals: a transfer ending in the same nanosecond as a step is seen by the step
  // after it, in stepping and in fast-forward alike (Instance::wake_for_change()).
  engine_->schedule(f.start + path.latency, core::kPriorityArrival, kind_, 0, id);
  return id;
}

void FlowModel::advance(core::SimTime now) {
  if (now == last_update_) return;
  const double dt = core::to_seconds(now - last_update_);
  for (std::uint32_t id : active_) {
    Flow& f = flows_[id];
    f.remaining = std::max(0.0, f.remaining - f.rate * dt);
  }
  last_update_ = now;
}

void FlowModel::reschedule() {
  if (active_.empty()) {
    engine_->cancel(tracker_);
    return;
  }
  // Max-min fair shares are computed per connected component of the flows-share-a-link graph: the caller has
  // marked the links of the flow that started (and that flow) or of the flows that ended; the flows linked to
  // them, transitively, are the only ones whose rates can change. The others' rates are those the last
  // computation gave their (unchanged) component, bit for bit: progressive filling over all flows touches a
  // component's links only through its own flows, picks its bottlenecks in the same order (ties go to the link
  // first used, in the order of active_, which keeps its relative order) and subtracts the same shares in the
  // same order as filling over that component alone.
  for (bool grew = true; grew;) {
    grew = false;
    for (std::uint32_t id : active_) {
      Flow& f = flows_[id];
      if (f.mark == mark_) continue;
      for (std::uint32_t k : f.path->links)
        if (link_mark_[k] == mark_) {
          f.mark = mark_;
          mark_links(*f.path);
          grew = true;
          break;
        }
    }
  }
  component_.clear();
  for (std::uint32_t id : active_)
    if (flows_[id].mark == mark_) component_.push_back(id);
  // A flow alone on its links gets the least of their capacities (as progressive filling would give it: its
  // first bottleneck is that link, with that capacity divided by 1).
  if (component_.size() == 1) {
    Flow& f = flows_[component_.front()];
    f.rate = f.alone;
  } else {
    fill();
  }
  // Projected ends at these rates, rounded up to the next nanosecond.
  const core::SimTime now = engine_->now();
  core::SimTime first = core::kTimeMax;
  for (std::uint32_t id : active_) {
    Flow& f = flows_[id];
    const double ns = f.remaining / f.rate * 1e9;
    if (!(ns < 1e18)) {  // no bandwidth left to it (cannot happen with positive capacities): waits for a change
      f.end_at = core::kTimeMax;
      continue;
    }
    f.end_at =
        now + std::max<core::SimTime>(0, static_cast<core::SimTime>(std::ceil(ns - std::max(1e-6, ns * 1e-13))));
    first = std::min(first, f.end_at);
  }
  // The completion event moves to the earliest end (or is scheduled, when the last one has fired).
  if (first == core::kTimeMax)
    engine_->cancel(tracker_);
  else if (!engine_->reschedule(tracker_, first, core::kPriorityArrival))
    engine_->schedule_tracked(first, core::kPriorityArrival, end_kind_, tracker_);
}

// Progressive filling over the links the component's flows cross.
void FlowModel::fill() {
  const auto& links = topology_->links();
  used_.clear();
  for (std::uint32_t id : component_) {
    Flow& f = flows_[id];
    f.frozen = false;
    for (std::uint32_t k : f.path->links) {
      if (crossing_[k] == 0) used_.push_back(k), capacity_[k] = links[k].bytes_per_second;
      ++crossing_[k];
    }
  }
  std::size_t unfrozen = component_.size();
  while (unfrozen > 0) {
    std::uint32_t bottleneck = 0;
    double share = std::numeric_limits<double>::infinity();
    for (std::uint32_t k : used_)
      if (crossing_[k] > 0 && capacity_[k] / crossing_[k] < share)
        share = capacity_[k] / crossing_[k], bottleneck = k;
    for (std::uint32_t id : component_) {
      Flow& f = flows_[id];
      if (f.frozen) continue;
      const auto& p = f.path->links;
      if (std::find(p.begin(), p.end(), bottleneck) == p.end()) continue;
      f.rate = share;
      f.frozen = true;
      --unfrozen;
      for (std::uint32_t k : p) capacity_[k] = std::max(0.0, capacity_[k] - share), --crossing_[k];
    }
  }
}

void FlowModel::finish(std::uint32_t id, core::SimTime now) {
  Flow& f = flows_[id];
  done_.emplace_back(f.sink, Transfer{f.tag, f.start, now, f.bytes, f.bytes * f.path->joules_per_byte});
  f.remaining = 0;
  f.rate = 0;
  free_.push_back(id);
  ++completed_;
}

void FlowModel::on_event(const core::Event& e) {
  const core::SimTime now = engine_->now();
  done_.clear();
  if (e.kind == kind_) {
    const auto id = static_cast<std::uint32_t>(e.payload);
    const Flow& f = flows_[id];
    if (f.path->links.empty() || f.bytes == 0) {
      finish(id, now);
    } else {
      advance(now);
      active_.push_back(id);
      ++mark_;
      flows_[id].mark = mark_;
      mark_links(*f.path);
      reschedule();
    }
  } else {  // the completion event: always current (reschedule() moves it)
    advance(now);
    ++mark_;
    std::size_t kept = 0;
    for (std::uint32_t id : active_) {
      if (flows_[id].end_at <= now)
        mark_links(*flows_[id].path), finish(id, now);
      else
        active_[kept++] = id;
    }
    active_.resize(kept);
    reschedule();
  }
  // Sinks are told last, with the model consistent: they may start new flows (which only schedule events).
  for (const auto& [sink, t] : done_) sink->on_flow_done(t);
}

}  // namespace greenfleet::network
