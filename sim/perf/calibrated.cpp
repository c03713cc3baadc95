#include "sim/perf/calibrated.hpp"

#include <algorithm>

namespace greenfleet::perf {

StepCost CalibratedModel::step_cost(const BatchShape& s) const {
  const double prefill = c_.per_prefill_token * static_cast<double>(s.prefill_tokens) + c_.per_attn_ctx * s.prefill_attn_ctx;
  const double seqs = c_.per_decode_seq * s.decode_seqs;
  const double ctx = c_.per_decode_ctx * static_cast<double>(s.decode_ctx);
  StepCost cost;
  if (s.prefill_seqs > 0) cost.seconds = std::max(c_.prefill_floor, c_.prefill_fixed + prefill + seqs) + ctx;
  else cost.seconds = std::max(c_.decode_floor, c_.decode_fixed + seqs) + ctx;
  // Measured steps are device work nearly throughout (the floor is the weight read), so all of it counts as busy.
  cost.busy_seconds = cost.seconds;
  cost.prefill_share = cost.seconds > 0 ? std::min(1.0, prefill / cost.seconds) : 0.0;
  return cost;
}

DecodeCost CalibratedModel::decode_cost(std::int32_t batch) const {
  DecodeCost d;
  d.batch = batch;
  d.fixed = 0;
  d.a1 = c_.decode_floor;
  d.a2 = c_.decode_fixed + c_.per_decode_seq * batch;
  d.b1 = d.b2 = c_.per_decode_ctx;
  d.overhead = 0;
  return d;
}

}  // namespace greenfleet::perf
