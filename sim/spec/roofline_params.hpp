#pragma once

// Parameters of the roofline step-time model (settable per deployment).
namespace greenfleet::spec {

// Efficiency factors that turn datasheet peaks into achieved rates. The defaults are our reconstruction (not
// measured): typical dense-GEMM utilisation of LLM prefill and achieved HBM bandwidth of decode kernels; the
// calibrated model (sim/perf/calibrated.*) or efficiencies carried from it replace them. Every one can be set per
// deployment in YAML.
struct RooflineParams {
  double compute_efficiency = 0.55;    // achieved / peak dense FP16 FLOP/s
  double bandwidth_efficiency = 0.80;  // achieved / peak memory bandwidth
  double step_overhead_s = 1.0e-3;     // scheduler, sampling and launch overhead per step
  double allreduce_latency_s = 8e-6;   // per all-reduce (2 per layer) when tensor parallel
  // How much of the shorter of compute and memory time a step adds to the longer: step = max(C, M) + s x min(C,
  // M); 0 is the classic roofline (perfect overlap), 1 their sum. Fitted to ML.ENERGY v3's training models
  // (H100, vLLM 2025; calibration::fit_compute_memory_serial, docs/MODELS.md "ML.ENERGY v3 replay"); YAML:
  // `perf_model.compute_memory_serial`.
  double compute_memory_serial = 0.9;
};

}  // namespace greenfleet::spec
