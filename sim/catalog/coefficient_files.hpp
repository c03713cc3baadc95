#pragma once
#include <string>

#include "sim/spec/calibration_coefficients.hpp"
#include "sim/spec/cpu_coefficients.hpp"
#include "sim/spec/power_curve.hpp"

// The coefficient files under models/calibration/: their paths, and reading (strict: every key required, errors
// naming file:line:column) and writing them (`greenfleet calibrate`). One place for each format.
namespace greenfleet::catalog {

std::string coefficients_yaml(const spec::CalibrationCoefficients& c);
// Reads a coefficient file; every key is required (`origin` too: measured or derived), and a missing key, an
// unknown one or a bad value is an error naming file:line:column.
spec::CalibrationCoefficients load_coefficients(const std::string& file);
// models/calibration/<gpu>/<model>-tp<N>.yaml
std::string coefficients_path(const std::string& root, const std::string& gpu, const std::string& model, int tp);
std::string power_curve_yaml(const spec::GpuPowerCurve& c);
spec::GpuPowerCurve load_power_curve(const std::string& file);
std::string cpu_coefficients_yaml(const spec::CpuCoefficients& c);
spec::CpuCoefficients load_cpu_coefficients(const std::string& file);
// models/calibration/cpu/<cpu>/<model>.yaml
std::string cpu_coefficients_path(const std::string& root, const std::string& cpu, const std::string& model);

}  // namespace greenfleet::catalog
