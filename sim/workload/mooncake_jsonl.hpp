#pragma once
#include <string>

#include "sim/workload/request.hpp"
#include "sim/workload/text_rows.hpp"

namespace greenfleet::workload {

// Mooncake (FAST'25) traces: one JSON object per line with `timestamp` (ms from trace start), `input_length`,
// `output_length` and `hash_ids` (prefix-block hashes, 512-token blocks), kept on the request. Other keys are
// ignored so later trace releases with extra fields still load.
class MooncakeJsonlSource final : public RequestSource {
 public:
  MooncakeJsonlSource(const std::string& path, BadRowPolicy on_bad_row);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return rows_.skipped(); }

 private:
  LineReader rows_;
  std::uint64_t next_id_ = 0;
  ArrivalClock clock_;
};

}  // namespace greenfleet::workload
