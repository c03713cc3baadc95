// The carbon-intensity CSV reader, then the signal built from it as the simulation does (aligned to its first
// row, wrapping), queried over a few intervals.
#include <cmath>
#include <cstdlib>

#include "fuzz_support.hpp"
#include "sim/energy/carbon_signal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace greenfleet;
  const std::string path = fuzz::write_input(data, size, ".csv");
  for (const double scale : {1.0, 1000.0}) {
    fuzz::expect_input_errors_only([&] {
      const energy::CiSeries s = energy::read_ci_csv(path, "timestamp", "g_per_kwh", scale);
      std::vector<core::SimTime> starts;
      for (std::int64_t t : s.epoch_ns) starts.push_back(t - s.first_row_ns);
      for (const bool wrap : {true, false}) {
        const auto signal = energy::CarbonSignal::samples(starts, s.values, s.end_ns - s.epoch_ns.back(), wrap);
        for (const core::SimTime b : {core::kSecond, core::kHour, 400 * 24 * core::kHour}) {
          const double i = signal.integral(0, b);
          const double v = signal.at(b);
          if (!std::isfinite(i) || !std::isfinite(v) || i < 0 || v < 0) {
            std::fprintf(stderr, "finding: carbon intensity %g, integral %g\n", v, i);
            std::abort();
          }
        }
      }
    });
  }
  return 0;
}
