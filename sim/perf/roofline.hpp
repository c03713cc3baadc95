#pragma once
#include <string>

#include "sim/fleet/catalog.hpp"
#include "sim/perf/perf_model.hpp"

namespace greenfleet::perf {

// Efficiency factors that turn datasheet peaks into achieved rates. The defaults are our reconstruction (not
// measured): typical dense-GEMM utilisation of LLM prefill and achieved HBM bandwidth of decode kernels; the
// calibrated model (sim/perf/calibrated.*) or efficiencies carried from it replace them. Every one can be set per
// deployment in YAML.
struct RooflineParams {
  double compute_efficiency = 0.55;    // achieved / peak dense FP16 FLOP/s
  double bandwidth_efficiency = 0.80;  // achieved / peak memory bandwidth
  double step_overhead_s = 1.0e-3;     // scheduler, sampling and launch overhead per step
  double allreduce_latency_s = 8e-6;   // per all-reduce (2 per layer) when tensor parallel
};

// Roofline: a step costs its fixed overhead plus the larger of its compute time (matmul and attention FLOPs at
// the effective FLOP rate) and its memory time (all weights once, plus the KV cache read, at the effective
// bandwidth), plus tensor-parallel all-reduces. Prefill-heavy steps come out compute-bound and decode steps
// bandwidth-bound without a special case.
class RooflineModel final : public PerfModel {
 public:
  RooflineModel(const LlmModel& model, const fleet::GpuSpec& gpu, int tensor_parallel, RooflineParams params);

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
  RooflineParams params_;
};

}  // namespace greenfleet::perf
