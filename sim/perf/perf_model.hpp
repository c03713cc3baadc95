#pragma once
#include <cstdint>
#include <string>

#include "sim/perf/batch_shape.hpp"

namespace greenfleet::perf {

// Prices one engine step of one instance (a model replica on its devices). Implementations must keep decode
// runs summable in closed form: the fast-forward of all-decode batches depends on decode_run_seconds().
class PerfModel {
 public:
  virtual ~PerfModel() = default;
  virtual std::string kind() const = 0;
  virtual double step_seconds(const BatchShape& shape) const = 0;

  // Sum of the step times of k consecutive decode-only iterations of `batch` sequences whose total context is
  // `ctx0` in the first iteration and grows by `batch` each iteration.
  virtual double decode_run_seconds(std::int32_t batch, std::int64_t ctx0, std::int64_t k) const = 0;

  double decode_step_seconds(std::int32_t batch, std::int64_t ctx) const {
    BatchShape s;
    s.decode_seqs = batch;
    s.decode_ctx = ctx;
    return step_seconds(s);
  }
};

// Sum over i in [0, k) of max(a1 + b1*x_i, a2 + b2*x_i) with x_i = x0 + i*dx: the closed form behind decode
// fast-forward for any model whose decode step is a maximum of two lines in the context (a roofline).
double sum_max_of_lines(double a1, double b1, double a2, double b2, double x0, double dx, std::int64_t k);

}  // namespace greenfleet::perf
