#pragma once
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/perf/calibrated.hpp"
#include "sim/perf/roofline.hpp"

namespace greenfleet::calibration {

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
  bool harness = false;  // measured with models/calibration/measure (committed under models/calibration/measured/)
  bool fitted = true;    // becomes a catalog entry; false: validated against the model a simulation uses instead
  std::string note;      // why not fitted
};

// Reads SplitwiseSim's perf_model.csv (columns by name, text/csv_columns.hpp), maps its model and hardware
// names to catalog ids, collapses repeats to medians and marks the distinct points (in sorted order, excluded ones
// left out) held out by is_held_out. Rows of models or hardware the catalog lacks are skipped and counted in
// `skipped`. A batch-sweep point whose prefill time is below that of a smaller batch was not run as one step
// (the KV cache could not hold the batch, so the engine queued part of it): such points are excluded from
// fitting and validation, and counted. With `catalog`, rows naming catalog ids directly (the measurement
// harness in models/calibration/measure/ writes them) are accepted too; `source` then describes the file.
std::vector<MeasuredSet> read_splitwise_sim(const std::string& path, std::map<std::string, int>& skipped,
                                            const catalog::Catalog* catalog = nullptr,
                                            const std::string& source = "");

// The measurement harness's tables committed under models/calibration/measured/ (README there), and whether
// each is fitted into a catalog entry: a table whose decode steps ran eagerly (no CUDA graphs) measures
// PyTorch's kernel launches rather than the GPU at small batches, which no serving engine does, so it is only
// validated (docs/MODELS.md, "Measured H100 tables").
struct HarnessTable {
  const char* file;  // relative to the project root
  bool fitted;
  const char* note;
};
std::span<const HarnessTable> harness_tables();

// Every measured step-time set `greenfleet calibrate` and `validate` use: SplitwiseSim's (under `data_dir`),
// then the committed harness tables (under `project`; the unfitted ones only with `with_unfitted`), then
// `extra` files in the same schema naming catalog ids.
std::vector<MeasuredSet> read_measured_sets(const std::string& data_dir, const std::string& project,
                                            const catalog::Catalog& catalog, bool with_unfitted,
                                            const std::vector<std::string>& extra,
                                            std::map<std::string, int>& skipped);

// Fits prefill and decode coefficients (origin measured) on the training points and measures held-out
// step-time errors and end-to-end errors on held-out points: a held-out prefill counts only if no training
// point has the same prefill shape, and truncated generations are used for neither decode nor end-to-end.
spec::CalibrationCoefficients calibrate(const MeasuredSet& set);

// Held-out step-time errors (prefill and decode together) and end-to-end errors of `model` on `set`.
ErrorStats e2e_errors(const perf::PerfModel& model, const MeasuredSet& set);
ErrorStats held_out_step_errors(const perf::PerfModel& model, const MeasuredSet& set);

}  // namespace greenfleet::calibration
