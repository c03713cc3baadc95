#pragma once
#include <algorithm>
#include <vector>

namespace greenfleet::calibration {

// The fitting routines the step-time calibrations share (SplitwiseSim, Vidur, CPU). Deterministic: the same
// data give the same bits (compiled with -ffp-contract=off, sim/CMakeLists.txt).

// Weighted least squares, minimising sum (w_r (f_r . c - y_r))^2 with non-negative coefficients (every subset
// of the features is fitted and the best non-negative fit kept; exact and deterministic for the few features
// used here).
std::vector<double> fit_weighted_least_squares(const std::vector<std::vector<double>>& features,
                                               const std::vector<double>& targets,
                                               const std::vector<double>& weights);

// The same on relative error: each row weighted by the inverse of its measurement (w_r = 1 / y_r).
std::vector<double> fit_relative_least_squares(const std::vector<std::vector<double>>& features,
                                               const std::vector<double>& targets);

// max(floor, fixed + slope x): a time that small inputs cannot go below (streaming the weights, launching the
// kernels) and a line above it.
struct HingeLine {
  double floor = 0, fixed = 0, slope = 0;
  double at(double x) const { return std::max(floor, fixed + slope * x); }
};

// Fits pred_i = max(floor, fixed + slope x_i + offset_i) to y_i, minimising sum (w_i (pred_i - y_i))^2: every
// split of the points (sorted by x, between distinct values) into a floor group (floor = its weighted mean)
// and a line group (non-negative weighted fit of y - offset); the split with the least error over all points
// wins.
HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& offset,
                    const std::vector<double>& weights);
// The relative-error fit of a hinge to (x, y) with no offset.
HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace greenfleet::calibration
