#pragma once

namespace greenfleet::perf {

// A ring all-reduce among `gpus` GPUs, the form every model here gives tensor-parallel communication (the
// roofline, the calibration carry that subtracts what the roofline adds, the Vidur operator model's stack
// terms and its reconstruction for GPUs without all-reduce data): 2 (g - 1) steps, in which each GPU sends
// and receives 2 (g - 1) / g of the message over its link.
inline double ring_all_reduce_steps(int gpus) { return 2.0 * (gpus - 1); }

// The transfer time of ring all-reduces moving `bytes` in all at `link_bytes_per_s` per direction per GPU,
// without their latency. Evaluated left to right as written: the callers' fitted and committed numbers depend
// on its exact rounding.
inline double ring_all_reduce_seconds(double bytes, int gpus, double link_bytes_per_s) {
  return 2.0 * (gpus - 1) / gpus * bytes / link_bytes_per_s;
}

}  // namespace greenfleet::perf
