#pragma once
#include <string>

#include "sim/perf/perf_model.hpp"
#include "sim/spec/calibration_coefficients.hpp"

namespace greenfleet::perf {

class CalibratedModel final : public PerfModel {
 public:
  explicit CalibratedModel(spec::CalibrationCoefficients c) : c_(std::move(c)) {}
  std::string kind() const override { return "calibrated"; }
  StepCost step_cost(const BatchShape& shape) const override;
  DecodeCost decode_cost(std::int32_t batch) const override;
  const spec::CalibrationCoefficients& coefficients() const { return c_; }

 private:
  spec::CalibrationCoefficients c_;
};

}  // namespace greenfleet::perf
