#pragma once
#include <cmath>
#include <string>

// Decode power of a GPU versus batch, as models/calibration/power/<gpu>.yaml stores it.
namespace greenfleet::spec {

// Decode power of one GPU as a function of the running batch, fitted to measurements by `greenfleet calibrate`
// and stored in models/calibration/power/<gpu>.yaml:
//   P(B) = saturated - (saturated - small) x exp(-B / batch_scale)        (W per GPU)
// Measured serving power rises with batch toward TDP (ML.ENERGY: H100 ~450 W at 8 sequences, ~650-700 W at 256+).
struct GpuPowerCurve {
  std::string gpu, source;
  // fit: fitted to power vs batch; line: levels from a power-vs-bandwidth-utilisation line fitted to batch-1
  // runs (line_* below); levels: set from mean powers, nothing held out
  std::string method = "fit";
  double decode_w_small = 0, decode_w_saturated = 0, batch_scale = 1;
  // method line: W = line_intercept_w + line_slope_w x u (u: weight bytes read per second / peak bandwidth),
  // and the utilisation at which decode_w_small was read off it.
  double line_intercept_w = 0, line_slope_w = 0, line_utilisation = 0;
  // method line: the 2023 engine those runs measured (calibration::Engine2023, docs/MODELS.md "Old GPUs"): the
  // host time per layer that bounds a step from below, the median of ITL / layers over `host_training_rows`
  // training runs. 0: none fitted. The preset `fastchat-hf-2023` (docs/EXPERIMENTS.md) runs on it.
  double host_s_per_layer = 0;
  int host_training_rows = 0;
  int training_points = 0, held_out_points = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;

  double decode_w(double batch) const {
    return decode_w_saturated - (decode_w_saturated - decode_w_small) * std::exp(-batch / batch_scale);
  }
};

}  // namespace greenfleet::spec
