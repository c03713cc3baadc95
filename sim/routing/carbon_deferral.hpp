#pragma once
#include <memory>
#include <vector>

#include "sim/routing/router.hpp"

namespace greenfleet::routing {

// Carbon-aware deferral of offline work (EcoServe's offline requests with 24 h deadlines; docs/EXPERIMENTS.md,
// "Deferring offline work"). An offline request arriving now is released at the time of lowest grid carbon
// intensity, read from the run's own CI series (a perfect forecast), among the slots in which it can still
// start and finish by its deadline; online requests, and offline ones whose deadline leaves no room, go straight
// to the inner router (`then`). Each slot takes deferred work up to `fill` of the pool's estimated capacity, so
// deferred requests do not pile into the single cleanest hour; within a slot they are released at its start
// (they queue and batch), or one after the other at the pace of that capacity (`release: paced`).
struct DeferralSettings {
  core::SimTime slot = core::kHour;             // forecast resolution: CI is compared by its mean per slot
  core::SimTime deadline_margin = core::kHour;  // kept free before the deadline, beyond the service estimate
  double fill = 0.8;                            // share of a slot's estimated capacity deferred work may book
  core::SimTime max_defer = 24 * core::kHour;   // the deadline of offline requests that have none
  bool paced = false;  // release in booking order at the pace of the slot's capacity (else all at its start)
};

class CarbonDeferral final : public Router {
 public:
  CarbonDeferral(std::unique_ptr<Router> then, DeferralSettings settings)
      : then_(std::move(then)), settings_(settings) {}
  Decision route(const RequestState& request, std::span<const Instance* const> instances,
                 const RoutingContext& context) override;
  serving::LoadListener* watch_loads(const core::Engine& engine) override { return then_->watch_loads(engine); }
  Router& placement() override { return then_->placement(); }

  // What one offline request needs, estimated on an instance of the pool (the first): seconds from its release
  // until it is done, taken as its prefill alone plus its decode in a full batch (max_num_seqs), and the share of
  // the instance's time it occupies (prefill plus decode divided by the batch).
  struct Need {
    double latency_s = 0;
    double instance_s = 0;
  };
  static Need estimate(const RequestState& request, const Instance& instance, const RoutingContext& context);
  // The latest release time that still leaves the service estimate and the margin before the deadline.
  core::SimTime latest_release(const RequestState& request, const Need& need) const;

  std::uint64_t deferred() const { return deferred_; }
  std::uint64_t overflowed() const { return overflowed_; }  // no slot had room: joined at once

 private:
  double& booked(std::size_t slot) {
    if (slot >= booked_.size()) booked_.resize(slot + 1, 0.0);
    return booked_[slot];
  }

  std::unique_ptr<Router> then_;
  DeferralSettings settings_;
  std::vector<double> booked_;  // instance-seconds booked per slot (by absolute slot index)
  std::uint64_t deferred_ = 0, overflowed_ = 0;
};

}  // namespace greenfleet::routing
