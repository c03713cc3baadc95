// The piecewise form of an instance's load signals, for routing indexes (sim/routing/load_index.hpp).
#include "sim/serving/instance.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::serving {

namespace {

// Completed iterations of the run in flight (of `last` boundaries before its end) at `now`, as
// timer.completed_iterations_at(now) counts them: from the hint (at most the count now: the count at an earlier
// time of this run, or 0), a boundary or two on; solved afresh otherwise. Sets `next` to boundary k + 1 where it
// computed it.
[[gnu::always_inline]] inline std::int64_t iterations_now(const StepTimer& timer, std::int64_t last,
                                                          core::SimTime now, std::int64_t hint,
                                                          core::SimTime hint_until, core::SimTime& next) {
  std::int64_t k = 0;
  if (last > 0 && now > timer.run_start) {
    if (hint < 0 || hint > last) {  // no hint: the first boundary, else the closed form
      next = timer.run_boundary(1);
      if (next <= now) k = timer.completed_iterations_at(now), next = core::kTimeMax;
    } else {
      k = hint;
      int steps = 0;
      if (k < last && hint_until <= now) ++k, ++steps;  // boundary hint + 1 is at or before hint_until
      for (; k < last; ++k) {
        next = timer.run_boundary(k + 1);
        if (next > now) break;
        if (++steps > 2) {
          k = timer.completed_iterations_at(now);
          next = core::kTimeMax;
          break;
        }
      }
    }
  }
  return k;
}

}  // namespace

LoadWindow Instance::load_window(std::int64_t hint, core::SimTime hint_until) const {
  const core::SimTime now = engine_->now();
  LoadWindow w;
  const bool in_run = timer_.busy && timer_.ff_run;
  const std::int64_t head_tokens =
      has_head_
          ? head_shape_.prefill_tokens + static_cast<std::int64_t>(head_shape_.decode_seqs) * tokens_per_step_ +
                head_shape_.prefill_final_chunks
          : 0;
  const std::int64_t last =
      in_run && timer_.run_iterations > 1 ? timer_.run_iterations - 1 : 0;  // iterations it completes
  w.outstanding_min = outstanding_tokens_ - head_tokens - last * timer_.run_growth;
  // The drain bound: each boundary of the run takes run_growth tokens (sequences x tokens per step) and comes at
  // least one iteration of the current context after the one before (iterations only get longer as context grows),
  // less 2 ns for the rounding of boundaries to the nanosecond. Returns that gap in whole ns (rounded up), or 0
  // where the run's cost does not grow with context.
  auto drain = [&](std::int64_t k, std::int64_t tokens) -> core::SimTime {
    const perf::DecodeCost& c = timer_.run_cost;
    if (c.b1 < 0 || c.b2 < 0) return 0;  // no drain bound: drain_start stays the least load
    const double ns = c.step_seconds(static_cast<double>(shape_.decode_ctx + k * timer_.run_growth)) * 1e9 - 2;
    if (ns < 1) return 0;
    w.drain_start = tokens;
    w.drain_per_ns = static_cast<double>(timer_.run_growth) / ns;
    return static_cast<core::SimTime>(std::ceil(ns));
  };
  w.drain_start = w.outstanding_min;  // with no drain bound (drain_per_ns 0)
  w.timer = &timer_;
  w.run_base = outstanding_tokens_ - head_tokens;
  w.last = last;
  const bool describe = hint == LoadWindow::kDescribe;
  if (has_head_ && now < timer_.run_start) {  // the head is in flight: its tokens go at its end
    w.outstanding = outstanding_tokens_;
    w.until = timer_.run_start;  // not a boundary of the run: no hint
    w.iteration = -1;
    w.near_min = outstanding_tokens_ - head_tokens;
    if (last > 0 && !describe) {  // the head's tokens now, as a bound, then the run's
      const core::SimTime gap = drain(0, w.near_min);
      w.drain_from = now;
      w.near_until = timer_.run_start + gap;
    }
    return w;
  }
  if (describe) {
    w.outstanding = w.run_base;
    w.iteration = LoadWindow::kDescribe;
    return w;
  }
  core::SimTime next = core::kTimeMax;  // boundary k + 1, once known
  const std::int64_t k = iterations_now(timer_, last, now, hint, hint_until, next);
  w.iteration = k;
  w.outstanding = outstanding_tokens_ - head_tokens - k * timer_.run_growth;
  if (k < last) {
    if (next == core::kTimeMax) next = timer_.run_boundary(k + 1);
    w.until = std::max(next, now + 1);
    // Boundary k + 1 takes the first run_growth tokens: the line reaches one iteration's worth there.
    const core::SimTime gap = drain(k, w.outstanding);
    w.drain_from = std::min(now, next - gap);
    w.near_min = w.outstanding - timer_.run_growth;
    w.near_until = k + 1 < last ? next + gap : core::kTimeMax;
  } else {
    w.drain_start = w.outstanding;
    w.near_min = w.outstanding;
  }
  return w;
}

KvWindow Instance::kv_window(std::int64_t hint, core::SimTime hint_until) const {
  const core::SimTime now = engine_->now();
  KvWindow w;
  w.off = !powered();
  w.queued = policy_.queued();
  const bool in_run = timer_.busy && timer_.ff_run;
  if (has_head_ && now < timer_.run_start) {  // the head is in flight: the run has taken no block yet
    w.free = in_run ? run_free_start_ : kv_.free();
    w.until = timer_.run_start;
    w.iteration = -1;
    return w;
  }
  const std::int64_t last = in_run && timer_.run_iterations > 1 ? timer_.run_iterations - 1 : 0;
  core::SimTime next = core::kTimeMax;
  const std::int64_t k = iterations_now(timer_, last, now, hint, hint_until, next);
  w.iteration = k;
  if (k < last) {
    if (next == core::kTimeMax) next = timer_.run_boundary(k + 1);
    w.until = std::max(next, now + 1);
  }
  w.free = in_run ? free_in_run(k) : kv_.free();  // kv_blocks_free() at the same count k
  return w;
}

}  // namespace greenfleet::serving
