#pragma once
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/calibration/operator_model.hpp"
#include "sim/perf/calibrated.hpp"

namespace greenfleet::calibration {

// spec::CalibrationCoefficients of `m` (gpu, model, TP, origin derived and the eight coefficients; source and the
// fit block are left to the caller): the context coefficients copied exactly, the rest fitted to the model's
// step times by weighted least squares on relative error over derivation_grid().
spec::CalibrationCoefficients derive_coefficients(const OperatorModel& m);

// The batch shapes the derivation is fitted on (derived_coefficients.cpp says why these ranges):
//   prefill: tokens 16, 32, ..., 16384 x prompt lengths 16, 32, ..., 8192 (a prompt no longer than the tokens
//            or the model's context), tokens / prompt sequences each;
//   decode:  batch 1..256 x context per sequence 128, 512, 2048, 8192 (no longer than the model's context).
std::vector<perf::BatchShape> derivation_grid(int max_context);

// Absolute percentage errors of `derived` against `m` over derivation_grid().
ErrorStats approximation_errors(const perf::PerfModel& derived, const OperatorModel& m);

}  // namespace greenfleet::calibration
