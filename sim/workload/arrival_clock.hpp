#pragma once
#include <cstdint>

#include "sim/core/time.hpp"

namespace greenfleet::workload {

// Trace time to simulated arrival: the first row is time zero, and rows must not go back in time.
class ArrivalClock {
 public:
  enum Placed { kOk, kEarlier, kTooLate };
  // At most this long after the first row (100 years), so that arrival plus deadlines, step times and the other
  // durations of an experiment stay within the int64-nanosecond range.
  static constexpr core::SimTime kMaxSpan = 100LL * 365 * 24 * core::kHour;

  // Sets `arrival` and returns kOk, or says why the row cannot be placed.
  Placed place(std::int64_t trace_ns, core::SimTime& arrival) {
    if (!started_) origin_ = trace_ns, started_ = true;
    std::int64_t since = 0;
    if (__builtin_sub_overflow(trace_ns, origin_, &since) || since > kMaxSpan) return kTooLate;
    if (since < last_) return kEarlier;
    arrival = last_ = since;
    return kOk;
  }
  static const char* why(Placed p) {
    return p == kEarlier ? "is earlier than the previous row's (rows must be in time order)"
                         : "is more than 100 years after the first row (out of range)";
  }

 private:
  bool started_ = false;
  std::int64_t origin_ = 0;
  core::SimTime last_ = 0;
};

}  // namespace greenfleet::workload
