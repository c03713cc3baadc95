// Carbon-intensity series against a naive recomputation (docs/CARBON.md, "Operational carbon"): integrals over
// random intervals of random series, uniform and not, wrapped and not, negative times and several periods
// included, equal the sum over every segment the interval meets, walked one segment at a time; and a CSV with
// UTC offsets across a daylight-saving change is read on one UTC timeline.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

struct Lcg {
  std::uint64_t s;
  std::uint64_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  }
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

// The series by hand: starts (size n + 1, the last is the end), values, wrap.
struct Naive {
  std::vector<core::SimTime> starts;
  std::vector<double> values;
  bool wrap = false;
  // Value at t, and the next time the value may change.
  double at(core::SimTime t, core::SimTime& next) const {
    const core::SimTime s0 = starts.front(), end = starts.back(), period = end - s0;
    core::SimTime base = 0, r = t;
    if (wrap) {
      core::SimTime k = (t - s0) / period;
      if ((t - s0) % period < 0) --k;
      base = k * period;
      r = t - base;
    } else if (t < s0) {
      next = s0;
      return values.front();
    } else if (t >= end) {
      next = INT64_MAX;
      return values.back();
    }
    std::size_t i = 0;
    while (starts[i + 1] <= r) ++i;
    next = base + starts[i + 1];
    return values[i];
  }
  double integral(core::SimTime a, core::SimTime b) const {
    double total = 0;
    for (core::SimTime t = a; t < b;) {
      core::SimTime next = 0;
      const double v = at(t, next);
      const core::SimTime stop = std::min(next, b);
      total += v * core::to_seconds(stop - t);
      t = stop;
    }
    return total;
  }
};

}  // namespace

TEST_CASE("carbon signal differential: integrals and values equal a segment-by-segment walk") {
  int checked = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    Lcg g{seed};
    Naive n;
    n.wrap = seed % 2 == 0;
    const bool uniform = seed % 3 != 0;
    const auto count = static_cast<int>(g.pick(2, 12));
    const core::SimTime step = g.pick(1, 7200) * core::kSecond + g.pick(0, 999);
    core::SimTime t = g.pick(-5, 5) * core::kHour;
    for (int i = 0; i < count; ++i) {
      n.starts.push_back(t);
      n.values.push_back(static_cast<double>(g.pick(0, 900)));
      t += uniform ? step : g.pick(1, 5000) * core::kSecond;
    }
    const core::SimTime last = uniform ? step : g.pick(1, 5000) * core::kSecond;
    const auto s = energy::CarbonSignal::samples(n.starts, n.values, last, n.wrap);
    n.starts.push_back(n.starts.back() + last);
    const core::SimTime span = n.starts.back() - n.starts.front();
    for (int k = 0; k < 200; ++k) {
      // Intervals of any length from a nanosecond to several periods, anywhere from before the series to
      // several periods after it; their ends often on a segment boundary.
      core::SimTime a = n.starts.front() + g.pick(-3 * span, 6 * span);
      if (k % 4 == 0) a = n.starts[static_cast<std::size_t>(g.pick(0, count))] + g.pick(-2, 2) * span;
      core::SimTime b = a + (k % 3 == 0 ? g.pick(1, 1000) : g.pick(1, 4 * span));
      if (k % 5 == 0) b = n.starts[static_cast<std::size_t>(g.pick(0, count))] + g.pick(0, 4) * span;
      if (b <= a) continue;
      CAPTURE(seed);
      CAPTURE(a);
      CAPTURE(b);
      const double expected = n.integral(a, b);
      CHECK(s.integral(a, b) == doctest::Approx(expected).epsilon(1e-9).scale(1e-12 * span));
      core::SimTime next = 0;
      CHECK(s.at(a) == n.at(a, next));
      ++checked;
    }
  }
  CHECK(checked > 10000);
}

TEST_CASE("carbon signal differential: a CSV with UTC offsets across a daylight-saving change is one timeline") {
  // Europe/London local times with their offsets, 2023-03-26 (01:00 GMT -> 02:00 BST) and 2023-10-29 (02:00 BST
  // -> 01:00 GMT): the rows are an hour apart in UTC although the local clock jumps or repeats an hour.
  test::TempDir dir;
  const auto spring = energy::read_ci_csv(
      dir.write("spring.csv",
                "timestamp,g_per_kwh\n2023-03-26 00:00:00+00:00,100\n2023-03-26 02:00:00+01:00,200\n"
                "2023-03-26 03:00:00+01:00,300\n"),
      "timestamp", "g_per_kwh");
  REQUIRE(spring.epoch_ns.size() == 3);
  CHECK(spring.epoch_ns[1] - spring.epoch_ns[0] == core::kHour);
  CHECK(spring.epoch_ns[2] - spring.epoch_ns[1] == core::kHour);
  CHECK(spring.end_ns - spring.first_row_ns == 3 * core::kHour);
  const auto autumn = energy::read_ci_csv(
      dir.write("autumn.csv",
                "timestamp,g_per_kwh\n2023-10-29 00:00:00+01:00,100\n2023-10-29 01:00:00+01:00,200\n"
                "2023-10-29 01:00:00+00:00,300\n2023-10-29 02:00:00+00:00,400\n"),
      "timestamp", "g_per_kwh");
  REQUIRE(autumn.epoch_ns.size() == 4);
  for (std::size_t i = 1; i < 4; ++i) CHECK(autumn.epoch_ns[i] - autumn.epoch_ns[i - 1] == core::kHour);
  // Without offsets the repeated local hour goes back in time: an error naming the row.
  CHECK_THROWS_WITH_AS(
      energy::read_ci_csv(
          dir.write("local.csv", "timestamp,g_per_kwh\n2023-10-29 01:00:00,200\n2023-10-29 01:00:00,300\n"),
          "timestamp", "g_per_kwh"),
      doctest::Contains("local.csv:3:"), core::InputError);
}
