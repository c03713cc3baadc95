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
// selected (and not counted as skipped). `named_by` (trace_origin.hpp): where the experiment named the file.
class BurstGptCsvSource final : public RequestSource {
 public:
  BurstGptCsvSource(const std::string& path, text::BadRowPolicy on_bad_row, std::string model_filter,
                    const std::string& named_by = "");
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return rows_.skipped(); }
  // Any column of the header (e.g. `Model` or `Log Type`) can classify requests (workload.classes[].column).
  bool select_column(const std::string& name) override;
  std::string_view column_value() const override {
    return col_selected_ < 0 ? std::string_view() : fields_[static_cast<std::size_t>(col_selected_)];
  }

 private:
  text::LineReader rows_;
  std::string model_filter_;
  std::uint64_t next_id_ = 0;
  std::vector<std::string> header_;
  int col_selected_ = -1;
  int col_time_ = -1, col_model_ = -1, col_request_ = -1, col_response_ = -1, ncols_ = 0;
  ArrivalClock clock_;
  std::vector<std::string_view> fields_;
};

}  // namespace greenfleet::workload
