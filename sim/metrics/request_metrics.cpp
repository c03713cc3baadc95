#include "sim/metrics/request_metrics.hpp"

#include <algorithm>

namespace greenfleet::metrics {

RequestTimings timings_of(const serving::RequestState& r, const SloTargets& slo) {
  RequestTimings t;
  if (r.status != serving::RequestStatus::kCompleted) return t;
  t.ttft = r.first_token - r.spec.arrival;
  t.e2e = r.completion - r.spec.arrival;
  t.queue = r.first_scheduled - r.spec.arrival;
  const std::int32_t later_tokens = r.spec.output_tokens - 1;
  t.tpot_s = later_tokens > 0 ? core::to_seconds(r.completion - r.first_token) / later_tokens : 0.0;
  t.ttft_met = t.ttft <= slo.ttft;
  t.tpot_met = t.tpot_s <= core::to_seconds(slo.tpot);
  // Online requests are judged on latency; offline ones (EcoServe's batch work) only on their deadline.
  if (r.spec.cls == workload::RequestClass::kOffline)
    t.slo_met = r.spec.deadline < 0 || r.completion <= r.spec.deadline;
  else
    t.slo_met = t.ttft_met && t.tpot_met;
  return t;
}

void RequestMetrics::on_request_done(std::uint32_t, const serving::RequestState& r) {
  ClassMetrics* k = classes_.empty() ? nullptr : &classes_[r.spec.workload_class];
  if (r.status == serving::RequestStatus::kRejected) {
    ++rejected_;
    if (k) ++k->rejected;
    return;
  }
  if (r.status == serving::RequestStatus::kUnfinished) {
    ++unfinished_;
    if (k) ++k->unfinished;
    return;
  }
  const RequestTimings t = timings_of(r, slos_[r.spec.workload_class]);
  if (k) {
    ++k->completed;
    k->ttft.add(t.ttft);
    k->e2e.add(t.e2e);
    if (r.spec.output_tokens > 1) k->tpot.add(core::from_seconds(t.tpot_s));
    k->ttft_met += t.ttft_met ? 1 : 0;
    k->tpot_met += t.tpot_met ? 1 : 0;
    k->latency_met += t.ttft_met && t.tpot_met ? 1 : 0;
    k->slo_met += t.slo_met ? 1 : 0;
    k->deadline_missed += r.spec.deadline >= 0 && r.completion > r.spec.deadline ? 1 : 0;
  }
  const int c = static_cast<int>(r.spec.cls);
  ++completed_;
  ++completed_class_[c];
  ttft_.add(t.ttft);
  e2e_.add(t.e2e);
  queue_.add(t.queue);
  if (r.spec.output_tokens > 1) tpot_.add(core::from_seconds(t.tpot_s));
  if (t.slo_met) ++slo_met_, ++slo_met_class_[c];
  prompt_tokens_ += static_cast<std::uint64_t>(r.spec.prompt_tokens);
  output_tokens_ += static_cast<std::uint64_t>(r.spec.output_tokens);
}

}  // namespace greenfleet::metrics
