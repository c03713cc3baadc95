#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

// A token-length distribution, clamped to [min, max] and rounded to a whole number of tokens.
struct LengthDistribution {
  enum class Kind { kConstant, kLognormal, kUniform, kEmpirical };
  Kind kind = Kind::kConstant;
  double value = 1;    // constant
  double mean = 1;     // lognormal: mean of the distribution (not of its log)
  double sigma = 0.5;  // lognormal: standard deviation of the log
  double min = 1, max = 1 << 20;
  std::vector<double> values;  // empirical: sampled uniformly

  // `mu` is log_mean_mu() for a lognormal (computed once by the caller: a log per sample cost 4% of a run).
  std::int32_t sample(core::Rng& rng, double mu) const;
  // The mean of the log of a lognormal with this mean and sigma: log(mean) - sigma^2 / 2.
  double log_mean_mu() const;
};

struct SyntheticSpec {
  std::uint64_t requests = 1000;
  double rate = 1;              // mean arrivals per second
  bool gamma_arrivals = false;  // false: Poisson
  double cv = 1;                // coefficient of variation of inter-arrival times (gamma)
  // Diurnal modulation (Poisson only): rate(t) = rate x (1 + amplitude x cos(2 pi (t - peak) / period)).
  double diurnal_amplitude = 0;
  double diurnal_period_s = 86400;
  double diurnal_peak_s = 14 * 3600;
  LengthDistribution prompt, output;
};

// Generates requests on the fly from independent RNG streams for arrivals, prompts and outputs.
class SyntheticSource final : public RequestSource {
 public:
  SyntheticSource(const SyntheticSpec& spec, std::uint64_t seed);
  bool next(RequestSpec& out) override;

 private:
  SyntheticSpec spec_;
  core::Rng arrivals_, prompts_, outputs_;
  double prompt_mu_, output_mu_;  // log_mean_mu() of the length distributions (used by lognormal ones)
  std::uint64_t produced_ = 0;
  double clock_s_ = 0;
};

}  // namespace greenfleet::workload
