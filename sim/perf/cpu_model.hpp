#pragma once
#include <string>

#include "sim/perf/perf_model.hpp"
#include "sim/spec/cpu_coefficients.hpp"

namespace greenfleet::perf {

// EcoServe reports its AMX-based CPU inference stack 3.67x faster than the llama.cpp baseline whose
// measurements calibrate this model (EcoServe, arXiv 2502.05043, Reuse). 1.0 is the measured
// llama.cpp baseline.
inline constexpr double kEcoServeAmxSpeedup = 3.67;

// Amdahl's factor: the time of one unit of one-thread work on n threads.
double amdahl_factor(double serial_fraction, int threads);

// LLM inference on host CPU cores reserved for it (EcoServe's Reuse): a performance model like the GPU ones,
// for one instance running on `threads` threads, with `amx_speedup` dividing its compute (not the weight
// read).
class CpuInferenceModel final : public PerfModel {
 public:
  CpuInferenceModel(spec::CpuCoefficients c, int threads, double amx_speedup = kEcoServeAmxSpeedup);
  std::string kind() const override { return "cpu"; }
  StepCost step_cost(const BatchShape& shape) const override;
  DecodeCost decode_cost(std::int32_t batch) const override;

  // Host power (W) while inference runs on `threads` threads, as measured with the llama.cpp baseline: it
  // covers the whole host as the log measured it, not the inference's increment over an idle host. The same
  // power is assumed with AMX (not measured), so energy per token falls with the speed-up.
  double busy_power_w(int threads) const;
  double busy_power_w() const { return busy_power_w(threads_); }

  int threads() const { return threads_; }
  double amx_speedup() const { return amx_speedup_; }
  const spec::CpuCoefficients& coefficients() const { return c_; }

 private:
  spec::CpuCoefficients c_;
  int threads_;
  double amx_speedup_;
  double compute_scale_;  // g(threads) / amx_speedup
};

}  // namespace greenfleet::perf
