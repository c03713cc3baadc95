#pragma once
#include <string>

// Coefficients of the calibrated step-time model, as models/calibration/<gpu>/<model>-tp<N>.yaml stores them.
namespace greenfleet::spec {

// Where a set of coefficients comes from: fitted to whole-step measurements (SplitwiseSim, the measurement
// harness of models/calibration/measure/), or derived from the operator model built on Vidur's operator
// timings (docs/MODELS.md). Every coefficient file states it (`origin: measured | derived`); the roofline
// fallback carries measured entries before derived ones (carried_efficiency).
enum class CalibrationOrigin { kMeasured, kDerived };
inline const char* to_string(CalibrationOrigin o) {
  return o == CalibrationOrigin::kMeasured ? "measured" : "derived";
}

// Coefficients of the calibrated step-time model for one (GPU, model, tensor-parallel degree), written by
// `greenfleet calibrate` under models/calibration/. Times in seconds. Each phase has a floor (the time to
// stream the weights, which small batches cannot go below) and a linear part above it:
//   prefill work: per_prefill_token x tokens + per_prefill_token_above_knee x max(0, tokens - prefill_knee_tokens)
//                 + per_attn_ctx x positions
//   prefill step: max(prefill_floor, prefill_fixed + prefill work)
//   decode step:  max(decode_floor, decode_fixed + per_decode_seq x sequences) + per_decode_ctx x context
//   mixed step:   max(prefill_floor, decode step + prefill work)
// The knee (0: none) is where a step's prompt tokens stop sharing the GPU's unsaturated throughput: each token
// beyond it costs the extra slope too (docs/MODELS.md, "Prefill knee"). Only whole-step fits have one.
// The decode form is a maximum of two lines in the context, so decode runs keep their closed-form sum.
// Tensor-parallel communication is inside the coefficients (they are fitted or derived per TP degree).
struct CalibrationCoefficients {
  std::string gpu, model, source;
  int tensor_parallel = 1;
  CalibrationOrigin origin = CalibrationOrigin::kMeasured;
  double prefill_floor = 0, prefill_fixed = 0, per_prefill_token = 0, per_attn_ctx = 0;
  double prefill_knee_tokens = 0, per_prefill_token_above_knee = 0;
  double decode_floor = 0, decode_fixed = 0, per_decode_seq = 0, per_decode_ctx = 0;
  // The per-step engine overhead inside the floors and fixed terms, where the derivation knows it (derived
  // entries: the stack fit's); 0 where a whole-step fit does not separate it. The roofline fallback carries it.
  double step_overhead = 0;
  // Held-out fit quality, as absolute percentage errors.
  int training_points = 0, held_out_points = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;
  double e2e_median_ape = 0, e2e_p90_ape = 0;
  int e2e_points = 0;
};

}  // namespace greenfleet::spec
