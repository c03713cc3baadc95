#pragma once
#include <string>

#include "sim/perf/perf_model.hpp"
#include "sim/spec/gpu.hpp"
#include "sim/spec/llm_model.hpp"
#include "sim/spec/roofline_params.hpp"

namespace greenfleet::perf {

// Roofline: a step costs its fixed overhead plus the larger of its compute time (matmul and attention FLOPs at
// the effective FLOP rate) and its memory time (all weights once, plus the KV cache read, at the effective
// bandwidth), plus tensor-parallel all-reduces. Prefill-heavy steps come out compute-bound and decode steps
// bandwidth-bound without a special case.
class RooflineModel final : public PerfModel {
 public:
  RooflineModel(const spec::LlmModel& model, const spec::GpuSpec& gpu, int tensor_parallel,
                spec::RooflineParams params);

  std::string kind() const override { return "roofline"; }
  StepCost step_cost(const BatchShape& shape) const override;
  DecodeCost decode_cost(std::int32_t batch) const override;

 private:
  double comm_seconds(std::int64_t tokens) const;

  double flop_rate_ = 0;  // effective FLOP/s over all TP devices
  double byte_rate_ = 0;  // effective B/s over all TP devices
  double link_rate_ = 0;  // B/s per direction per device
  int tp_ = 1;
  double layers_ = 0;
  double flops_per_token_ = 0;     // 2 x matmul parameters of the transformer layers
  double flops_per_logit_ = 0;     // 2 x hidden x vocab per sequence producing a token
  double attn_flops_per_ctx_ = 0;  // 4 x layers x (heads x head_dim): QK^T and AV per attended position
  double weight_bytes_ = 0;
  double kv_bytes_per_token_ = 0;
  double activation_bytes_per_token_ = 0;  // hidden x bytes: one all-reduce message per token
  spec::RooflineParams params_;
};

}  // namespace greenfleet::perf
