#include "sim/workload/burstgpt_csv.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/core/error.hpp"

namespace greenfleet::workload {

BurstGptCsvSource::BurstGptCsvSource(const std::string& path, text::BadRowPolicy on_bad_row,
                                     std::string model_filter)
    : rows_(path, on_bad_row), model_filter_(std::move(model_filter)) {
  if (!rows_.next_line()) throw core::InputError(fmt::format("{}:1: empty trace file (expected a header)", path));
  text::split_csv(rows_.line(), fields_);
  ncols_ = static_cast<int>(fields_.size());
  for (int i = 0; i < ncols_; ++i) {
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
                    path, rows_.line()));
}

bool BurstGptCsvSource::next(RequestSpec& out) {
  while (rows_.next_line()) {
    text::split_csv(rows_.line(), fields_);
    std::string why;
    double t = 0;
    std::int32_t prompt = 0, output = 0;
    if (static_cast<int>(fields_.size()) != ncols_) {
      why = fmt::format("expected {} columns, found {}", ncols_, fields_.size());
    } else if (!model_filter_.empty() && fields_[col_model_] != model_filter_) {
      continue;
    } else if (!text::parse_number(fields_[col_time_], t) || !std::isfinite(t) || t < 0 ||
               !core::fits_sim_time(t)) {
      why = fmt::format("Timestamp '{}' is not a non-negative number of seconds", fields_[col_time_]);
    } else if (!text::parse_number(fields_[col_request_], prompt) || prompt < 1) {
      why = fmt::format("Request tokens '{}' is not a positive integer", fields_[col_request_]);
    } else if (!text::parse_number(fields_[col_response_], output) || output < 1) {
      why =
          fmt::format("Response tokens '{}' is not a positive integer (a failed request)", fields_[col_response_]);
    } else {
      core::SimTime arrival = 0;
      if (!clock_.place(core::from_seconds(t), arrival)) {
        why = fmt::format("Timestamp {} is earlier than the previous row's (rows must be in time order)", t);
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
