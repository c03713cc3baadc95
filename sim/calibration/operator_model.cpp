#include "sim/calibration/operator_model.hpp"

#include <algorithm>
#include <utility>

#include "sim/perf/ring_all_reduce.hpp"

namespace greenfleet::calibration {

OperatorModel::OperatorModel(OperatorModelSpec spec) : spec_(std::move(spec)) {
  const spec::LlmModel& m = spec_.model;
  const double tp = spec_.tensor_parallel;
  layers_ = m.layers;
  allreduce_bytes_per_token_ = static_cast<double>(m.hidden_size) * m.bytes_per_param;
  // LM head (hidden x vocabulary) against one layer's matrices.
  lm_head_ratio_ = static_cast<double>(m.vocab_size) * m.hidden_size / (m.layer_parameters() / m.layers);
  const double heads = m.heads / tp;
  // Prefill attention: QK^T and AV, 2 FLOPs per multiply-add each, per head and attended position.
  flop_s_per_position_ = layers_ * 4.0 * heads * m.head_dim / (spec_.gpu.fp16_tflops * 1e12);
  // Decode attention: the keys and values of the context are streamed once per KV head, as FlashAttention- and
  // FlashInfer-class decode kernels (and vLLM's since its V1 engine) do with grouped queries: the query heads of
  // a group share one read. ML.ENERGY v3 shows it: charged per query head, its long-context decode steps would
  // need more than the H100's peak bandwidth (docs/MODELS.md, "Decode attention").
  read_s_per_ctx_ = layers_ * 2.0 * kv_heads_per_shard(m, spec_.tensor_parallel) * m.head_dim * m.bytes_per_param /
                    (spec_.gpu.memory_bandwidth_gbps * 1e9);
  if (spec_.tensor_parallel > 1) {
    // Two ring all-reduces per layer (after attention and after the MLP) of one token's activations each.
    const double all_reduces = 2.0 * layers_;
    hops_ = all_reduces * perf::ring_all_reduce_steps(spec_.tensor_parallel);
    ring_s_per_token_ = perf::ring_all_reduce_seconds(all_reduces * allreduce_bytes_per_token_,
                                                      spec_.tensor_parallel, spec_.gpu.link_bandwidth_gbps * 1e9);
  }
}

double OperatorModel::token_seconds(double tokens, double sampled) const {
  if (tokens <= 0) return 0;
  const double comm =
      spec_.tensor_parallel > 1 ? 2.0 * spec_.all_reduce.seconds(tokens * allreduce_bytes_per_token_) : 0.0;
  const double lm_head = sampled > 0 ? spec_.linear.at(sampled) * lm_head_ratio_ : 0.0;
  const double stack = spec_.stack.hop_latency_s * hops_ + spec_.stack.ring_byte_factor * ring_seconds(tokens);
  return layers_ * (spec_.linear.at(tokens) + comm) + spec_.emb.at(tokens) + lm_head + stack;
}

perf::StepCost OperatorModel::step_cost(const perf::BatchShape& s) const {
  perf::StepCost c;
  const double tokens = static_cast<double>(s.tokens());
  if (tokens <= 0) return c;
  const double shared = token_seconds(tokens, s.prefill_final_chunks + s.decode_seqs);
  const double attn_prefill = per_attn_ctx_s() * s.prefill_attn_ctx;
  const double attn_decode = per_decode_ctx_s() * static_cast<double>(s.decode_ctx);
  c.busy_seconds = shared + attn_prefill + attn_decode;
  c.seconds = spec_.stack.step_overhead_s + c.busy_seconds;
  // The token-proportional time is shared by the phases in proportion to their tokens.
  const double prefill_work = shared * static_cast<double>(s.prefill_tokens) / tokens + attn_prefill;
  c.prefill_share = c.busy_seconds > 0 ? prefill_work / c.busy_seconds : 0.0;
  return c;
}

perf::DecodeCost OperatorModel::decode_cost(std::int32_t batch) const {
  perf::DecodeCost d;
  d.batch = batch;
  d.fixed = d.overhead = spec_.stack.step_overhead_s;
  d.a1 = d.a2 = token_seconds(batch, batch);
  d.b1 = d.b2 = per_decode_ctx_s();
  return d;
}

double kv_heads_per_shard(const spec::LlmModel& m, int tp) { return std::max(1, (m.kv_heads + tp - 1) / tp); }

perf::BatchShape whole_prompts_prefill(std::int64_t tokens, std::int64_t prompt) {
  perf::BatchShape s;
  const std::int64_t seqs = tokens / prompt;
  s.prefill_tokens = tokens;
  s.prefill_seqs = s.prefill_final_chunks = static_cast<std::int32_t>(seqs);
  s.prefill_attn_ctx =
      static_cast<double>(seqs) * (static_cast<double>(prompt) * static_cast<double>(prompt + 1) / 2);
  s.prefill_kv_tokens = tokens;
  return s;
}

}  // namespace greenfleet::calibration
