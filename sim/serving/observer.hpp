#pragma once
#include <cstdint>

#include "sim/core/time.hpp"
#include "sim/perf/batch_shape.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::serving {

class Instance;

// Accounting attaches here (metrics, energy meters, carbon ledger, output writers); the serving code never
// writes results itself.
class ServingObserver {
 public:
  virtual ~ServingObserver() = default;
  // A step (or a fast-forwarded run of `iterations` identical-shape decode steps, where `shape` is the first
  // iteration's) ran on `instance` over [start, end).
  virtual void on_step(const Instance& /*instance*/, core::SimTime /*start*/, core::SimTime /*end*/,
                       const perf::BatchShape& /*shape*/, std::int64_t /*iterations*/) {}
  // The request is done (completed, rejected, or unfinished at the end of the run) and about to be released.
  virtual void on_request_done(const RequestState& /*request*/) {}
};

}  // namespace greenfleet::serving
