#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/text/text_rows.hpp"
#include "sim/workload/arrival_clock.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

// Azure LLM inference traces: `TIMESTAMP,ContextTokens,GeneratedTokens` (2023: "2023-11-16 18:15:46.6805900";
// 2024: "2024-05-12 00:00:00.004566+00:00"). Columns are found by name. Arrivals are relative to the first row.
// `named_by` (trace_origin.hpp): where the experiment named the file, appended to every message about it.
class AzureCsvSource final : public RequestSource {
 public:
  AzureCsvSource(const std::string& path, text::BadRowPolicy on_bad_row, const std::string& named_by = "");
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return rows_.skipped(); }

 private:
  text::LineReader rows_;
  std::uint64_t next_id_ = 0;
  int col_time_ = -1, col_prompt_ = -1, col_output_ = -1, ncols_ = 0;
  ArrivalClock clock_;
  std::vector<std::string_view> fields_;
};

}  // namespace greenfleet::workload
