#pragma once
#include <string>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/perf/cpu_model.hpp"

namespace greenfleet::calibration {

// One published throughput row: a decode batch (or a span of batches the log gives one range for) or a
// prefill, on `threads` threads, with the published tokens/s kept as a range (low == high for a single
// value).
struct CpuThroughputRow {
  bool prefill = false;
  int threads = 0;
  int batch = 0, batch_to = 0;  // decode only; batch_to == batch unless the row spans batches
  double tps_low = 0, tps_high = 0;
  bool held_out = false;
};

struct CpuPowerRow {
  int threads = 0;
  double watts_low = 0, watts_high = 0;
};

// A measurement file of models/calibration/cpu/measurements/ (published numbers; see the file's header).
struct CpuMeasuredSet {
  std::string cpu, model, engine, quantisation, source;
  std::vector<CpuThroughputRow> rows;  // decode before prefill, then by threads, then by batch
  std::vector<CpuPowerRow> power;
};

// What the fit and the errors use: one point per row, two for a span row (its first and last batch, each with
// the row's range), the target being the middle of the range.
struct CpuPoint {
  bool prefill = false;
  int threads = 0, batch = 0;
  double tps = 0, tps_low = 0, tps_high = 0;
  bool held_out = false;
};

// The log does not give the prompt length of its prefill runs. A prefill row is priced as one prompt of this
// length (llama-bench's default, pp512); in the model any prompt longer than a few tokens is compute-bound,
// so the length does not change the per-token rate and this choice does not affect the fit.
inline constexpr int kCpuPrefillPromptTokens = 512;

// Reads one measurement file and marks the rows held out by is_held_out (every third, in the sorted order).
// Besides the per-key checks, the file needs decode and prefill rows, and power rows at two or more thread
// counts (the power line has two parameters); errors name file:line:column and the key.
CpuMeasuredSet read_cpu_measurements(const std::string& file);
// models/calibration/cpu/measurements/*.yaml under `root`, sorted.
std::vector<std::string> cpu_measurement_files(const std::string& root);
std::vector<CpuPoint> cpu_points(const CpuMeasuredSet& set);

// Fits the step-time coefficients on the training points (least squares on the relative error of the step
// time, the serial fraction by a grid search, each decode point's line by a split of the points) and the
// power line on the range ends. Deterministic: same data, same bits.
spec::CpuCoefficients calibrate_cpu(const CpuMeasuredSet& set);

// Predicted tokens/s of the model (llama.cpp baseline unless `amx_speedup` says otherwise) for a point.
double cpu_tokens_per_s(const spec::CpuCoefficients& c, const CpuPoint& p, double amx_speedup = 1.0);
// Absolute percentage errors of throughput on the held-out points, and how many of them fall inside their
// published range.
ErrorStats cpu_held_out_errors(const spec::CpuCoefficients& c, const CpuMeasuredSet& set);
int cpu_held_out_in_range(const spec::CpuCoefficients& c, const CpuMeasuredSet& set);
// Leave-one-out errors of the power line: each range end predicted by the line fitted on the others. With two
// thread counts no point can be held out otherwise; this mostly measures the width of the published ranges.
ErrorStats cpu_power_errors(const CpuMeasuredSet& set);

}  // namespace greenfleet::calibration
