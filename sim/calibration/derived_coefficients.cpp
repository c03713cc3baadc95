#include "sim/calibration/derived_coefficients.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "sim/calibration/least_squares.hpp"

namespace greenfleet::calibration {

std::vector<perf::BatchShape> derivation_grid(int max_context) {
  // Why these ranges: the coefficients stand in for the operator model in any experiment, so the grid covers
  // the steps a deployment forms, in powers of two because the fit weighs relative errors and step times span
  // orders of magnitude (each octave counts alike).
  // - Prefill: 16 to 16,384 tokens per step, from a short chunk to 8x the scheduler's default token budget
  //   (max_batched_tokens 2048), for deployments that raise it; prompts of 16 to 8,192 tokens, the longest
  //   prompt SplitwiseSim measured (where the stack fit's attention efficiency comes from), capped by the
  //   model's context.
  std::vector<perf::BatchShape> grid;
  for (std::int64_t tokens = 16; tokens <= 16384; tokens *= 2)
    for (std::int64_t prompt = 16; prompt <= std::min<std::int64_t>({8192, tokens, max_context}); prompt *= 2)
      grid.push_back(whole_prompts_prefill(tokens, prompt));
  // - Decode: every batch from 1 to 256, the scheduler's default max_num_seqs (vLLM's too), as the hinge
  //   between the weight-read floor and the per-sequence line can fall at any of them; 128 to 8,192 tokens of
  //   context per sequence, a short chat turn to the longest measured prompt, capped by the model's context.
  for (std::int32_t batch = 1; batch <= 256; ++batch)
    for (std::int64_t per_seq : {128, 512, 2048, 8192}) {
      if (per_seq > max_context) continue;
      perf::BatchShape s;
      s.decode_seqs = batch;
      s.decode_ctx = batch * per_seq;
      grid.push_back(s);
    }
  return grid;
}

spec::CalibrationCoefficients derive_coefficients(const OperatorModel& m) {
  spec::CalibrationCoefficients c;
  const auto& spec = m.spec();
  c.gpu = spec.gpu.id, c.model = spec.model.id, c.tensor_parallel = spec.tensor_parallel;
  c.origin = spec::CalibrationOrigin::kDerived;
  c.per_attn_ctx = m.per_attn_ctx_s();
  c.per_decode_ctx = m.per_decode_ctx_s();
  std::vector<double> px, py, poff, pw, dx, dy, dw;
  for (const perf::BatchShape& s : derivation_grid(spec.model.max_context)) {
    const double y = m.step_seconds(s);
    if (s.prefill_seqs > 0) {
      // Prefill: max(floor, fixed + t x tokens + a x positions), the attention term inside the line.
      px.push_back(static_cast<double>(s.prefill_tokens)), py.push_back(y);
      poff.push_back(c.per_attn_ctx * s.prefill_attn_ctx), pw.push_back(1.0 / y);
    } else {
      // Decode: max(floor, fixed + s x batch) + k x context; the target is the step less its context term,
      // weighted by the whole step.
      dx.push_back(s.decode_seqs), dy.push_back(y - c.per_decode_ctx * static_cast<double>(s.decode_ctx));
      dw.push_back(1.0 / y);
    }
  }
  const HingeLine pre = fit_hinge(px, py, poff, pw);
  c.prefill_floor = pre.floor, c.prefill_fixed = pre.fixed, c.per_prefill_token = pre.slope;
  const HingeLine dec = fit_hinge(dx, dy, std::vector<double>(dx.size(), 0.0), dw);
  c.decode_floor = dec.floor, c.decode_fixed = dec.fixed, c.per_decode_seq = dec.slope;
  return c;
}

ErrorStats approximation_errors(const perf::PerfModel& derived, const OperatorModel& m) {
  std::vector<double> ape;
  for (const perf::BatchShape& s : derivation_grid(m.spec().model.max_context)) {
    const double y = m.step_seconds(s);
    ape.push_back(100 * std::abs(derived.step_seconds(s) - y) / y);
  }
  return ape_stats(ape);
}

}  // namespace greenfleet::calibration
