#include "sim/perf/calibrated.hpp"

#include <algorithm>

namespace greenfleet::perf {

StepCost CalibratedModel::step_cost(const BatchShape& s) const {
  const double tokens = static_cast<double>(s.prefill_tokens);
  double prefill = c_.per_prefill_token * tokens + c_.per_attn_ctx * s.prefill_attn_ctx;
  // Tested, not computed: most entries have no knee, and this runs at every step.
  if (c_.prefill_knee_tokens > 0 && tokens > c_.prefill_knee_tokens)
    prefill += c_.per_prefill_token_above_knee * (tokens - c_.prefill_knee_tokens);
  const double decode = s.decode_seqs > 0
                            ? std::max(c_.decode_floor, c_.decode_fixed + c_.per_decode_seq * s.decode_seqs) +
                                  c_.per_decode_ctx * static_cast<double>(s.decode_ctx)
                            : 0.0;
  StepCost cost;
  if (s.prefill_seqs == 0) {
    cost.seconds = decode;
    cost.prefill_share = 0;
  } else if (s.decode_seqs == 0) {
    cost.seconds = std::max(c_.prefill_floor, c_.prefill_fixed + prefill);
    cost.prefill_share = 1;
  } else {
    // A chunk riding along with decodes adds its own work to the decode step, and the step is never shorter
    // than a prefill step's floor: adding tokens never makes a step cheaper.
    cost.seconds = std::max(c_.prefill_floor, decode + prefill);
    cost.prefill_share = (cost.seconds - decode) / cost.seconds;
  }
  // Measured steps are device work nearly throughout (the floor is the weight read): all of it is busy.
  cost.busy_seconds = cost.seconds;
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
