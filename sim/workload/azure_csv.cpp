#include "sim/workload/azure_csv.hpp"

#include <fmt/format.h>

#include <vector>

#include "sim/core/error.hpp"

namespace greenfleet::workload {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_int(const char*& p, const char* end, int digits, int& out) {
  if (end - p < digits) return false;
  int v = 0;
  for (int i = 0; i < digits; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    v = v * 10 + (p[i] - '0');
  }
  p += digits;
  out = v;
  return true;
}

}  // namespace

bool AzureCsvSource::parse_timestamp(std::string_view text, std::int64_t& ns) {
  const char* p = text.data();
  const char* end = p + text.size();
  int y, mo, d, h, mi, s;
  if (!read_int(p, end, 4, y) || p == end || *p++ != '-' || !read_int(p, end, 2, mo) || p == end || *p++ != '-' ||
      !read_int(p, end, 2, d) || p == end || (*p != ' ' && *p != 'T'))
    return false;
  ++p;
  if (!read_int(p, end, 2, h) || p == end || *p++ != ':' || !read_int(p, end, 2, mi) || p == end || *p++ != ':' ||
      !read_int(p, end, 2, s))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
  if (y < 1678 || y > 2261) return false;  // outside the int64 nanosecond range since 1970
  std::int64_t frac_ns = 0;
  if (p != end && *p == '.') {
    ++p;
    int digits = 0;
    std::int64_t scale = 100'000'000;
    while (p != end && *p >= '0' && *p <= '9') {
      if (digits < 9) frac_ns += (*p - '0') * scale, scale /= 10;
      ++digits, ++p;
    }
    if (digits == 0) return false;
  }
  std::int64_t offset_s = 0;
  if (p != end) {
    if (*p == 'Z') {
      ++p;
    } else if (*p == '+' || *p == '-') {
      const int sign = *p == '-' ? -1 : 1;
      ++p;
      int oh, om;
      if (!read_int(p, end, 2, oh) || p == end || *p++ != ':' || !read_int(p, end, 2, om)) return false;
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  if (p != end) return false;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
  ns = secs * 1'000'000'000 + frac_ns;
  return true;
}

AzureCsvSource::AzureCsvSource(const std::string& path, BadRowPolicy on_bad_row) : rows_(path, on_bad_row) {
  if (!rows_.next_line()) throw core::InputError(fmt::format("{}:1: empty trace file (expected a header)", path));
  split_csv(rows_.line(), fields_);
  ncols_ = static_cast<int>(fields_.size());
  for (int i = 0; i < ncols_; ++i) {
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
                    path, rows_.line()));
}

bool AzureCsvSource::next(RequestSpec& out) {
  auto& fields = fields_;
  while (rows_.next_line()) {
    split_csv(rows_.line(), fields);
    std::string why;
    std::int64_t t_ns = 0;
    std::int32_t prompt = 0, output = 0;
    if (static_cast<int>(fields.size()) != ncols_) {
      why = fmt::format("expected {} columns, found {}", ncols_, fields.size());
    } else if (!parse_timestamp(fields[col_time_], t_ns)) {
      why = fmt::format("TIMESTAMP '{}' is not 'YYYY-MM-DD HH:MM:SS[.fff][+HH:MM]'", fields[col_time_]);
    } else if (!parse_number(fields[col_prompt_], prompt) || prompt < 1) {
      why = fmt::format("ContextTokens '{}' is not a positive integer", fields[col_prompt_]);
    } else if (!parse_number(fields[col_output_], output) || output < 1) {
      why = fmt::format("GeneratedTokens '{}' is not a positive integer", fields[col_output_]);
    } else {
      core::SimTime arrival = 0;
      if (!clock_.place(t_ns, arrival)) {
        why = fmt::format("TIMESTAMP '{}' is earlier than the previous row's (rows must be in time order)",
                          fields[col_time_]);
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
