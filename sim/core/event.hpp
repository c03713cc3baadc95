#pragma once
#include <cstdint>

#include "sim/core/time.hpp"

namespace greenfleet::core {

// Events are plain records: the queue stores them by value, so scheduling never allocates once the heap has
// grown to the peak number of pending events. `target` and `payload` are interpreted by the handler of `kind`
// (typically an index and a generation used for lazy cancellation).
struct Event {
  SimTime time = 0;
  // priority (high 8 bits, lower runs first at the same time) and insertion sequence (low 56 bits, the final
  // tie-breaker): one integer compare settles every tie, and the order is total.
  std::uint64_t order = 0;
  std::uint16_t kind = 0;
  std::uint16_t tracked = 0;  // 1: the queue knows where it is, so its owner can move it earlier
  std::uint32_t target = 0;
  std::uint64_t payload = 0;

  std::uint32_t priority() const { return static_cast<std::uint32_t>(order >> 56); }
  std::uint64_t seq() const { return order & ((1ULL << 56) - 1); }
};

// Strict (time, priority, seq) order: `order` packs priority and sequence number, so ties in time are broken by
// priority, then by scheduling order.
inline bool runs_before(const Event& a, const Event& b) {
  // Equal times are rare, so this branch predicts well; it measured fewer instructions than a 128-bit compare.
  if (a.time != b.time) return a.time < b.time;
  return a.order < b.order;
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
