#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/time.hpp"

namespace greenfleet::energy {

// Grid carbon intensity (gCO2e/kWh) over simulated time, piecewise constant. Integrals over any interval cost
// O(1) on a uniform grid (hourly series) and O(log n) otherwise, from prefix integrals.
class CarbonSignal {
 public:
  static CarbonSignal constant(double g_per_kwh);
  // Samples at `starts` (ns, relative to the simulation start, strictly increasing); each value holds until the
  // next start, the last one for `last_duration`. With `wrap` the series repeats past its end (and before its
  // start); otherwise the first and last values extend.
  static CarbonSignal samples(std::vector<core::SimTime> starts, std::vector<double> values,
                              core::SimTime last_duration, bool wrap);
  // Solar-shaped day: `base` minus `dip` x sin(pi (h - sunrise) / (sunset - sunrise)) in daylight, repeating
  // daily; `day_offset` shifts the simulation start within the day. Held constant over 5-minute steps.
  static CarbonSignal solar_diurnal(double base, double dip, double sunrise_h, double sunset_h,
                                    core::SimTime day_offset);

  double at(core::SimTime t) const;
  // Integral of CI over [a, b), in (g/kWh) x seconds.
  double integral(core::SimTime a, core::SimTime b) const;
  double mean(core::SimTime a, core::SimTime b) const {
    return b > a ? integral(a, b) / core::to_seconds(b - a) : at(a);
  }
  std::size_t size() const { return values_.size(); }
  bool is_constant() const { return values_.size() == 1; }
  double constant_value() const { return values_.front(); }  // the value of a constant signal

 private:
  double prefix_at(core::SimTime t) const;  // integral from the series start to t (t within one period)
  std::size_t index_of(core::SimTime t) const;

  std::vector<core::SimTime> starts_;  // size n + 1: the last entry is the end of the series
  std::vector<double> values_;
  std::vector<double> prefix_;  // size n + 1
  bool wrap_ = false;
  core::SimTime uniform_step_ = 0;  // > 0 when every sample lasts the same
};

// Reading a CI series from CSV: a time column ("YYYY-MM-DD HH:MM:SS[.f][+HH:MM]", UTC unless an offset is given)
// and a value column, both by name. Rows with an empty or non-numeric value are skipped and counted (the previous
// value then holds); malformed timestamps or times going back are errors with file:line.
struct CiSeries {
  std::vector<std::int64_t> epoch_ns;
  std::vector<double> values;
  std::uint64_t skipped_rows = 0;
  std::int64_t first_row_ns = 0;  // the file's first row, usable or not: the default alignment origin
  std::int64_t end_ns = 0;  // the file's last row plus its spacing: where the series (and a wrap period) ends
};
// Values are multiplied by `unit_scale` (to g/kWh) and must then lie in [0, kMaxCarbonIntensity], the bounds of a
// constant carbon intensity; an empty or non-numeric field is a gap (the previous value holds over it), a number
// outside the bounds (negative, NaN, infinite, too large) an error naming the row. The series may span at most
// 100 years, so that its times stay within the int64-nanosecond range.
CiSeries read_ci_csv(const std::string& path, const std::string& time_column, const std::string& value_column,
                     double unit_scale = 1.0);

// The largest carbon intensity accepted anywhere, g/kWh (about twice the dirtiest grids' hourly peaks).
inline constexpr double kMaxCarbonIntensity = 5000;

}  // namespace greenfleet::energy
