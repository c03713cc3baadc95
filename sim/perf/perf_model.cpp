#include "sim/perf/perf_model.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::perf {

namespace {
double sum_line(double a, double b, double x0, double dx, std::int64_t first, std::int64_t n) {
  if (n <= 0) return 0;
  const double nn = static_cast<double>(n);
  const double f = static_cast<double>(first);
  return nn * (a + b * x0) + b * dx * (nn * f + nn * (nn - 1) / 2);
}
}  // namespace

double sum_max_of_crossing_lines(double a1, double b1, double a2, double b2, double x0, double dx,
                                 std::int64_t k) {
  // d(i) = line1 - line2 is linear in i; find where it changes sign.
  const double d0 = (a1 - a2) + (b1 - b2) * x0;
  const double slope = (b1 - b2) * dx;
  if (slope == 0) return d0 >= 0 ? sum_line(a1, b1, x0, dx, 0, k) : sum_line(a2, b2, x0, dx, 0, k);
  // First index at which the sign differs from the sign at 0.
  double cross = -d0 / slope;  // real root
  std::int64_t split;
  if (cross <= 0)
    split = 0;
  else if (cross >= static_cast<double>(k))
    split = k;
  else
    split = static_cast<std::int64_t>(std::ceil(cross));
  split = std::clamp<std::int64_t>(split, 0, k);
  // Before the split the sign is that of d(0) (for split>0); after it the other line dominates.
  const bool first_is_1_before = (d0 > 0) || (d0 == 0 && slope < 0);
  // Decide each side by evaluating the lines at a representative index, so ties at the root are harmless.
  auto dominant_is_1 = [&](std::int64_t i) {
    const double x = x0 + static_cast<double>(i) * dx;
    return a1 + b1 * x >= a2 + b2 * x;
  };
  double total = 0;
  if (split > 0) {
    const bool one = split == k ? dominant_is_1(0) : first_is_1_before;
    total += one ? sum_line(a1, b1, x0, dx, 0, split) : sum_line(a2, b2, x0, dx, 0, split);
  }
  if (split < k) {
    const bool one = dominant_is_1(k - 1);
    total += one ? sum_line(a1, b1, x0, dx, split, k - split) : sum_line(a2, b2, x0, dx, split, k - split);
  }
  return total;
}

double sum_max_of_lines_with_floor(double floor, double fixed, double a1, double b1, double a2, double b2,
                                   double x0, double dx, std::int64_t k) {
  if (k <= 0) return 0;
  // Indices where line j (with `fixed`) is below the floor: c + s i < 0 with c its margin at i = 0, s its slope
  // in i. Each is an interval of i; below the floor is their intersection [lo, hi).
  std::int64_t lo = 0, hi = k;
  const auto below = [&](double a, double b) {
    const double c = fixed + a + b * x0 - floor, s = b * dx;
    if (s == 0) {
      if (c >= 0) hi = lo;  // never below
      return;
    }
    const double root = -c / s;  // c + s i = 0
    if (s > 0) {                 // below for i < root
      const double end = std::ceil(root);
      hi = std::min(hi, end <= 0 ? 0 : end >= static_cast<double>(k) ? k : static_cast<std::int64_t>(end));
    } else {  // below for i > root
      const double start = std::floor(root) + 1;
      lo = std::max(lo, start <= 0 ? 0 : start >= static_cast<double>(k) ? k : static_cast<std::int64_t>(start));
    }
  };
  below(a1, b1);
  below(a2, b2);
  if (hi <= lo) lo = hi = k;  // nowhere below: the two-line sum over the whole run
  const auto lines = [&](std::int64_t first, std::int64_t n) {
    if (n <= 0) return 0.0;
    return static_cast<double>(n) * fixed +
           sum_max_of_lines(a1, b1, a2, b2, x0 + static_cast<double>(first) * dx, dx, n);
  };
  return lines(0, lo) + static_cast<double>(hi - lo) * floor + lines(hi, k - hi);
}

}  // namespace greenfleet::perf
