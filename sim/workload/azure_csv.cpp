#include "sim/workload/azure_csv.hpp"

#include <fmt/format.h>

#include <vector>

#include "sim/core/error.hpp"
#include "sim/text/timestamp.hpp"
#include "sim/workload/trace_origin.hpp"

namespace greenfleet::workload {

AzureCsvSource::AzureCsvSource(const std::string& path, text::BadRowPolicy on_bad_row,
                               const std::string& named_by) try
    : rows_(path, on_bad_row, bad_row_hint(named_by)) {
  if (!rows_.next_line()) throw core::InputError(fmt::format("{}:1: empty trace file (expected a header)", path));
  text::split_csv(rows_.line(), fields_);
  ncols_ = static_cast<int>(fields_.size());
  for (int i = 0; i < ncols_; ++i) {
    text::reject_repeated_column(rows_, fields_, i, {"TIMESTAMP", "ContextTokens", "GeneratedTokens"});
    if (fields_[i] == "TIMESTAMP")
      col_time_ = i;
    else if (fields_[i] == "ContextTokens")
      col_prompt_ = i;
    else if (fields_[i] == "GeneratedTokens")
      col_output_ = i;
  }
  if (col_time_ < 0 || col_prompt_ < 0 || col_output_ < 0)
    throw core::InputError(
        fmt::format("{}:1: header '{}' lacks a column: expected TIMESTAMP, ContextTokens and GeneratedTokens",
                    path, text::clip(rows_.line())));
} catch (const core::InputError& e) {
  throw core::InputError(with_origin(e.what(), named_by));
}

bool AzureCsvSource::next(RequestSpec& out) {
  auto& fields = fields_;
  while (rows_.next_line()) {
    text::split_csv(rows_.line(), fields);
    std::string why;
    std::int64_t t_ns = 0;
    std::int32_t prompt = 0, output = 0;
    std::string bad_time, bad_prompt, bad_output;
    if (static_cast<int>(fields.size()) != ncols_) {
      why = fmt::format("expected {} columns, found {}", ncols_, fields.size());
    } else if (!text::parse_timestamp(fields[col_time_], t_ns, bad_time)) {
      why = fmt::format("TIMESTAMP '{}': {}", text::clip(fields[col_time_]), bad_time);
    } else if (!(bad_prompt = text::check_count(fields[col_prompt_], prompt)).empty()) {
      why = fmt::format("ContextTokens '{}' {}", text::clip(fields[col_prompt_]), bad_prompt);
    } else if (!(bad_output = text::check_count(fields[col_output_], output)).empty()) {
      why = fmt::format("GeneratedTokens '{}' {}", text::clip(fields[col_output_]), bad_output);
    } else {
      core::SimTime arrival = 0;
      const auto placed = clock_.place(t_ns, arrival);
      if (placed != ArrivalClock::kOk) {
        why = fmt::format("TIMESTAMP '{}' {}", text::clip(fields[col_time_]), ArrivalClock::why(placed));
      } else {
        set_online_request(out, next_id_++, arrival, prompt, output);
        return true;
      }
    }
    rows_.bad_row(why);
  }
  return false;
}

}  // namespace greenfleet::workload
