#pragma once
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/calibration/operator_fit.hpp"
#include "sim/calibration/operator_model.hpp"
#include "sim/calibration/stack_fit.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/perf/calibrated.hpp"

namespace greenfleet::calibration {

// The Vidur path of `greenfleet calibrate` (docs/MODELS.md, "Calibration from Vidur operator timings"):
// per-operator fits, all-reduce fits, the per-architecture stack fit against SplitwiseSim, and the
// coefficients derived for every (GPU, model, TP) that has Vidur data, fits in memory and has no whole-step
// measurements.

struct AllReduceEntry {
  std::string gpu, source;
  int workers = 0;
  AllReduceFit fit;
};

// What the pipeline does with one (GPU, model, TP) that has Vidur data.
enum class VidurStatus {
  kWritten,   // coefficients derived and written
  kMeasured,  // whole steps were measured (SplitwiseSim, a --measurements file), whose file keeps precedence
  kMemory,    // the weights and one full-context KV cache do not fit (fits_in_memory)
  kNoStack,   // no SplitwiseSim measurements of this GPU architecture to fit the stack to
};
// "written", "measured", "memory", "no-stack": the status column of the validate table.
const char* to_string(VidurStatus s);

struct VidurEntry {
  std::string gpu, model;
  int tensor_parallel = 1;
  VidurStatus status = VidurStatus::kWritten;
  OperatorFit ops;
  bool all_reduce_measured = false;  // from a Vidur all-reduce file (else the ring reconstruction, or TP 1)
  ErrorStats all_reduce_held_out;
  OperatorModelSpec spec;                      // the composed operator model (with its architecture's stack fit)
  spec::CalibrationCoefficients coefficients;  // status kWritten
  ErrorStats approximation;  // of the coefficients against the operator model, on derivation_grid()
};

// The composed operator model of a SplitwiseSim set (Llama-2-70B), on that set's held-out points.
struct SplitwiseCheck {
  std::string gpu;
  int tensor_parallel = 1;
  ErrorStats steps, e2e;
};

struct VidurCalibration {
  std::vector<AllReduceEntry> all_reduce;
  DecodeAttentionFit decode_attention;     // from ML.ENERGY v3, used by every stack
  std::map<std::string, StackFit> stacks;  // by GPU architecture
  std::vector<VidurEntry> entries;         // by GPU, model, TP
  std::vector<SplitwiseCheck> checks;
  // Rows of Vidur files not used, by what and why: GPUs or models not in the catalog, files at an unexpected
  // place, all-reduces across nodes (read_vidur_compute, read_vidur_all_reduce).
  std::map<std::string, int> skipped;
};

// Whether the model's weights and the KV cache of one sequence of its full context fit in `tp` GPUs within
// vLLM's default gpu_memory_utilization of 0.9 (vLLM EngineArgs; the rest is left to activations and the CUDA
// context). Entries that do not fit get no coefficients (VidurStatus::kMemory).
bool fits_in_memory(const spec::LlmModel& model, const spec::GpuSpec& gpu, int tp);

// Runs the whole Vidur path on the data in `data_dir` (profiling/vidur, profiling/splitwise_sim). `measured`
// holds the (GPU, model, TP) of whole-step measurement sets, which keep precedence over derived coefficients.
VidurCalibration calibrate_vidur(const std::string& data_dir, const catalog::Catalog& catalog,
                                 const std::set<std::tuple<std::string, std::string, int>>& measured);

// The coefficient file of a derived entry: the usual schema (coefficients_yaml, origin: derived) with a
// header saying what its numbers mean.
std::string vidur_coefficients_yaml(const spec::CalibrationCoefficients& c);

}  // namespace greenfleet::calibration
