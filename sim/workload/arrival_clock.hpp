#pragma once
#include <cstdint>

#include "sim/core/time.hpp"

namespace greenfleet::workload {

// Trace time to simulated arrival: the first row is time zero, and rows must not go back in time.
class ArrivalClock {
 public:
  // Sets `arrival` and returns true, or returns false when `trace_ns` is earlier than the previous row's.
  bool place(std::int64_t trace_ns, core::SimTime& arrival) {
    if (!started_) origin_ = trace_ns, started_ = true;
    if (trace_ns - origin_ < last_) return false;
    arrival = last_ = trace_ns - origin_;
    return true;
  }

 private:
  bool started_ = false;
  std::int64_t origin_ = 0;
  core::SimTime last_ = 0;
};

}  // namespace greenfleet::workload
