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
  std::string method = "fit";  // fit: fitted to power vs batch; levels: set from mean powers, nothing held out
  double decode_w_small = 0, decode_w_saturated = 0, batch_scale = 1;
  int training_points = 0, held_out_points = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;

  double decode_w(double batch) const {
    return decode_w_saturated - (decode_w_saturated - decode_w_small) * std::exp(-batch / batch_scale);
  }
};

}  // namespace greenfleet::spec
