#include "sim/text/timestamp.hpp"

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

}  // namespace

bool parse_timestamp(std::string_view text, std::int64_t& ns) {
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

}  // namespace greenfleet::text
