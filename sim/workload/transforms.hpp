#pragma once
#include <memory>
#include <optional>

#include "sim/core/rng.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

struct TransformSpec {
  core::SimTime window_start = 0;                     // keep arrivals in [start, end) of the original trace time
  std::optional<core::SimTime> window_end;            // and shift them so the window starts at 0
  double rate_scale = 1;                              // > 1 compresses time: 2 doubles the request rate
  double offline_share = 0;                           // share of requests tagged offline (EcoServe: 21-55%)
  core::SimTime offline_deadline = 24 * core::kHour;  // offline completion deadline after arrival
};

// Applies window selection, rate scaling and online/offline tagging to any source, still one request at a time.
// Ids are renumbered from 0 in the order requests are emitted.
class TransformedSource final : public RequestSource {
 public:
  TransformedSource(std::unique_ptr<RequestSource> inner, TransformSpec spec, std::uint64_t seed);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return inner_->skipped_rows(); }

 private:
  std::unique_ptr<RequestSource> inner_;
  TransformSpec spec_;
  core::Rng offline_rng_;
  std::uint64_t next_id_ = 0;
};

}  // namespace greenfleet::workload
