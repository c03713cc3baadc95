#pragma once
#include <algorithm>
#include <vector>

#include "sim/perf/calibration.hpp"
#include "sim/perf/vidur_data.hpp"

namespace greenfleet::perf {

// max(floor, fixed + slope x): a time that small inputs cannot go below (streaming the weights, launching the
// kernels) and a line above it.
struct HingeLine {
  double floor = 0, fixed = 0, slope = 0;
  double at(double x) const { return std::max(floor, fixed + slope * x); }
};

// Weighted least squares, minimising sum (w_r (f_r . c - y_r))^2 with non-negative coefficients (every subset
// of the features is fitted and the best non-negative fit kept; exact and deterministic for the few features
// used here). With w_r = 1 / y_r it is the relative-error fit (fit_relative_least_squares).
std::vector<double> fit_weighted_least_squares(const std::vector<std::vector<double>>& features,
                                               const std::vector<double>& targets,
                                               const std::vector<double>& weights);

// Fits pred_i = max(floor, fixed + slope x_i + offset_i) to y_i, minimising sum (w_i (pred_i - y_i))^2: every
// split of the points (sorted by x, between distinct values) into a floor group (floor = its weighted mean)
// and a line group (non-negative weighted fit of y - offset); the split with the least error over all points
// wins.
HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y,
                    const std::vector<double>& offset, const std::vector<double>& weights);
// The relative-error fit of a hinge to (x, y) with no offset.
HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y);

// Median and p90 of absolute percentage errors (an empty sample gives zeros).
ErrorStats ape_stats(const std::vector<double>& ape);

// The fits of one Vidur operator set: per-layer linear-path time and embedding time vs tokens, each a hinge
// fitted on the training token counts; `held_out` is the per-layer linear time's error on the held-out ones.
struct OperatorFit {
  HingeLine linear, emb;
  int training_points = 0;
  ErrorStats held_out;
};
OperatorFit fit_operators(const OperatorSet& set);

// All-reduce of `workers` GPUs: latency + bytes x per_byte (relative least squares on the training sizes).
struct AllReduceFit {
  double latency_s = 0, per_byte_s = 0;
  int training_points = 0;
  ErrorStats held_out;
  double seconds(double bytes) const { return latency_s + per_byte_s * bytes; }
};
AllReduceFit fit_all_reduce(const AllReduceSet& set);

}  // namespace greenfleet::perf
