#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/metrics/log_histogram.hpp"
#include "sim/serving/observer.hpp"

namespace greenfleet::metrics {

struct SloTargets {
  core::SimTime ttft = 0;
  core::SimTime tpot = 0;
};

// Derived timings of one finished request; the single definition used by the summary and the output file.
struct RequestTimings {
  core::SimTime ttft = -1, e2e = -1, queue = -1;
  double tpot_s = 0;  // mean inter-token time after the first token; 0 for single-token outputs
  bool ttft_met = false, tpot_met = false;  // completed within each latency target (any kind)
  bool slo_met = false;                     // online: both latency targets; offline: the deadline
};

// Inline: the summary and the output file each ask once per request.
inline RequestTimings timings_of(const serving::RequestState& r, const SloTargets& slo) {
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

// The SLO of each workload class, indexed by RequestSpec::workload_class (one entry when no classes are
// configured: the experiment's `slo`).
using SloTable = std::vector<SloTargets>;

// What one workload class's requests did (kept only when the experiment configures classes).
struct ClassMetrics {
  LogHistogram ttft, tpot, e2e;
  std::uint64_t completed = 0, rejected = 0, unfinished = 0;
  std::uint64_t ttft_met = 0, tpot_met = 0, latency_met = 0;  // completed within TTFT, TPOT, both
  std::uint64_t slo_met = 0;                                  // by the rule of RequestTimings::slo_met
  std::uint64_t deadline_missed = 0;                          // offline requests completed after their deadline
  std::uint64_t arrived() const { return completed + rejected + unfinished; }
};

// Per-experiment latency distributions, SLO attainment, throughput and goodput, in constant memory.
class RequestMetrics final : public serving::ServingObserver {
 public:
  explicit RequestMetrics(SloTargets slo) : slos_{slo} {}
  // One SLO per workload class; with `per_class`, ClassMetrics are kept for each (the summary's class blocks).
  RequestMetrics(SloTable slos, bool per_class) : slos_(std::move(slos)), classes_(per_class ? slos_.size() : 0) {}
  unsigned signals() const override { return kRequests; }
  void on_request_done(std::uint32_t slot, const serving::RequestState& r) override;

  const LogHistogram& ttft() const { return ttft_; }
  const LogHistogram& tpot() const { return tpot_; }
  const LogHistogram& e2e() const { return e2e_; }
  const LogHistogram& queue() const { return queue_; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t rejected() const { return rejected_; }
  std::uint64_t unfinished() const { return unfinished_; }
  std::uint64_t slo_met() const { return slo_met_; }
  std::uint64_t completed_class(int c) const { return completed_class_[c]; }
  std::uint64_t slo_met_class(int c) const { return slo_met_class_[c]; }
  std::uint64_t prompt_tokens() const { return prompt_tokens_; }
  std::uint64_t output_tokens() const { return output_tokens_; }
  const SloTable& slos() const { return slos_; }
  // Signed relative errors (predicted / simulated - 1) of the TTFT and TPOT a mode router predicted for completed
  // requests (mode_router: greenllm); empty otherwise.
  const std::vector<double>& prediction_errors_ttft() const { return prediction_ttft_; }
  const std::vector<double>& prediction_errors_tpot() const { return prediction_tpot_; }
  bool per_class() const { return !classes_.empty(); }
  const std::vector<ClassMetrics>& classes() const { return classes_; }

 private:
  SloTable slos_;
  std::vector<double> prediction_ttft_, prediction_tpot_;
  std::vector<ClassMetrics> classes_;
  LogHistogram ttft_, tpot_, e2e_, queue_;
  std::uint64_t completed_ = 0, rejected_ = 0, unfinished_ = 0, slo_met_ = 0;
  std::uint64_t completed_class_[2] = {0, 0}, slo_met_class_[2] = {0, 0};
  std::uint64_t prompt_tokens_ = 0, output_tokens_ = 0;
};

}  // namespace greenfleet::metrics
