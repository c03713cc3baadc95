#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::test {

// A moment at which to sample an instance's load signals, ordered among same-time events by `priority`.
struct ProbeAt {
  core::SimTime at;
  std::uint32_t priority;
};

// What routers see of the instance at each probe, in time order.
struct LoadSamples {
  std::vector<std::int64_t> outstanding, free_blocks;
};

// Delivers `specs` (arrival-ordered) to `inst` at their arrival times, samples its load signals at `probes`, runs
// the engine to `until` (0: until nothing is left) and then abandons whatever is left, as a horizon does.
inline LoadSamples drive(core::Engine& engine, serving::RequestPool& pool, serving::Instance& inst,
                         const std::vector<workload::RequestSpec>& specs, const std::vector<ProbeAt>& probes = {},
                         core::SimTime until = 0) {
  struct Feed : core::EventHandler {
    serving::RequestPool* pool;
    serving::Instance* inst;
    const std::vector<workload::RequestSpec>* specs;
    void on_event(const core::Event& e) override { inst->enqueue(pool->acquire((*specs)[e.target])); }
  } feed;
  feed.pool = &pool, feed.inst = &inst, feed.specs = &specs;
  LoadSamples samples;
  struct Probe : core::EventHandler {
    serving::Instance* inst;
    LoadSamples* samples;
    void on_event(const core::Event&) override {
      samples->outstanding.push_back(inst->outstanding_tokens());
      samples->free_blocks.push_back(inst->kv_blocks_free());
    }
  } probe;
  probe.inst = &inst, probe.samples = &samples;
  const auto feed_kind = engine.register_kind(&feed), probe_kind = engine.register_kind(&probe);
  for (std::size_t i = 0; i < specs.size(); ++i)
    engine.schedule(specs[i].arrival, core::kPriorityArrival, feed_kind, static_cast<std::uint32_t>(i));
  for (const ProbeAt& p : probes) engine.schedule(p.at, p.priority, probe_kind, 0);
  if (until > 0) {
    engine.run(until);
    inst.abandon_all(until);
  } else {
    engine.run();
    inst.abandon_all(engine.now());
  }
  return samples;
}

}  // namespace greenfleet::test
