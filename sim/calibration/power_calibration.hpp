#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/spec/power_curve.hpp"

namespace greenfleet::calibration {

struct PowerPoint {
  double batch = 0, watts = 0;  // per GPU
  bool held_out = false;
};

// ML.ENERGY v3 (H100 rows of dense models, per-GPU power vs mean running batch) -> curves by catalog GPU id;
// ML.ENERGY 2023 (A100, A40, V100: one mean power per model) -> small-batch levels.
std::map<std::string, std::vector<PowerPoint>> read_ml_energy_v3(const std::string& path);
std::map<std::string, std::vector<double>> read_ml_energy_2023(const std::string& dir);

// Sorts points by (batch, power) and marks every fourth as held out: the split the fit and validate share.
void mark_power_held_out(std::vector<PowerPoint>& points);
// Fits saturated and small-batch power for each batch scale on a fixed grid, keeps the best (relative error);
// every fourth point is held out.
spec::GpuPowerCurve fit_power_curve(const std::string& gpu, std::vector<PowerPoint> points,
                                    const std::string& source);
// Held-out absolute percentage errors of a curve: median and p90.
std::pair<double, double> power_errors(const spec::GpuPowerCurve& c, const std::vector<PowerPoint>& points);

// Every decode power curve the ML.ENERGY data in `dir` (profiling/ml_energy) supports: fitted per GPU to the v3
// rows (power vs batch), and for the GPUs of the 2023 leaderboard (one mean power per model, batch not
// recorded) a "levels" curve: small-batch level = median of those means, saturated level = the catalog's
// prefill (TDP-class) power, batch scale carried from the v3 fit (our reconstruction; docs/CARBON.md).
std::vector<spec::GpuPowerCurve> fit_power_curves(const std::string& dir, const catalog::Catalog& catalog);

}  // namespace greenfleet::calibration
