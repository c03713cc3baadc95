#pragma once
#include <cstdint>
#include <string>

#include "sim/calibration/operator_fit.hpp"
#include "sim/calibration/stack_fit.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/perf/perf_model.hpp"

namespace greenfleet::calibration {

struct OperatorModelSpec {
  spec::LlmModel model;
  spec::GpuSpec gpu;
  int tensor_parallel = 1;
  HingeLine linear, emb;    // per layer per TP shard, and per step (fit_operators)
  AllReduceFit all_reduce;  // one all-reduce among tensor_parallel GPUs (unused at TP 1)
  StackFit stack;           // all zeros: the bare operator sum, without attention or stack terms
};

// A step priced from its operators:
//   overhead + layers x (linear(T) + 2 all-reduces(T x hidden)) + emb(T) + lm_head(sampled)
//   + attention (prefill FLOPs, decode KV reads) + tensor-parallel stack terms(T)
// with T the step's tokens. The LM head is the per-layer linear time at the sampled sequences scaled by the
// ratio of its parameters to a layer's (both GEMMs read their weights once and do 2 FLOPs per parameter per
// token: ours). Decode steps are a line in the total context, so decode runs keep their closed-form sum.
class OperatorModel final : public perf::PerfModel {
 public:
  explicit OperatorModel(OperatorModelSpec spec);
  std::string kind() const override { return "operators"; }
  perf::StepCost step_cost(const perf::BatchShape& shape) const override;
  perf::DecodeCost decode_cost(std::int32_t batch) const override;
  const OperatorModelSpec& spec() const { return spec_; }

  // The parts, for fitting: the time that depends on the step's tokens and sampled sequences only (everything
  // but the overhead and attention), and the analytic attention and ring times before their fitted factors.
  double token_seconds(double tokens, double sampled) const;
  double attention_flop_seconds(double positions) const { return positions * flop_s_per_position_; }
  double kv_read_seconds(double ctx) const { return ctx * read_s_per_ctx_; }
  double ring_hops() const { return hops_; }
  double ring_seconds(double tokens) const { return tokens * ring_s_per_token_; }
  // The exact context coefficients of the model (what derive_coefficients copies).
  double per_attn_ctx_s() const { return spec_.stack.attn_compute_factor * flop_s_per_position_; }
  double per_decode_ctx_s() const { return spec_.stack.attn_bandwidth_factor * read_s_per_ctx_; }

 private:
  OperatorModelSpec spec_;
  double layers_ = 0;
  double allreduce_bytes_per_token_ = 0;
  double lm_head_ratio_ = 0;
  double flop_s_per_position_ = 0;
  double read_s_per_ctx_ = 0;
  double hops_ = 0;
  double ring_s_per_token_ = 0;
};

// KV heads held by one TP shard: heads are split across shards, and replicated where there are fewer heads
// than shards (vLLM's rule for grouped-query attention).
double kv_heads_per_shard(const spec::LlmModel& m, int tp);

// A prefill-only step of `tokens / prompt` whole prompts of `prompt` tokens each, as the stack fit and the
// derivation price it.
perf::BatchShape whole_prompts_prefill(std::int64_t tokens, std::int64_t prompt);

}  // namespace greenfleet::calibration
