#pragma once
#include <string>

#include "sim/text/text_rows.hpp"
#include "sim/workload/arrival_clock.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

// Mooncake (FAST'25) traces: one JSON object per line with `timestamp` (ms from trace start), `input_length`,
// `output_length` and `hash_ids` (prefix-block hashes, 512-token blocks), kept on the request. Other keys are
// ignored so later trace releases with extra fields still load. `named_by` (trace_origin.hpp): where the
// experiment named the file, appended to every message about it.
class MooncakeJsonlSource final : public RequestSource {
 public:
  MooncakeJsonlSource(const std::string& path, text::BadRowPolicy on_bad_row, const std::string& named_by = "");
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return rows_.skipped(); }

 private:
  bool next_line();  // rows_.next_line(), its error (a byte-order mark) with named_by_

  std::string named_by_;
  text::LineReader rows_;
  std::uint64_t next_id_ = 0;
  ArrivalClock clock_;
};

}  // namespace greenfleet::workload
