#pragma once
#include <string>

#include "sim/perf/perf_model.hpp"

namespace greenfleet::perf {

// Coefficients of the calibrated step-time model for one (GPU, model, tensor-parallel degree), fitted to
// measurements by `greenfleet calibrate` and stored under models/calibration/. Times in seconds. Each phase has a
// floor (the time to stream the weights, which small batches cannot go below) and a linear part above it:
//   prefill step:  max(prefill_floor, prefill_fixed + per_prefill_token x tokens + per_attn_ctx x positions)
//   decode step:   max(decode_floor, decode_fixed + per_decode_seq x sequences) + per_decode_ctx x total context
//   mixed step:    max(prefill_floor, prefill_fixed + prefill and sequence terms) + per_decode_ctx x context
// The decode form is a maximum of two lines in the context, so decode runs keep their closed-form sum.
// Tensor-parallel communication is inside the coefficients (they are fitted per TP degree on measured steps).
struct CalibrationCoefficients {
  std::string gpu, model, source;
  int tensor_parallel = 1;
  double prefill_floor = 0, prefill_fixed = 0, per_prefill_token = 0, per_attn_ctx = 0;
  double decode_floor = 0, decode_fixed = 0, per_decode_seq = 0, per_decode_ctx = 0;
  // Held-out fit quality, as absolute percentage errors.
  int training_points = 0, held_out_points = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;
  double e2e_median_ape = 0, e2e_p90_ape = 0;
  int e2e_points = 0;
  // Fitted to whole-step measurements (SplitwiseSim, the measurement harness), which always include end-to-end
  // points; entries derived from operator timings have none.
  bool whole_step_measured() const { return e2e_points > 0; }
};

class CalibratedModel final : public PerfModel {
 public:
  explicit CalibratedModel(CalibrationCoefficients c) : c_(std::move(c)) {}
  std::string kind() const override { return "calibrated"; }
  StepCost step_cost(const BatchShape& shape) const override;
  DecodeCost decode_cost(std::int32_t batch) const override;
  const CalibrationCoefficients& coefficients() const { return c_; }

 private:
  CalibrationCoefficients c_;
};

}  // namespace greenfleet::perf
