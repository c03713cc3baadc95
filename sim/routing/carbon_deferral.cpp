#include "sim/routing/carbon_deferral.hpp"

#include <algorithm>
#include <cmath>

namespace greenfleet::routing {

namespace {
// Relative difference of two slots' mean carbon intensity below which they count as equal (rounding of integrals).
constexpr double kCiTolerance = 1e-9;
}  // namespace

CarbonDeferral::Need CarbonDeferral::estimate(const RequestState& r, const Instance& in, const RoutingContext& c) {
  const std::int32_t batch = std::max<std::int32_t>(1, in.config().max_num_seqs);
  const std::int64_t prompt = r.spec.prompt_tokens, output = std::max<std::int32_t>(r.spec.output_tokens, 1);
  const double prefill = c.prefill(in, r.spec.prompt_tokens).seconds;
  // A full batch of requests like this one, each holding its prompt and half its output on average.
  const double decode = c.decode(in, batch, batch * (prompt + output / 2), output).seconds;
  return Need{prefill + decode, prefill + decode / batch};
}

core::SimTime CarbonDeferral::latest_release(const RequestState& r, const Need& need) const {
  const core::SimTime deadline = r.spec.deadline >= 0 ? r.spec.deadline : r.spec.arrival + settings_.max_defer;
  return deadline - settings_.deadline_margin - static_cast<core::SimTime>(std::ceil(need.latency_s * 1e9));
}

Decision CarbonDeferral::route(const RequestState& r, std::span<const Instance* const> instances,
                               const RoutingContext& context) {
  const core::SimTime now = context.now();
  // Online requests, and offline ones coming back from a deferral (routed again after their arrival), take the
  // inner router's choice.
  if (r.spec.cls != workload::RequestClass::kOffline || now > r.spec.arrival)
    return then_->route(r, instances, context);
  const Instance& first = *instances[0];
  const energy::CarbonSignal* ci = context.carbon_signal(first);
  const Need need = estimate(r, first, context);
  const core::SimTime latest = latest_release(r, need);
  const core::SimTime slot = settings_.slot;
  const auto current = static_cast<std::size_t>(now / slot);
  // Instance-seconds a slot can take: `fill` of the pool's time within the part of it the request may use.
  const double rate = settings_.fill * static_cast<double>(instances.size());
  const auto join_now = [&] {
    booked(current) += need.instance_s;
    return then_->route(r, instances, context);
  };
  if (!ci || latest <= now) return join_now();  // no series, or no room left before the deadline
  std::size_t best = SIZE_MAX;
  double best_ci = 0;
  core::SimTime best_lo = 0, best_hi = 0;
  const auto last = static_cast<std::size_t>(latest / slot);
  for (std::size_t j = current; j <= last; ++j) {
    const core::SimTime lo = std::max(now, static_cast<core::SimTime>(j) * slot);
    const core::SimTime hi = std::min(latest, static_cast<core::SimTime>(j + 1) * slot);
    if (hi <= lo) continue;
    if (booked(j) + need.instance_s > rate * core::to_seconds(hi - lo)) continue;  // full
    // Ties go to the earliest; means of partial slots differ from whole ones by rounding, hence the tolerance.
    const double mean = ci->mean(lo, hi);
    if (best == SIZE_MAX || mean < best_ci - kCiTolerance * best_ci)
      best = j, best_ci = mean, best_lo = lo, best_hi = hi;
  }
  if (best == SIZE_MAX) {
    ++overflowed_;
    return join_now();
  }
  if (best == current) return join_now();
  // At the slot's start, or in booking order at the pace of its capacity; never past the latest release.
  double& b = booked(best);
  const auto offset = settings_.paced ? static_cast<core::SimTime>(b / rate * 1e9) : 0;
  b += need.instance_s;
  ++deferred_;
  return Decision::defer(std::min(best_lo + offset, best_hi));
}

}  // namespace greenfleet::routing
