#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace greenfleet::energy {

// Decode power of one GPU as a function of the running batch, fitted to measurements by `greenfleet calibrate`
// and stored in models/calibration/power/<gpu>.yaml:
//   P(B) = saturated - (saturated - small) x exp(-B / batch_scale)        (W per GPU)
// Measured serving power rises with batch toward TDP (ML.ENERGY: H100 ~450 W at 8 sequences, ~650-700 W at 256+).
struct GpuPowerCurve {
  std::string gpu, source;
  std::string method = "fit";  // fit: fitted to power vs batch; levels: set from mean powers, nothing held out
  double decode_w_small = 0, decode_w_saturated = 0, batch_scale = 1;
  int training_points = 0, held_out_points = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;

  double decode_w(double batch) const {
    return decode_w_saturated - (decode_w_saturated - decode_w_small) * std::exp(-batch / batch_scale);
  }
};

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
GpuPowerCurve fit_power_curve(const std::string& gpu, std::vector<PowerPoint> points, const std::string& source);
// Held-out absolute percentage errors of a curve: median and p90.
std::pair<double, double> power_errors(const GpuPowerCurve& c, const std::vector<PowerPoint>& points);

std::string power_curve_yaml(const GpuPowerCurve& c);
GpuPowerCurve load_power_curve(const std::string& file);

}  // namespace greenfleet::energy
