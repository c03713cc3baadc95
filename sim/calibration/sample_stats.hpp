#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace greenfleet::calibration {

// Nearest-rank quantile of a small sample (validation tables); 0 for an empty one. For streams use LogHistogram.
inline double sample_quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

// Median (the mean of the middle two for an even count).
inline double sample_median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace greenfleet::calibration
