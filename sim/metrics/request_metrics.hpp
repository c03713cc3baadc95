#pragma once
#include <cstdint>

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
  bool slo_met = false;
};
RequestTimings timings_of(const serving::RequestState& r, const SloTargets& slo);

// Per-experiment latency distributions, SLO attainment, throughput and goodput, in constant memory.
class RequestMetrics final : public serving::ServingObserver {
 public:
  explicit RequestMetrics(SloTargets slo) : slo_(slo) {}
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

 private:
  SloTargets slo_;
  LogHistogram ttft_, tpot_, e2e_, queue_;
  std::uint64_t completed_ = 0, rejected_ = 0, unfinished_ = 0, slo_met_ = 0;
  std::uint64_t completed_class_[2] = {0, 0}, slo_met_class_[2] = {0, 0};
  std::uint64_t prompt_tokens_ = 0, output_tokens_ = 0;
};

}  // namespace greenfleet::metrics
