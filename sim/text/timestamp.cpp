#include "sim/text/timestamp.hpp"

#include <fmt/format.h>

namespace greenfleet::text {

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

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

const char* month_name(int m) {
  static constexpr const char* kNames[] = {"January", "February", "March",     "April",   "May",      "June",
                                           "July",    "August",   "September", "October", "November", "December"};
  return kNames[m - 1];
}

}  // namespace

bool parse_timestamp(std::string_view text, std::int64_t& ns) {
  std::string why;
  return parse_timestamp(text, ns, why);
}

bool parse_timestamp(std::string_view text, std::int64_t& ns, std::string& why) {
  why = fmt::format("not a timestamp '{}'", kTimestampForm);
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
  if (mo < 1 || mo > 12) return why = fmt::format("month {:02} does not exist", mo), false;
  if (d < 1 || d > days_in_month(y, mo))
    return why = fmt::format("day {:02} does not exist: {} {} has {} days", d, month_name(mo), y,
                             days_in_month(y, mo)),
           false;
  if (h > 23 || mi > 59 || s > 60)
    return why = fmt::format("time {:02}:{:02}:{:02} does not exist", h, mi, s), false;
  if (y < 1678 || y > 2261)  // outside the int64 nanosecond range since 1970
    return why = fmt::format("year {} is out of range (1678 to 2261)", y), false;
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
      if (oh > 18 || om > 59 || (oh == 18 && om > 0))
        return why = fmt::format("UTC offset {}{:02}:{:02} does not exist (at most 18:00)", sign < 0 ? '-' : '+',
                                 oh, om),
               false;
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  if (p != end) return false;
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
  // Near the ends of the year range an offset can still push the time outside int64 nanoseconds.
  if (secs > 9'223'372'035 || secs < -9'223'372'035)
    return why = "time is out of range (about 1678 to 2261)", false;
  ns = secs * 1'000'000'000 + frac_ns;
  why.clear();
  return true;
}

}  // namespace greenfleet::text
