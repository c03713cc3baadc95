#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/perf/batch_shape.hpp"

namespace greenfleet::perf {

// Sum over i in [0, k) of max(a1 + b1*x_i, a2 + b2*x_i) with x_i = x0 + i*dx: the closed form behind decode
// fast-forward for any model whose decode step is a maximum of two lines in the context (a roofline).
// Inline for the common case of one line dominating the whole run (its two ends decide, the difference being
// linear), which every step of a fast-forwarded run's bookkeeping asks for.
double sum_max_of_crossing_lines(double a1, double b1, double a2, double b2, double x0, double dx, std::int64_t k);
inline double sum_max_of_lines(double a1, double b1, double a2, double b2, double x0, double dx, std::int64_t k) {
  if (k <= 0) return 0;
  const double x_last = x0 + static_cast<double>(k - 1) * dx;
  const bool one_at_start = a1 + b1 * x0 >= a2 + b2 * x0, one_at_end = a1 + b1 * x_last >= a2 + b2 * x_last;
  if (one_at_start != one_at_end) return sum_max_of_crossing_lines(a1, b1, a2, b2, x0, dx, k);
  const double a = one_at_start ? a1 : a2, b = one_at_start ? b1 : b2;
  const double n = static_cast<double>(k);
  return n * (a + b * x0) + b * dx * (n * 0.0 + n * (n - 1) / 2);  // sum_{i<k} (a + b*(x0 + i*dx))
}

// Sum over i in [0, k) of max(floor, fixed + max(a1 + b1*x_i, a2 + b2*x_i)), x_i = x0 + i*dx: the decode run of a
// host-bound engine (HostFloorModel), whose step is never shorter than `floor`. The iterations below the floor
// form one interval of i (where both lines are), so the sum is the floor over it plus the two-line sums around it.
double sum_max_of_lines_with_floor(double floor, double fixed, double a1, double b1, double a2, double b2,
                                   double x0, double dx, std::int64_t k);

// The cost of a decode-only step of a fixed batch as a function of its total context x:
// max(floor, fixed + max(a1 + b1 x, a2 + b2 x)). Every performance model states its decode cost in this form (a
// single line is a2 = a1, b2 = b1; no floor is floor = 0), which is what makes a run of decode iterations summable
// in closed form.
struct DecodeCost {
  double fixed = 0, a1 = 0, b1 = 0, a2 = 0, b2 = 0;
  double overhead = 0;  // the part of `fixed` during which devices are not busy (scheduling, launches)
  // A lower bound on the step (s) while the devices wait on the host (HostFloorModel); 0: none. Not busy time.
  double floor = 0;
  std::int32_t batch = 0;

  // Whether there is a floor (it is never negative): its bits, one integer test where `floor > 0` takes a
  // floating-point compare against a zeroed register on every hot call.
  bool has_floor() const { return std::bit_cast<std::uint64_t>(floor) != 0; }
  // (fixed + max(...) is never negative, so a floor of 0 changes nothing.)
  double step_seconds(double ctx) const { return std::max(floor, fixed + std::max(a1 + b1 * ctx, a2 + b2 * ctx)); }
  // The devices' busy part of that step: the step without the floor, less the overhead.
  double busy_step_seconds(double ctx) const { return fixed + std::max(a1 + b1 * ctx, a2 + b2 * ctx) - overhead; }
  // k iterations starting at total context ctx0, which grows by `batch` per iteration.
  double run_seconds(std::int64_t ctx0, std::int64_t k) const { return run_seconds(ctx0, k, batch); }
  // The same when each iteration adds `growth` tokens of context (every sequence emitting growth / batch).
  double run_seconds(std::int64_t ctx0, std::int64_t k, std::int64_t growth) const {
    if (has_floor()) [[unlikely]]
      return sum_max_of_lines_with_floor(floor, fixed, a1, b1, a2, b2, static_cast<double>(ctx0),
                                         static_cast<double>(growth), k);
    return plain_run_seconds(ctx0, k, growth);
  }
  // The same without the floor (all of it where there is none).
  double plain_run_seconds(std::int64_t ctx0, std::int64_t k, std::int64_t growth) const {
    return static_cast<double>(k) * fixed +
           sum_max_of_lines(a1, b1, a2, b2, static_cast<double>(ctx0), static_cast<double>(growth), k);
  }
  // The devices' busy time over those k iterations: the run without the floor, less k overheads.
  double busy_run_seconds(std::int64_t ctx0, std::int64_t k, std::int64_t growth) const {
    return static_cast<double>(k) * (fixed - overhead) +
           sum_max_of_lines(a1, b1, a2, b2, static_cast<double>(ctx0), static_cast<double>(growth), k);
  }
};

// What a step costs: its duration, the part of it the devices spend computing or moving data (the rest is
// fixed overhead: scheduling, sampling, launches), and the share of that work that is prefill. The power model
// turns these into energy.
struct StepCost {
  double seconds = 0;
  double busy_seconds = 0;
  double prefill_share = 0;
};

// Prices one engine step of one instance (a model replica on its devices). Implementations must keep decode
// runs summable in closed form: the fast-forward of all-decode batches depends on decode_cost().
class PerfModel {
 public:
  virtual ~PerfModel() = default;
  virtual std::string kind() const = 0;
  virtual StepCost step_cost(const BatchShape& shape) const = 0;
  double step_seconds(const BatchShape& shape) const { return step_cost(shape).seconds; }
  // Must agree with step_seconds() on decode-only shapes of this batch size.
  virtual DecodeCost decode_cost(std::int32_t batch) const = 0;
  // decode_cost() from a table of every batch size up to the largest a scheduler can run, filled once by
  // prepare_decode_costs() when the simulation is built. Every decode run asks for it, and the instances of one
  // deployment on one GPU kind share their model, so one small table serves them all (a table per instance
  // missed the cache). It is a read: a const model holds no cache that running writes to, so models may be
  // shared by simulations running side by side. Batches past the table (none in a simulation) are computed.
  DecodeCost decode_cost_cached(std::int32_t batch) const {
    const auto b = static_cast<std::size_t>(batch);
    if (b < decode_table_.size()) return decode_table_[b];
    return decode_cost(batch);
  }
  // Fills the table of decode_cost_cached() for batches 0..max_batch (the scheduler's max_num_seqs).
  void prepare_decode_costs(std::int32_t max_batch) {
    decode_table_.clear();
    for (std::int32_t b = 0; b <= max_batch; ++b) decode_table_.push_back(decode_cost(b));
  }

  // Sum of the step times of k consecutive decode-only iterations of `batch` sequences whose total context is
  // `ctx0` in the first iteration and grows by `batch` each iteration.
  double decode_run_seconds(std::int32_t batch, std::int64_t ctx0, std::int64_t k) const {
    return decode_cost(batch).run_seconds(ctx0, k);
  }
  double decode_step_seconds(std::int32_t batch, std::int64_t ctx) const {
    BatchShape s;
    s.decode_seqs = batch;
    s.decode_ctx = ctx;
    return step_seconds(s);
  }

 private:
  std::vector<DecodeCost> decode_table_;  // [batch]; filled by prepare_decode_costs()
};

}  // namespace greenfleet::perf
