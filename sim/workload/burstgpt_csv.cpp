#include "sim/workload/burstgpt_csv.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/core/error.hpp"
#include "sim/workload/trace_origin.hpp"

namespace greenfleet::workload {

BurstGptCsvSource::BurstGptCsvSource(const std::string& path, text::BadRowPolicy on_bad_row,
                                     std::string model_filter, const std::string& named_by) try
    : rows_(path, on_bad_row, bad_row_hint(named_by)), model_filter_(std::move(model_filter)) {
  if (!rows_.next_line()) throw core::InputError(fmt::format("{}:1: empty trace file (expected a header)", path));
  text::split_csv(rows_.line(), fields_);
  ncols_ = static_cast<int>(fields_.size());
  header_.assign(fields_.begin(), fields_.end());
  for (int i = 0; i < ncols_; ++i) {
    text::reject_repeated_column(rows_, fields_, i, {"Timestamp", "Model", "Request tokens", "Response tokens"});
    if (fields_[i] == "Timestamp")
      col_time_ = i;
    else if (fields_[i] == "Model")
      col_model_ = i;
    else if (fields_[i] == "Request tokens")
      col_request_ = i;
    else if (fields_[i] == "Response tokens")
      col_response_ = i;
  }
  if (col_time_ < 0 || col_model_ < 0 || col_request_ < 0 || col_response_ < 0)
    throw core::InputError(
        fmt::format("{}:1: header '{}' lacks a column: expected Timestamp, Model, Request tokens "
                    "and Response tokens",
                    path, text::clip(rows_.line())));
} catch (const core::InputError& e) {
  throw core::InputError(with_origin(e.what(), named_by));
}

bool BurstGptCsvSource::select_column(const std::string& name) {
  for (int i = 0; i < ncols_; ++i)
    if (header_[static_cast<std::size_t>(i)] == name) return col_selected_ = i, true;
  return false;
}

bool BurstGptCsvSource::next(RequestSpec& out) {
  while (rows_.next_line()) {
    text::split_csv(rows_.line(), fields_);
    std::string why;
    double t = 0;
    std::int32_t prompt = 0, output = 0;
    std::string bad_prompt, bad_output;
    if (static_cast<int>(fields_.size()) != ncols_) {
      why = fmt::format("expected {} columns, found {}", ncols_, fields_.size());
    } else if (!model_filter_.empty() && fields_[col_model_] != model_filter_) {
      continue;
    } else if (!text::parse_number(fields_[col_time_], t) || std::isnan(t) || t < 0) {
      why = fmt::format("Timestamp '{}' is not a non-negative number of seconds", text::clip(fields_[col_time_]));
    } else if (!(t <= core::to_seconds(ArrivalClock::kMaxSpan))) {
      why = fmt::format("Timestamp '{}' is out of range (max {} s, 100 years)", text::clip(fields_[col_time_]),
                        core::to_seconds(ArrivalClock::kMaxSpan));
    } else if (!(bad_prompt = text::check_count(fields_[col_request_], prompt)).empty()) {
      why = fmt::format("Request tokens '{}' {}", text::clip(fields_[col_request_]), bad_prompt);
    } else if (!(bad_output = text::check_count(fields_[col_response_], output)).empty()) {
      why = fmt::format("Response tokens '{}' {}{}", text::clip(fields_[col_response_]), bad_output,
                        bad_output.rfind("is not", 0) == 0 ? " (a failed request)" : "");
    } else {
      core::SimTime arrival = 0;
      const auto placed = clock_.place(core::from_seconds(t), arrival);
      if (placed != ArrivalClock::kOk) {
        why = fmt::format("Timestamp {} {}", t, ArrivalClock::why(placed));
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
