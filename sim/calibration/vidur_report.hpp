#pragma once
#include <string>
#include <vector>

#include "sim/calibration/splitwise_calibration.hpp"
#include "sim/text/text_file.hpp"

namespace greenfleet::calibration {

// `greenfleet calibrate`: the Vidur path (sim/calibration/vidur_calibration.hpp) on `data_dir`, adding
// models/calibration/<gpu>/<model>-tp<N>.yaml under `out` to `files` for every derived entry and printing the
// fits. Sets in `measured` (whole-step measurements) keep precedence over derived coefficients.
void write_vidur_calibrations(const std::string& catalog, const std::string& data_dir, const std::string& out,
                              const std::vector<calibration::MeasuredSet>& measured, text::FileBatch& files);

// `greenfleet validate`: the same fits' held-out errors, the committed derived coefficients against the
// operator model, and the operator model against SplitwiseSim's held-out Llama-2-70B steps and latencies.
// Returns how many coefficient files are missing.
int validate_vidur_calibrations(const std::string& catalog, const std::string& data_dir,
                                const std::vector<calibration::MeasuredSet>& measured);

}  // namespace greenfleet::calibration
