#pragma once
#include <cstdint>

#include "sim/core/time.hpp"

namespace greenfleet::core {

// Events are plain records: the queue stores them by value, so scheduling never allocates once the heap has
// grown to the peak number of pending events. `target` and `payload` are interpreted by the handler of `kind`
// (typically an index and a generation used for lazy cancellation).
struct Event {
  SimTime time = 0;
  std::uint64_t seq = 0;       // insertion order: the final tie-breaker, makes ordering total
  std::uint32_t priority = 0;  // lower runs first among events at the same time
  std::uint16_t kind = 0;
  std::uint32_t target = 0;
  std::uint64_t payload = 0;
};

// Strict (time, priority, seq) order; seq is unique so no two events compare equal.
inline bool runs_before(const Event& a, const Event& b) {
  if (a.time != b.time) return a.time < b.time;
  if (a.priority != b.priority) return a.priority < b.priority;
  return a.seq < b.seq;
}

// Fixed priorities for events at the same instant: completions free capacity before arrivals claim it, and
// accounting ticks see the state after both.
enum Priority : std::uint32_t {
  kPriorityStepEnd = 10,
  kPriorityArrival = 20,
  kPriorityDispatch = 30,
  kPriorityTick = 40,
};

}  // namespace greenfleet::core
