#pragma once
#include <string>

#include "sim/text/text_file.hpp"

namespace greenfleet::calibration {

// `greenfleet calibrate`: fits every CPU measurement file under
// <catalog>/models/calibration/cpu/measurements/, adds models/calibration/cpu/<cpu>/<model>.yaml under `out`
// to `files` and prints the fit's errors.
void write_cpu_calibrations(const std::string& catalog, const std::string& out, text::FileBatch& files);

// `greenfleet validate`: the committed CPU coefficients against their measurements (held-out throughputs,
// each point against its published range, power). Returns how many coefficient files are missing.
int validate_cpu_calibrations(const std::string& catalog);

}  // namespace greenfleet::calibration
