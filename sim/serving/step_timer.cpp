#include "sim/serving/step_timer.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::serving {

std::int64_t StepTimer::completed_iterations_at(core::SimTime t) const {
  if (!busy || !ff_run || run_iterations <= 1 || t <= run_start) return 0;
  const double elapsed = core::to_seconds(t - run_start);
  const double c0 = static_cast<double>(run_ctx);
  const double dx = static_cast<double>(run_growth);
  const double c_last = c0 + static_cast<double>(run_iterations - 1) * dx;
  const perf::DecodeCost& c = run_cost;
  std::int64_t lo, hi;
  const bool first_dominates_start = c.a1 + c.b1 * c0 >= c.a2 + c.b2 * c0;
  const bool first_dominates_end = c.a1 + c.b1 * c_last >= c.a2 + c.b2 * c_last;
  if (first_dominates_start == first_dominates_end && c.floor <= 0) {
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
  std::int64_t j = std::clamp<std::int64_t>((lo + hi) / 2, 0, run_iterations - 1);
  if (j > 0 && run_boundary(j) > t) {
    if (--j > 0 && run_boundary(j) > t)
      hi = j - 1, lo = 0;
    else
      return j;
  } else {
    if (j + 1 >= run_iterations || run_boundary(j + 1) > t) return j;
    if (++j + 1 >= run_iterations || run_boundary(j + 1) > t) return j;
    lo = j + 1, hi = run_iterations - 1;
  }
  while (lo < hi) {  // largest j in [lo, hi] with run_boundary(j) <= t
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (run_boundary(mid) <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

}  // namespace greenfleet::serving
