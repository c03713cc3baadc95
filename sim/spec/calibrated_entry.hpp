#pragma once
#include "sim/spec/calibration_coefficients.hpp"
#include "sim/spec/gpu.hpp"
#include "sim/spec/llm_model.hpp"

// A calibrated (GPU, model, TP) entry of the catalog's coefficient store, with the GPU and model it describes:
// what the roofline fallback's carried efficiencies are computed from (sim/perf/carried_efficiency.hpp).
namespace greenfleet::spec {

struct CalibratedEntry {
  const CalibrationCoefficients* coefficients = nullptr;
  const GpuSpec* gpu = nullptr;
  const LlmModel* model = nullptr;
};

}  // namespace greenfleet::spec
