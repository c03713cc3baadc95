#include "sim/workload/synthetic.hpp"

#include <fmt/format.h>

#include "sim/core/error.hpp"
#include "sim/workload/arrival_clock.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::workload {

double LengthDistribution::log_mean_mu() const { return std::log(mean) - 0.5 * sigma * sigma; }

std::int32_t LengthDistribution::sample(core::Rng& rng, double mu) const {
  double x = value;
  switch (kind) {
    case Kind::kConstant:
      x = value;
      break;
    case Kind::kLognormal:
      x = rng.lognormal(mu, sigma);
      break;
    case Kind::kUniform:
      x = min + (max - min) * rng.uniform();
      break;
    case Kind::kEmpirical:
      x = values[rng.below(values.size())];
      break;
  }
  return static_cast<std::int32_t>(std::lround(std::clamp(x, min, max)));
}

SyntheticSource::SyntheticSource(const SyntheticSpec& spec, std::uint64_t seed)
    : spec_(spec),
      arrivals_(core::Rng::stream(seed, "workload.arrivals")),
      prompts_(core::Rng::stream(seed, "workload.prompt")),
      outputs_(core::Rng::stream(seed, "workload.output")),
      prompt_mu_(spec.prompt.log_mean_mu()),
      output_mu_(spec.output.log_mean_mu()) {}

bool SyntheticSource::next(RequestSpec& out) {
  if (produced_ >= spec_.requests) return false;
  if (produced_ > 0) {
    if (spec_.gamma_arrivals) {
      const double shape = 1.0 / (spec_.cv * spec_.cv);
      clock_s_ += arrivals_.gamma(shape, 1.0 / (spec_.rate * shape));
    } else if (spec_.diurnal_amplitude > 0) {
      // Thinning (Lewis and Shedler): candidates at the peak rate, kept with probability rate(t) / peak.
      const double peak = spec_.rate * (1 + spec_.diurnal_amplitude);
      for (;;) {
        clock_s_ += arrivals_.exponential(peak);
        const double phase = 2 * M_PI * (clock_s_ - spec_.diurnal_peak_s) / spec_.diurnal_period_s;
        const double rate = spec_.rate * (1 + spec_.diurnal_amplitude * std::cos(phase));
        if (arrivals_.uniform() * peak < rate) break;
      }
    } else {
      clock_s_ += arrivals_.exponential(spec_.rate);
    }
  }
  // 100 years at most, like trace arrivals, so that deadlines and step times added to it cannot wrap.
  if (!(clock_s_ <= core::to_seconds(ArrivalClock::kMaxSpan)))
    throw core::InputError(
        fmt::format("workload.synthetic: arrival {} s is more than 100 years into the run (out of range); raise "
                    "rate or lower requests",
                    clock_s_));
  const std::int32_t prompt = spec_.prompt.sample(prompts_, prompt_mu_);
  const std::int32_t output = spec_.output.sample(outputs_, output_mu_);
  set_online_request(out, produced_++, core::from_seconds(clock_s_), prompt, output);
  return true;
}

}  // namespace greenfleet::workload
