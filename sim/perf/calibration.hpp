#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "sim/perf/calibrated.hpp"
#include "sim/perf/held_out.hpp"
#include "sim/perf/roofline.hpp"

namespace greenfleet::perf {

// One measured configuration: `batch` requests of `prompt` tokens each generating `output` tokens, with the
// measured prefill step time, mean decode step time and end-to-end latency (seconds; medians of the repeats).
struct MeasuredPoint {
  int prompt = 0, batch = 0, output = 0;
  double prefill_s = 0, decode_s = 0, e2e_s = 0;
  bool held_out = false;   // not used for fitting
  bool excluded = false;   // an inconsistent measurement, used for nothing (see read_splitwise_sim)
  bool truncated = false;  // the generation was cut short: its decode and e2e times are not used
};

struct MeasuredSet {
  std::string gpu, model, source;
  int tensor_parallel = 1;
  std::vector<MeasuredPoint> points;
  int excluded = 0;
};

// Reads SplitwiseSim's perf_model.csv (columns by name, workload/csv_columns.hpp), maps its model and hardware
// names to catalog ids, collapses repeats to medians and marks the distinct points (in sorted order, excluded ones
// left out) held out by is_held_out. Rows of models or hardware the catalog lacks are skipped and counted in
// `skipped`. A batch-sweep point whose prefill time is below that of a smaller batch was not run as one step
// (the KV cache could not hold the batch, so the engine queued part of it): such points are excluded from
// fitting and validation, and counted. With `catalog`, rows naming catalog ids directly (the measurement
// harness in models/calibration/measure/ writes them) are accepted too; `source` then describes the file.
std::vector<MeasuredSet> read_splitwise_sim(const std::string& path, std::map<std::string, int>& skipped,
                                            const fleet::Catalog* catalog = nullptr,
                                            const std::string& source = "");

// Fits prefill and decode coefficients (origin measured) on the training points and measures held-out
// step-time errors and end-to-end errors on held-out points: a held-out prefill counts only if no training
// point has the same prefill shape, and truncated generations are used for neither decode nor end-to-end.
CalibrationCoefficients calibrate(const MeasuredSet& set);

// Held-out step-time errors (prefill and decode together) and end-to-end errors of `model` on `set`.
ErrorStats e2e_errors(const PerfModel& model, const MeasuredSet& set);
ErrorStats held_out_step_errors(const PerfModel& model, const MeasuredSet& set);

// Roofline efficiencies implied by calibrated entries at one TP degree: the decode floor is the weight read
// (bandwidth), the prefill slope the matmul rate (compute). Averaged over the entries of one GPU
// architecture, they are what a roofline fallback uses for hardware without measurements of its own; with no
// entry at that TP degree nothing is carried (entries == 0) and the roofline keeps its defaults.
struct CarriedEfficiency {
  double compute = 0, bandwidth = 0;
  double step_overhead_s = 0;  // fitted with the bandwidth efficiency when entries span several TP degrees
  int entries = 0;
};
// Which entries carry: those at TP degree `tp` of GPUs of `architecture`, `exclude_gpu` left out
// (validation). Entries of origin measured (fitted to whole-step measurements) come first, then derived ones
// (from operator timings); within each, entries of `model` first (a model's own overheads transfer across
// GPUs better than an average over other sizes). With `cross_architecture`, measured entries of other
// architectures come before derived ones of the same (validation, where each measured GPU is its
// architecture's only one).
struct CarryQuery {
  std::string architecture;
  int tp = 1;
  std::string model = "";
  std::string exclude_gpu = "";
  bool cross_architecture = false;
};
CarriedEfficiency carried_efficiency(const fleet::Catalog& catalog, const CarryQuery& query);
RooflineParams with_carried(RooflineParams base, const CarriedEfficiency& e);

std::string coefficients_yaml(const CalibrationCoefficients& c);
// Reads a coefficient file; every key is required (`origin` too: measured or derived), and a missing key, an
// unknown one or a bad value is an error naming file:line:column.
CalibrationCoefficients load_coefficients(const std::string& file);
// models/calibration/<gpu>/<model>-tp<N>.yaml
std::string coefficients_path(const std::string& root, const std::string& gpu, const std::string& model, int tp);

}  // namespace greenfleet::perf
