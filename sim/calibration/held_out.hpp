#pragma once
#include <cstddef>
#include <vector>

#include "sim/calibration/sample_stats.hpp"

namespace greenfleet::calibration {

// The hold-out rule of the step-time calibrations (SplitwiseSim steps, Vidur token counts and all-reduce
// sizes, CPU throughput rows): in the sorted order of the points, every third one starting with the second
// (index 1, 4, 7, ...) is held out for validation and the rest are fitted, so the smallest point is always
// fitted and the held-out points spread evenly over the measured range.
inline bool is_held_out(std::size_t index) { return index % 3 == 1; }

// Absolute percentage errors of a fit on some points, summarised.
struct ErrorStats {
  int points = 0;
  double median_ape = 0, p90_ape = 0;  // percent
};

// Median and p90 (nearest rank) of absolute percentage errors; zeros for an empty sample.
inline ErrorStats ape_stats(const std::vector<double>& ape) {
  ErrorStats s;
  s.points = static_cast<int>(ape.size());
  if (!ape.empty())
    s.median_ape = calibration::sample_median(ape), s.p90_ape = calibration::sample_quantile(ape, 0.9);
  return s;
}

}  // namespace greenfleet::calibration
