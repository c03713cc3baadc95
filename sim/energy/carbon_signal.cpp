#include "sim/energy/carbon_signal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sim/core/error.hpp"
#include "sim/text/text_rows.hpp"
#include "sim/text/timestamp.hpp"

namespace greenfleet::energy {

CarbonSignal CarbonSignal::constant(double g_per_kwh) { return samples({0}, {g_per_kwh}, core::kHour, true); }

CarbonSignal CarbonSignal::samples(std::vector<core::SimTime> starts, std::vector<double> values,
                                   core::SimTime last_duration, bool wrap) {
  CarbonSignal s;
  s.wrap_ = wrap;
  s.starts_ = std::move(starts);
  s.values_ = std::move(values);
  s.starts_.push_back(s.starts_.back() + last_duration);
  s.prefix_.assign(s.starts_.size(), 0.0);
  for (std::size_t i = 0; i < s.values_.size(); ++i)
    s.prefix_[i + 1] = s.prefix_[i] + s.values_[i] * core::to_seconds(s.starts_[i + 1] - s.starts_[i]);
  const core::SimTime step = s.starts_[1] - s.starts_[0];
  bool uniform = true;
  for (std::size_t i = 1; i + 1 < s.starts_.size() && uniform; ++i)
    uniform = s.starts_[i + 1] - s.starts_[i] == step;
  s.uniform_step_ = uniform ? step : 0;
  return s;
}

CarbonSignal CarbonSignal::solar_diurnal(double base, double dip, double sunrise_h, double sunset_h,
                                         core::SimTime day_offset) {
  constexpr core::SimTime kStep = 5 * 60 * core::kSecond;
  std::vector<core::SimTime> starts;
  std::vector<double> values;
  for (core::SimTime t = 0; t < 24 * core::kHour; t += kStep) {
    const double h = core::to_seconds(t + kStep / 2) / 3600.0;  // midpoint of the step
    const double x = (h - sunrise_h) / (sunset_h - sunrise_h);
    const double sun = (x > 0 && x < 1) ? std::sin(M_PI * x) : 0.0;
    starts.push_back(t - day_offset);
    values.push_back(base - dip * sun);
  }
  return samples(std::move(starts), std::move(values), kStep, true);
}

std::size_t CarbonSignal::index_of(core::SimTime t) const {
  const std::size_t n = values_.size();
  if (uniform_step_ > 0) {
    const auto i = static_cast<std::size_t>((t - starts_[0]) / uniform_step_);
    return std::min(i, n - 1);
  }
  const auto it = std::upper_bound(starts_.begin(), starts_.begin() + static_cast<std::ptrdiff_t>(n), t);
  return static_cast<std::size_t>(it - starts_.begin()) - 1;
}

double CarbonSignal::prefix_at(core::SimTime t) const {
  const std::size_t i = index_of(t);
  return prefix_[i] + values_[i] * core::to_seconds(t - starts_[i]);
}

double CarbonSignal::at(core::SimTime t) const {
  const core::SimTime s0 = starts_.front(), end = starts_.back();
  if (wrap_) {
    const core::SimTime period = end - s0;
    core::SimTime r = (t - s0) % period;
    if (r < 0) r += period;
    return values_[index_of(s0 + r)];
  }
  if (t < s0) return values_.front();
  if (t >= end) return values_.back();
  return values_[index_of(t)];
}

double CarbonSignal::integral(core::SimTime a, core::SimTime b) const {
  if (b <= a) return 0;
  if (values_.size() == 1) return values_[0] * core::to_seconds(b - a);  // constant: the common case
  const core::SimTime s0 = starts_.front(), end = starts_.back();
  const std::size_t n = values_.size();
  // Reduces t to a position inside the series (and, with wrap, the number of whole periods before it). Times
  // outside a non-wrapping series are handled by the caller.
  const core::SimTime period = end - s0;
  auto reduce = [&](core::SimTime t, core::SimTime& cycles) {
    cycles = 0;
    if (!wrap_) return t;
    cycles = (t - s0) / period;
    core::SimTime r = (t - s0) % period;
    if (r < 0) r += period, cycles -= 1;
    return s0 + r;
  };
  if (!wrap_ && (a < s0 || b > end)) {
    // Outside the series the first or last value extends.
    double total = 0;
    if (a < s0) total += values_.front() * core::to_seconds(std::min(b, s0) - a), a = std::min(b, s0);
    if (b > end) total += values_.back() * core::to_seconds(b - std::max(a, end)), b = std::max(a, end);
    return total + (b > a ? integral(a, b) : 0.0);
  }
  core::SimTime ca = 0, cb = 0;
  const core::SimTime ra = reduce(a, ca);
  core::SimTime rb = reduce(b, cb);
  if (rb == s0 && cb > ca) rb = end, cb -= 1;  // b on a period boundary: the end of the previous period
  const std::size_t ia = index_of(ra), ib = rb == end ? n - 1 : index_of(rb);
  if (ca == cb && ia == ib) return values_[ia] * core::to_seconds(b - a);  // one segment: no cancellation
  // Partial first and last segments are computed directly; only whole segments come from prefix differences,
  // so short intervals keep full precision however far into the series they are.
  double total = static_cast<double>(cb - ca) * prefix_.back();
  total += values_[ia] * core::to_seconds(starts_[ia + 1] - ra) + (prefix_[ib] - prefix_[ia + 1]);
  total += values_[ib] * core::to_seconds(rb - starts_[ib]);
  return total;
}

CiSeries read_ci_csv(const std::string& path, const std::string& time_column, const std::string& value_column,
                     double unit_scale) {
  constexpr std::int64_t kMaxSpan = 100LL * 365 * 24 * core::kHour;
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  if (!rows.next_line()) throw core::InputError(fmt::format("{}:1: empty carbon-intensity file", path));
  std::vector<std::string_view> fields;
  text::split_csv(rows.line(), fields);
  int tcol = -1, vcol = -1;
  for (int i = 0; i < static_cast<int>(fields.size()); ++i) {
    text::reject_repeated_column(rows, fields, i, {time_column, value_column});
    if (fields[i] == time_column) tcol = i;
    if (fields[i] == value_column) vcol = i;
  }
  if (tcol < 0 || vcol < 0)
    throw core::InputError(
        fmt::format("{}:1: header '{}' lacks column '{}' (set carbon_intensity.time_column / "
                    "value_column, or format)",
                    path, text::clip(rows.line()), text::clip(tcol < 0 ? time_column : value_column)));
  const std::size_t ncols = fields.size();
  CiSeries out;
  bool have_row = false;
  std::int64_t last_row = 0, spacing = 3600LL * 1'000'000'000;  // an hour when the file has a single row
  while (rows.next_line()) {
    text::split_csv(rows.line(), fields);
    if (fields.size() != ncols) rows.bad_row(fmt::format("expected {} columns, found {}", ncols, fields.size()));
    std::int64_t t = 0;
    std::string bad_time;
    const std::string_view tfield = fields[static_cast<std::size_t>(tcol)];
    if (!text::parse_timestamp(tfield, t, bad_time))
      rows.bad_row(fmt::format("'{}': {}", text::clip(tfield), bad_time));
    if (have_row && t <= last_row)
      rows.bad_row(fmt::format("time '{}' does not come after the previous row's", text::clip(tfield)));
    std::int64_t span = 0;
    if (have_row && (__builtin_sub_overflow(t, out.first_row_ns, &span) || span > kMaxSpan))
      rows.bad_row(
          fmt::format("time '{}' is more than 100 years after the first row (out of range)", text::clip(tfield)));
    if (!have_row) out.first_row_ns = t;
    spacing = have_row ? t - last_row : spacing;
    last_row = t;
    have_row = true;
    double v = 0;
    const std::string_view vfield = fields[static_cast<std::size_t>(vcol)];
    if (!text::parse_number(vfield, v)) {
      ++out.skipped_rows;  // a gap in the series (empty, "NA", ...): the previous value holds over it
      continue;
    }
    const double g = v * unit_scale;
    if (!std::isfinite(g) || g < 0 || g > kMaxCarbonIntensity)
      rows.bad_row(fmt::format("{} '{}' is out of range [0, {}] g/kWh{}", text::clip(value_column),
                               text::clip(vfield), kMaxCarbonIntensity,
                               unit_scale == 1.0 ? "" : fmt::format(" (after the unit's factor {})", unit_scale)));
    out.epoch_ns.push_back(t);
    out.values.push_back(g);
  }
  if (out.values.empty())
    throw core::InputError(fmt::format("{}: no usable rows in column '{}'", path, value_column));
  // The last row lasts as long as the spacing before it.
  std::int64_t span = 0;
  if (__builtin_add_overflow(last_row, spacing, &out.end_ns) ||
      __builtin_sub_overflow(out.end_ns, out.first_row_ns, &span) || span > kMaxSpan)
    throw core::InputError(
        fmt::format("{}:{}: the series, with its last row lasting as long as the spacing "
                    "before it, spans more than 100 years (out of range)",
                    path, rows.line_number()));
  return out;
}

}  // namespace greenfleet::energy
