#include "sim/workload/transforms.hpp"

#include <cmath>

namespace greenfleet::workload {

TransformedSource::TransformedSource(std::unique_ptr<RequestSource> inner, TransformSpec spec, std::uint64_t seed)
    : inner_(std::move(inner)), spec_(spec), offline_rng_(core::Rng::stream(seed, "workload.offline")) {}

bool TransformedSource::next(RequestSpec& out) {
  while (inner_->next(out)) {
    if (out.arrival < spec_.window_start) continue;
    if (spec_.window_end && out.arrival >= *spec_.window_end) return false;  // sources are time-ordered
    const double shifted = static_cast<double>(out.arrival - spec_.window_start);
    out.arrival = static_cast<core::SimTime>(std::llround(shifted / spec_.rate_scale));
    out.id = next_id_++;
    // One draw per request whatever the share, so changing the share does not reshuffle which requests flip.
    const bool offline = offline_rng_.uniform() < spec_.offline_share;
    out.cls = offline ? RequestClass::kOffline : RequestClass::kOnline;
    out.deadline = offline ? out.arrival + spec_.offline_deadline : -1;
    return true;
  }
  return false;
}

}  // namespace greenfleet::workload
