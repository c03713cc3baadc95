#include "sim/serving/step_timer.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::serving {

std::int64_t StepTimer::completed_iterations_at(core::SimTime t) const {
  if (!busy || !ff_run || run_iterations <= 1 || t <= run_start) return 0;
  if (run_cost.has_floor()) [[unlikely]]
    return completed_floored(t, nullptr);
  return completed_impl<false>(t, nullptr);
}

std::int64_t StepTimer::completed_iterations_at(core::SimTime t, core::SimTime& next_end) const {
  if (!busy || !ff_run || run_iterations <= 1 || t <= run_start) return 0;
  if (run_cost.has_floor()) [[unlikely]]
    return completed_floored(t, &next_end);
  return completed_impl<false>(t, &next_end);
}

std::int64_t StepTimer::completed_floored(core::SimTime t, core::SimTime* next_end) const {
  return completed_impl<true>(t, next_end);
}

template <bool kFloor>
std::int64_t StepTimer::completed_impl(core::SimTime t, core::SimTime* next_end) const {
  // End of iteration j > 0 of the run: boundary(j), the floor tested once above instead of at each call.
  const auto boundary = [this](std::int64_t j) {
    return run_start + core::from_seconds(kFloor ? run_cost.run_seconds(run_ctx, j, run_growth)
                                                 : run_cost.plain_run_seconds(run_ctx, j, run_growth));
  };
  const double elapsed = core::to_seconds(t - run_start);
  const double c0 = static_cast<double>(run_ctx);
  const double dx = static_cast<double>(run_growth);
  const double c_last = c0 + static_cast<double>(run_iterations - 1) * dx;
  const perf::DecodeCost& c = run_cost;
  std::int64_t lo, hi;
  const bool first_dominates_start = c.a1 + c.b1 * c0 >= c.a2 + c.b2 * c0;
  const bool first_dominates_end = c.a1 + c.b1 * c_last >= c.a2 + c.b2 * c_last;
  if (first_dominates_start == first_dominates_end && !kFloor) {
    // One line all along: S(j) = j (fixed + a + b c0) + b dx j (j - 1) / 2, a quadratic solved for j, then
    // checked against the rounded boundaries.
    const double a = first_dominates_start ? c.a1 : c.a2, b = first_dominates_start ? c.b1 : c.b2;
    const double qa = b * dx / 2, qb = c.fixed + a + b * c0 - qa;
    const double j = qa > 0 ? (-qb + std::sqrt(qb * qb + 4 * qa * elapsed)) / (2 * qa) : elapsed / qb;
    const auto guess = static_cast<std::int64_t>(j);
    lo = std::clamp<std::int64_t>(guess - 1, 0, run_iterations - 1);
    hi = std::clamp<std::int64_t>(guess + 1, 0, run_iterations - 1);
  } else {
    // Iterations only get longer as context grows (a host floor too): the first and last iteration times bracket
    // the count.
    const double first = c.step_seconds(c0), last = c.step_seconds(c_last);
    lo = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / last) - 1, 0, run_iterations - 1);
    hi = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / first) + 1, 0, run_iterations - 1);
  }
  // The estimate is within one iteration in practice: step from it to the exact count, falling back to a
  // binary search over the bracket when rounding put it further off.
  // Where the end of iteration j + 1 of the count j returned is computed on the way, it goes to `next_end`.
  std::int64_t j = std::clamp<std::int64_t>((lo + hi) / 2, 0, run_iterations - 1);
  core::SimTime b = 0;
  if (j > 0 && (b = boundary(j)) > t) {
    if (--j > 0 && boundary(j) > t) {
      hi = j - 1, lo = 0;
    } else {
      if (next_end) *next_end = b;
      return j;
    }
  } else {
    if (j + 1 >= run_iterations) return j;
    if ((b = boundary(j + 1)) > t) {
      if (next_end) *next_end = b;
      return j;
    }
    if (++j + 1 >= run_iterations) return j;
    if ((b = boundary(j + 1)) > t) {
      if (next_end) *next_end = b;
      return j;
    }
    lo = j + 1, hi = run_iterations - 1;
  }
  while (lo < hi) {  // largest j in [lo, hi] with boundary(j) <= t
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (boundary(mid) <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

double StepTimer::busy_run_floored(std::int64_t iterations, double elapsed) const {
  return std::clamp(run_cost.busy_run_seconds(run_ctx, iterations, run_growth), 0.0, elapsed);
}

}  // namespace greenfleet::serving
