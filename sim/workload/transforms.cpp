#include "sim/workload/transforms.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/core/error.hpp"
#include "sim/workload/arrival_clock.hpp"

namespace greenfleet::workload {

TransformedSource::TransformedSource(std::unique_ptr<RequestSource> inner, TransformSpec spec, std::uint64_t seed)
    : inner_(std::move(inner)), spec_(spec), offline_rng_(core::Rng::stream(seed, "workload.offline")) {}

bool TransformedSource::next(RequestSpec& out) {
  while (inner_->next(out)) {
    if (out.arrival < spec_.window_start) continue;
    if (spec_.window_end && out.arrival >= *spec_.window_end) return false;  // sources are time-ordered
    if (spec_.rate_scale == 1.0) {
      out.arrival -= spec_.window_start;  // exact in integers (the common case)
    } else {
      const double scaled = static_cast<double>(out.arrival - spec_.window_start) / spec_.rate_scale;
      if (!(scaled <= static_cast<double>(ArrivalClock::kMaxSpan)))
        throw core::InputError(
            fmt::format("workload.rate_scale {}: request {} would arrive more than 100 years into the run (out "
                        "of range)",
                        spec_.rate_scale, out.id));
      out.arrival = static_cast<core::SimTime>(std::llround(scaled));
    }
    out.id = next_id_++;
    // One draw per request whatever the share, so changing the share does not reshuffle which requests flip
    // (the stream is this transform's own, so a share of 0 or 1 needs none).
    const double share = spec_.offline_share;
    const bool offline = share >= 1.0 || (share > 0.0 && offline_rng_.uniform() < share);
    out.cls = offline ? RequestClass::kOffline : RequestClass::kOnline;
    out.deadline = offline ? out.arrival + spec_.offline_deadline : -1;
    return true;
  }
  return false;
}

}  // namespace greenfleet::workload
