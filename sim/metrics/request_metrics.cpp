#include "sim/metrics/request_metrics.hpp"

#include <algorithm>

namespace greenfleet::metrics {

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
  if (r.predicted_ttft_s >= 0 && t.ttft > 0) {
    // A mode router's predictions against what the run gave (relative errors, signed).
    prediction_ttft_.push_back(r.predicted_ttft_s / core::to_seconds(t.ttft) - 1);
    if (r.spec.output_tokens > 1 && t.tpot_s > 0) prediction_tpot_.push_back(r.predicted_tpot_s / t.tpot_s - 1);
  }
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
