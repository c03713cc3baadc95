#pragma once
#include <cmath>
#include <cstdint>

namespace greenfleet::core {

// Simulated time is an integer count of nanoseconds since the experiment start: exact, totally ordered and
// identical on every platform. Doubles appear only at the edges (model outputs, reports).
using SimTime = std::int64_t;

inline constexpr SimTime kNanosecond = 1;
inline constexpr SimTime kMicrosecond = 1'000;
inline constexpr SimTime kMillisecond = 1'000'000;
inline constexpr SimTime kSecond = 1'000'000'000;
inline constexpr SimTime kHour = 3600 * kSecond;
inline constexpr SimTime kTimeMax = INT64_MAX;

// Rounds to the nearest nanosecond (ties away from zero), the single conversion point from model seconds.
// Written out rather than std::llround, which is a library call on the per-step path.
inline SimTime from_seconds(double s) {
  const double ns = s * 1e9;
  return static_cast<SimTime>(ns >= 0 ? ns + 0.5 : ns - 0.5);
}
inline double to_seconds(SimTime t) { return static_cast<double>(t) * 1e-9; }

// Seconds that fit simulated time (about 292 years either way); input edges check before converting.
inline bool fits_sim_time(double s) { return s > -9.2e9 && s < 9.2e9; }

}  // namespace greenfleet::core
