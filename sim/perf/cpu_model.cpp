#include "sim/perf/cpu_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/core/error.hpp"

namespace greenfleet::perf {

double amdahl_factor(double serial_fraction, int threads) {
  return serial_fraction + (1 - serial_fraction) / static_cast<double>(threads);
}

CpuInferenceModel::CpuInferenceModel(spec::CpuCoefficients c, int threads, double amx_speedup)
    : c_(std::move(c)), threads_(threads), amx_speedup_(amx_speedup) {
  if (threads < 1)
    throw core::InputError(fmt::format("CPU inference model: threads must be >= 1, got {}", threads));
  if (!(amx_speedup > 0) || !std::isfinite(amx_speedup))
    throw core::InputError(fmt::format("CPU inference model: amx_speedup must be > 0, got {}", amx_speedup));
  compute_scale_ = amdahl_factor(c_.serial_fraction, threads) / amx_speedup;
}

StepCost CpuInferenceModel::step_cost(const BatchShape& s) const {
  StepCost cost;
  if (s.tokens() == 0) return cost;
  const double seqs = s.decode_seqs, tokens = static_cast<double>(s.prefill_tokens);
  // The weights are streamed once per step whatever it holds, so a prefill-only step has the floor too.
  const double stream = c_.floor_s + compute_scale_ * c_.stream_per_seq_1t_s * seqs;
  const double decode_compute = compute_scale_ * c_.compute_per_seq_1t_s * seqs;
  const double compute = decode_compute + compute_scale_ * c_.per_prefill_token_1t_s * tokens;
  cost.seconds = std::max(stream, compute);
  if (s.prefill_seqs == 0) {
    cost.prefill_share = 0;
  } else if (s.decode_seqs == 0) {
    cost.prefill_share = 1;
  } else {
    // The prefill's share is the time it adds to the decode step alone (never negative: adding tokens never
    // makes a step cheaper).
    cost.prefill_share = (cost.seconds - std::max(stream, decode_compute)) / cost.seconds;
  }
  // llama.cpp's worker threads spin through the whole step (streaming or computing), so all of it is busy.
  cost.busy_seconds = cost.seconds;
  return cost;
}

DecodeCost CpuInferenceModel::decode_cost(std::int32_t batch) const {
  DecodeCost d;
  d.batch = batch;
  d.fixed = 0;
  d.a1 = batch > 0 ? c_.floor_s + compute_scale_ * c_.stream_per_seq_1t_s * batch : 0.0;  // as step_cost
  d.a2 = compute_scale_ * c_.compute_per_seq_1t_s * batch;
  d.b1 = d.b2 = 0;  // no context term: the measurements cannot identify one (docs/CPU_MODEL.md)
  d.overhead = 0;
  return d;
}

double CpuInferenceModel::busy_power_w(int threads) const {
  return c_.power_base_w + c_.power_per_thread_w * threads;
}

}  // namespace greenfleet::perf
