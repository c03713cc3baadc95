#pragma once
#include <cstddef>
#include <cstdint>

#include "sim/core/time.hpp"

namespace greenfleet::serving {

class Instance;
struct StepTimer;

// Told when an instance's load signals (outstanding_tokens(), kv_blocks_free(), queued(), powered()) may have
// changed other than by the passing of time: at an arrival, a step's end (and the step formed there), a power
// change and the end of the run. The instance may still be changing when it calls (a call nested in another
// change, such as a power-on inside an arrival), but every change ends with a call once it is complete: a
// listener may read the signals at each call (the last one's reading is the settled one) or only take note and
// read them at its next routing decision. Between two calls the signals only fall, as the run in flight
// completes iterations (Instance::load_window()).
class LoadListener {
 public:
  virtual ~LoadListener() = default;
  virtual void on_load_changed(const Instance& instance) = 0;
};

// An instance's load signals from now until its next call of the listener.
struct LoadWindow {
  std::int64_t outstanding = 0;      // outstanding_tokens() now
  std::int64_t outstanding_min = 0;  // its least value before the next call: just before the run ends
  // outstanding_tokens() and kv_blocks_free() keep their values from now until this time (exclusive): the next
  // iteration boundary of the run in flight (or its start, after a head), else kTimeMax.
  core::SimTime until = core::kTimeMax;
  // A bound that tightens with time: at any t >= now before the next call, outstanding_tokens() is at least
  // drain_start - drain_per_ns * (t - drain_from) (iterations take at least as long as the current one).
  std::int64_t drain_start = 0;
  core::SimTime drain_from = 0;
  double drain_per_ns = 0;
  // A step bound: outstanding_tokens() stays at or above near_min (the load after the next boundary) until
  // near_until (the earliest the boundary after that can come).
  std::int64_t near_min = 0;
  core::SimTime near_until = core::kTimeMax;
  // Iterations of the run completed now (-1 before it starts): a hint for the next call while nothing changed.
  std::int64_t iteration = 0;
  // The run behind the window, to step along its boundaries without another call while nothing changed: while
  // `iteration` >= 0, boundary j <= last of the run comes at timer->run_boundary(j) and outstanding_tokens() is
  // run_base - j * timer->run_growth from there to the next. The timer is the instance's own, and its run stays
  // as it is until the next call. A call can cut the run short (an arrival) without replacing it; a run with
  // the same run_start as an earlier window whose `iteration` was positive is the same run (a new one starts
  // after that boundary), so that `iteration` is still a valid hint.
  const StepTimer* timer = nullptr;
  std::int64_t run_base = 0;
  std::int64_t last = 0;  // the run's boundaries before its end (0: none)

  // load_window(kDescribe): the run only (timer, run_base, last, outstanding_min), nothing solved: `iteration`
  // kDescribe, and `outstanding` run_base (its value from the run's start, which has passed); while a head is in
  // flight, as any call gives it (outstanding and until exact, iteration -1).
  static constexpr std::int64_t kDescribe = -2;
};

// What least_kv_usage reads of an instance, at once (Instance::kv_window()): kv_blocks_free(), queued() and
// !powered() now, and how long they keep those values: `until` and `iteration` as load_window() gives them (free
// blocks change only at the run's iteration boundaries between listener calls; the others only at calls).
struct KvWindow {
  std::int64_t free = 0;
  std::size_t queued = 0;
  core::SimTime until = core::kTimeMax;
  std::int64_t iteration = 0;
  bool off = false;
};

}  // namespace greenfleet::serving
