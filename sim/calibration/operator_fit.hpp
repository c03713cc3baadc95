#pragma once
#include "sim/calibration/held_out.hpp"
#include "sim/calibration/least_squares.hpp"
#include "sim/calibration/vidur_data.hpp"

namespace greenfleet::calibration {

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

}  // namespace greenfleet::calibration
