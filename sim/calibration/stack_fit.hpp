#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/calibration/splitwise_calibration.hpp"

namespace greenfleet::calibration {

class OperatorModel;

// What a GPU architecture's serving stack adds to the sum of Vidur's operator times, fitted to SplitwiseSim's
// measured Llama-2-70B steps (fit_stack). The attention terms are analytic (Vidur has no attention timings):
//   prefill attention: attn_compute_factor x its FLOPs at the peak FP16 rate,
//   decode attention:  attn_bandwidth_factor x its KV reads at the peak memory bandwidth,
// so each factor is 1 / efficiency. The tensor-parallel terms are what the measured engine spent on
// all-reduces beyond Vidur's NCCL microbenchmark, in the terms of a ring all-reduce (ring_all_reduce.hpp: a
// latency per ring step, and a multiple of the ideal transfer time over the link).
struct StackFit {
  std::string architecture, source;
  double step_overhead_s = 0;        // per step: scheduling, sampling, launches
  double attn_compute_factor = 0;    // 1 / compute efficiency of prefill attention
  double attn_bandwidth_factor = 0;  // 1 / bandwidth efficiency of decode attention (KV read per KV head)
  double hop_latency_s = 0;          // per ring step of each all-reduce
  double ring_byte_factor = 0;       // multiples of the ideal ring transfer time over the catalog link
  int training_points = 0;
  ErrorStats training;  // relative errors of the composed model on the training steps
  double compute_efficiency() const { return attn_compute_factor > 0 ? 1 / attn_compute_factor : 0; }
  double bandwidth_efficiency() const { return attn_bandwidth_factor > 0 ? 1 / attn_bandwidth_factor : 0; }
};

// Fits a StackFit for one GPU architecture: for each training step of each measured set (prefill steps, and
// the mean decode step of generations that ran in full) the target is the measured time less the bare
// operator sum of `bare` (a model with a zero StackFit) and, for decode steps, less the KV read time at the
// given `attn_bandwidth_factor` (fitted elsewhere: in SplitwiseSim's decode steps the context moves in lockstep
// with the batch, so the term is not identified there); the features are one step, the prefill attention FLOP
// time, the ring steps and the ring time; weighted least squares on relative error (weights
// 1 / measured), coefficients non-negative.
StackFit fit_stack(const std::string& architecture, const std::string& source,
                   const std::vector<std::pair<OperatorModel, MeasuredSet>>& bare, double attn_bandwidth_factor);

}  // namespace greenfleet::calibration
