#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sim/fleet/catalog.hpp"
#include "sim/perf/calibration.hpp"
#include "sim/perf/operator_fit.hpp"

namespace greenfleet::perf {

// What a GPU architecture's serving stack adds to the sum of Vidur's operator times, fitted to SplitwiseSim's
// measured Llama-2-70B steps (fit_stack). The attention terms are analytic (Vidur has no attention timings):
//   prefill attention: attn_compute_factor x its FLOPs at the peak FP16 rate,
//   decode attention:  attn_bandwidth_factor x its KV reads at the peak memory bandwidth,
// so each factor is 1 / efficiency. The tensor-parallel terms are what the measured engine spent on
// all-reduces beyond Vidur's NCCL microbenchmark, in the terms of a ring all-reduce (2 (t - 1) steps of
// latency, and 2 (t - 1) / t of the message over the link).
struct StackFit {
  std::string architecture, source;
  double step_overhead_s = 0;        // per step: scheduling, sampling, launches
  double attn_compute_factor = 0;    // 1 / compute efficiency of prefill attention
  double attn_bandwidth_factor = 0;  // 1 / bandwidth efficiency of decode attention
  double hop_latency_s = 0;          // per ring step of each all-reduce
  double ring_byte_factor = 0;       // multiples of the ideal ring transfer time over the catalog link
  int training_points = 0;
  ErrorStats training;  // relative errors of the composed model on the training steps
  double compute_efficiency() const { return attn_compute_factor > 0 ? 1 / attn_compute_factor : 0; }
  double bandwidth_efficiency() const { return attn_bandwidth_factor > 0 ? 1 / attn_bandwidth_factor : 0; }
};

struct OperatorModelSpec {
  LlmModel model;
  fleet::GpuSpec gpu;
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
class OperatorModel final : public PerfModel {
 public:
  explicit OperatorModel(OperatorModelSpec spec);
  std::string kind() const override { return "operators"; }
  StepCost step_cost(const BatchShape& shape) const override;
  DecodeCost decode_cost(std::int32_t batch) const override;
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

// Fits a StackFit for one GPU architecture: for each training step of each measured set (prefill steps, and
// the mean decode step of generations that ran in full) the target is the measured time less the bare
// operator sum of `bare` (a model with a zero StackFit), and the features are one step, the prefill attention
// FLOP time, the decode KV read time, the ring hops and the ring time; weighted least squares on relative
// error (weights 1 / measured), coefficients non-negative.
StackFit fit_stack(const std::string& architecture, const std::string& source,
                   const std::vector<std::pair<OperatorModel, MeasuredSet>>& bare);

// CalibrationCoefficients of `m` (gpu, model, TP and the eight coefficients; the fit block is left to the
// caller): the context coefficients copied exactly, the rest fitted to the model's step times by weighted
// least squares on relative error over derivation_grid():
//   prefill: tokens 16, 32, ..., 16384 x prompt lengths 16, 32, ..., 8192 (a prompt no longer than the tokens
//   or
//            the model's context), tokens / prompt sequences each;
//   decode:  batch 1..256 x context per sequence 128, 512, 2048, 8192 (no longer than the model's context).
CalibrationCoefficients derive_coefficients(const OperatorModel& m);
std::vector<BatchShape> derivation_grid(int max_context);
// Absolute percentage errors of `derived` against `m` over derivation_grid().
ErrorStats approximation_errors(const PerfModel& derived, const OperatorModel& m);

// Whether the model's weights and the KV cache of one sequence of its full context fit in `tp` GPUs within
// vLLM's default gpu_memory_utilization of 0.9 (vLLM EngineArgs; the rest is left to activations and the CUDA
// context).
bool fits_in_memory(const LlmModel& model, const fleet::GpuSpec& gpu, int tp);

}  // namespace greenfleet::perf
