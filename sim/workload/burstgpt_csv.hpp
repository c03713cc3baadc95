#pragma once
#include <string>
#include <vector>

#include "sim/text/text_rows.hpp"
#include "sim/workload/arrival_clock.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

// BurstGPT traces: `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type` with Timestamp in
// seconds from the trace start. Rows with zero response tokens (failed requests in the original service) are
// bad rows. An optional model filter keeps only rows of one Model value; rows of other models are not
// selected (and not counted as skipped).
class BurstGptCsvSource final : public RequestSource {
 public:
  BurstGptCsvSource(const std::string& path, text::BadRowPolicy on_bad_row, std::string model_filter);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return rows_.skipped(); }

 private:
  text::LineReader rows_;
  std::string model_filter_;
  std::uint64_t next_id_ = 0;
  int col_time_ = -1, col_model_ = -1, col_request_ = -1, col_response_ = -1, ncols_ = 0;
  ArrivalClock clock_;
  std::vector<std::string_view> fields_;
};

}  // namespace greenfleet::workload
