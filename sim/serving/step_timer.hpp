#pragma once
#include <algorithm>
#include <cstdint>

#include "sim/core/time.hpp"
#include "sim/perf/batch_shape.hpp"
#include "sim/perf/perf_model.hpp"

namespace greenfleet::serving {

// The timing of an instance's step in flight: a single step priced by its StepCost, or a fast-forwarded run of
// decode iterations of one batch priced in closed form by a DecodeCost, possibly after a head (a mixed step that
// ends where the run starts). Answers, exactly and at any instant, how many of the run's iterations are done and
// when each ends; keeps the reference mode's clock (stepping times the steps fast-forward would fold as that run
// would: one rounding for the whole stretch).
struct StepTimer {
  bool busy = false;             // a step is in flight
  core::SimTime step_start = 0;  // start of the step in flight (of its head, if it has one)
  core::SimTime run_start = 0;   // where its decode run starts: step_start unless the step has a head
  bool ff_run = false;           // the step is (or ends with) a decode run priced by run_cost
  perf::DecodeCost run_cost;
  std::int64_t run_iterations = 1;  // of the run when ff_run (0: a head cut before its run), else 1
  std::int64_t run_ctx = 0;         // the run's total context in its first iteration
  std::int64_t run_growth = 0;      // what each iteration adds to it: sequences x tokens each emits
  perf::StepCost step_cost;         // the single step's cost, or its head's
  // Reference mode: the decode-only steps since the last batch change, timed as the run fast-forward would fold
  // them into.
  bool stepped_run = false;
  core::SimTime stepped_run_start = 0, stepped_run_end = 0;
  double stepped_run_seconds = 0;

  // Starts a run of `iterations` iterations of the decode batch `shape` at run_start, priced by `cost`, each
  // sequence emitting `tokens_per_step` tokens per iteration.
  void begin_run(const perf::DecodeCost& cost, const perf::BatchShape& shape, std::int64_t iterations,
                 std::int32_t tokens_per_step) {
    run_cost = cost;
    run_ctx = shape.decode_ctx;
    run_growth = static_cast<std::int64_t>(shape.decode_seqs) * tokens_per_step;
    run_iterations = iterations;
    ff_run = true;
  }
  // When the run ends (at least 1 ns after it starts).
  core::SimTime run_end() const {
    return run_start + std::max<core::SimTime>(
                           1, core::from_seconds(run_cost.run_seconds(run_ctx, run_iterations, run_growth)));
  }
  // When the single step ends, `extra_s` (swap transfers) included; in reference mode, a decode-only step
  // (`foldable`) continues the stretch of such steps since the last batch change.
  core::SimTime single_step_end(double extra_s, bool foldable) {
    core::SimTime end = step_start + std::max<core::SimTime>(1, core::from_seconds(step_cost.seconds + extra_s));
    // Rounding each step instead lets the two modes' clocks drift apart by up to half a nanosecond per
    // iteration, enough after thousands of iterations for an arrival to fall between them and join a different
    // step.
    if (foldable) {
      if (!stepped_run || stepped_run_end != step_start) {
        stepped_run_start = step_start;
        stepped_run_seconds = 0;
      }
      stepped_run_seconds += step_cost.seconds;
      end = std::max(step_start + 1, stepped_run_start + core::from_seconds(stepped_run_seconds));
      stepped_run = true;
      stepped_run_end = end;
    } else {
      stepped_run = false;
    }
    return end;
  }
  // End of iteration j of the run (j = 0: its start).
  core::SimTime run_boundary(std::int64_t j) const {
    if (j == 0) return run_start;
    return run_start + core::from_seconds(run_cost.run_seconds(run_ctx, j, run_growth));
  }
  // Iterations of the run completed by `t` (0 outside a run).
  std::int64_t completed_iterations_at(core::SimTime t) const;
  // The same, setting `next_end` to run_boundary(count + 1) where finding the count computed it (else untouched):
  // a run cut at the next boundary needs it.
  std::int64_t completed_iterations_at(core::SimTime t, core::SimTime& next_end) const;
  // The devices' busy time from step_start to `end`: in a run of `iterations` iterations, all of it but their
  // overheads (and waits on a host floor); in a single step, its busy part (all of it unless `end` comes first).
  double busy_seconds_to(core::SimTime end, std::int64_t iterations) const {
    const double elapsed = core::to_seconds(end - step_start);
    if (ff_run) {
      if (run_cost.has_floor()) [[unlikely]]
        return busy_run_floored(iterations, elapsed);
      return std::max(0.0, elapsed - static_cast<double>(iterations) * run_cost.overhead);
    }
    return std::min(step_cost.busy_seconds, elapsed);
  }
  // A run's busy time under a host floor, which adds waits that are not busy: its steps without the floor (out of
  // line, so that the common case's callers carry only the test).
  [[gnu::noinline, gnu::cold]] double busy_run_floored(std::int64_t iterations, double elapsed) const;

 private:
  // completed_iterations_at() of a run with a host floor (kFloor) or without one: the floor is tested once per
  // call, not at each boundary it computes; the floored copy is out of line.
  template <bool kFloor>
  [[gnu::always_inline]] inline std::int64_t completed_impl(core::SimTime t, core::SimTime* next_end) const;
  [[gnu::noinline, gnu::cold]] std::int64_t completed_floored(core::SimTime t, core::SimTime* next_end) const;
};

}  // namespace greenfleet::serving
