#include "sim/perf/roofline.hpp"

#include <algorithm>

#include "sim/perf/ring_all_reduce.hpp"

namespace greenfleet::perf {

RooflineModel::RooflineModel(const spec::LlmModel& model, const spec::GpuSpec& gpu, int tensor_parallel,
                             spec::RooflineParams params)
    : tp_(tensor_parallel), params_(params) {
  const double peak_tflops = (model.bytes_per_param == 1 && gpu.fp8_tflops > 0) ? gpu.fp8_tflops : gpu.fp16_tflops;
  flop_rate_ = peak_tflops * 1e12 * tp_ * params_.compute_efficiency;
  byte_rate_ = gpu.memory_bandwidth_gbps * 1e9 * tp_ * params_.bandwidth_efficiency;
  link_rate_ = gpu.link_bandwidth_gbps * 1e9;
  layers_ = model.layers;
  const double vocab_params = static_cast<double>(model.vocab_size) * model.hidden_size;
  flops_per_token_ = 2.0 * model.layer_parameters();
  flops_per_logit_ = 2.0 * vocab_params;
  attn_flops_per_ctx_ = 4.0 * model.layers * static_cast<double>(model.heads) * model.head_dim;
  weight_bytes_ = model.weight_bytes();
  kv_bytes_per_token_ = model.kv_bytes_per_token();
  activation_bytes_per_token_ = static_cast<double>(model.hidden_size) * model.bytes_per_param;
}

double RooflineModel::comm_seconds(std::int64_t tokens) const {
  if (tp_ <= 1) return 0;
  // Two ring all-reduces per layer (after attention and after the MLP) of the step's activations.
  const double message = static_cast<double>(tokens) * activation_bytes_per_token_;
  const double per_allreduce = ring_all_reduce_seconds(message, tp_, link_rate_) + params_.allreduce_latency_s;
  return 2.0 * layers_ * per_allreduce;
}

StepCost RooflineModel::step_cost(const BatchShape& s) const {
  const double prefill_flops = flops_per_token_ * static_cast<double>(s.prefill_tokens) +
                               flops_per_logit_ * s.prefill_final_chunks +
                               attn_flops_per_ctx_ * s.prefill_attn_ctx;
  const double decode_flops = (flops_per_token_ + flops_per_logit_) * s.decode_seqs +
                              attn_flops_per_ctx_ * static_cast<double>(s.decode_ctx);
  const double flops = prefill_flops + decode_flops;
  const double bytes =
      weight_bytes_ + kv_bytes_per_token_ * static_cast<double>(s.prefill_kv_tokens + s.decode_ctx);
  StepCost c;
  // Compute and memory time overlap only partly (compute_memory_serial: spec/roofline_params.hpp).
  const double compute_s = flops / flop_rate_, memory_s = bytes / byte_rate_;
  c.seconds = params_.step_overhead_s + std::max(compute_s, memory_s) +
              params_.compute_memory_serial * std::min(compute_s, memory_s) + comm_seconds(s.tokens());
  // The whole step is priced at serving power, overhead included: measured serving power (ML.ENERGY, the
  // calibrated power curves) is an average over whole steps, engine overhead and all, and GPUs keep their
  // clocks through the short gaps between a step's kernels (docs/MODELS.md, "Energy: whole step").
  c.busy_seconds = c.seconds;
  c.prefill_share = flops > 0 ? prefill_flops / flops : 0.0;
  return c;
}

DecodeCost RooflineModel::decode_cost(std::int32_t batch) const {
  // Both roofline terms are lines in the total context x: compute C = a1 + b1 x, memory M = a2 + b2 x; with the
  // serial share s (0 <= s <= 1), max(C, M) + s min(C, M) = max(C + s M, M + s C), still a maximum of two lines.
  DecodeCost c;
  c.batch = batch;
  const double b = static_cast<double>(batch);
  const double s = params_.compute_memory_serial;
  const double a1 = (flops_per_token_ + flops_per_logit_) * b / flop_rate_, b1 = attn_flops_per_ctx_ / flop_rate_;
  const double a2 = weight_bytes_ / byte_rate_, b2 = kv_bytes_per_token_ / byte_rate_;
  c.a1 = a1 + s * a2, c.b1 = b1 + s * b2;
  c.a2 = a2 + s * a1, c.b2 = b2 + s * b1;
  c.overhead = 0;  // busy throughout, as step_cost() prices it
  c.fixed = params_.step_overhead_s + comm_seconds(batch);
  return c;
}

}  // namespace greenfleet::perf
