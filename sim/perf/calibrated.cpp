#include "sim/perf/calibrated.hpp"

#include <algorithm>

namespace greenfleet::perf {

StepCost CalibratedModel::step_cost(const BatchShape& s) const {
  const double prefill = c_.per_prefill_token * static_cast<double>(s.prefill_tokens) + c_.per_attn_ctx * s.prefill_attn_ctx;
  const double decode = c_.per_decode_seq * s.decode_seqs + c_.per_decode_ctx * static_cast<double>(s.decode_ctx);
  double fixed = 0;
  if (s.prefill_seqs > 0 && s.decode_seqs > 0) fixed = std::max(c_.prefill_fixed, c_.decode_fixed);
  else if (s.prefill_seqs > 0) fixed = c_.prefill_fixed;
  else fixed = c_.decode_fixed;
  StepCost cost;
  cost.seconds = fixed + prefill + decode;
  // The fixed term of measured steps is mostly device work (reading the weights), so the whole step counts as
  // busy for the power model.
  cost.busy_seconds = cost.seconds;
  cost.prefill_share = prefill + decode > 0 ? prefill / (prefill + decode) : 0.0;
  return cost;
}

DecodeCost CalibratedModel::decode_cost(std::int32_t batch) const {
  DecodeCost d;
  d.batch = batch;
  d.fixed = c_.decode_fixed + c_.per_decode_seq * batch;
  d.a1 = d.a2 = 0;
  d.b1 = d.b2 = c_.per_decode_ctx;
  d.overhead = 0;
  return d;
}

}  // namespace greenfleet::perf
