#pragma once
#include <string>

// Coefficients of the CPU inference model, as models/calibration/cpu/<cpu>/<model>.yaml stores them.
namespace greenfleet::spec {

// Coefficients of the CPU inference model for one (CPU, model) pair, fitted by `greenfleet calibrate` to
// published llama.cpp measurements and stored under models/calibration/cpu/<cpu>/<model>.yaml
// (docs/CPU_MODEL.md). All CPU work scales with the threads given to it by Amdahl's law, g(n) =
// serial_fraction + (1 - serial_fraction) / n, so every *_1t_s coefficient is a one-thread-equivalent time
// (s) multiplied by g(n); the AMX speed-up divides it too. The weight read per step (floor_s) does neither:
// at 64 threads and above the memory bandwidth is already saturated, and AMX does not read faster. A step is
// the larger of two lines:
//   streaming line: floor_s + g(n)/amx x stream_per_seq_1t_s x decode seqs
//   compute line:   g(n)/amx x (compute_per_seq_1t_s x decode seqs + per_prefill_token_1t_s x prefill tokens)
// Small decode batches sit on the streaming line (weights streamed once per step, per-sequence work on top);
// large ones on the compute line, where throughput plateaus. Context length does not enter: the measurements
// cannot identify it (docs/CPU_MODEL.md, limits).
struct CpuCoefficients {
  std::string cpu, model, engine, quantisation, source;
  double floor_s = 0, stream_per_seq_1t_s = 0, compute_per_seq_1t_s = 0, per_prefill_token_1t_s = 0;
  double serial_fraction = 0;
  // Measured host power while llama.cpp runs on n threads: power_base_w + power_per_thread_w x n. The base is
  // a line's intercept, not an idle power (no idle point was measured).
  double power_base_w = 0, power_per_thread_w = 0;
  // Fit quality: absolute percentage errors of held-out throughputs; of power, leave-one-out (range ends).
  int training_points = 0, held_out_points = 0, held_out_in_range = 0;
  double held_out_median_ape = 0, held_out_p90_ape = 0;
  int power_points = 0;
  double power_median_ape = 0, power_p90_ape = 0;
};

}  // namespace greenfleet::spec
