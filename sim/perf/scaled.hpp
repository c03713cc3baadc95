#pragma once
#include <memory>
#include <string>
#include <utility>

#include "sim/perf/perf_model.hpp"

namespace greenfleet::perf {

// Another model's step times multiplied by a constant (`perf_model.step_time_scale`): for sensitivity studies
// of hardware priced without measurements of its own (old GPUs: docs/MODELS.md), and the CPU instances'
// interference. Every term of the decode line scales, a host floor too (step_cost scales max(step, floor)), so
// decode runs keep their closed form and fast-forward stays exact.
class ScaledModel final : public PerfModel {
 public:
  ScaledModel(std::unique_ptr<PerfModel> inner, double scale) : inner_(std::move(inner)), scale_(scale) {}
  std::string kind() const override { return inner_->kind(); }
  StepCost step_cost(const BatchShape& shape) const override {
    StepCost c = inner_->step_cost(shape);
    c.seconds *= scale_;
    c.busy_seconds *= scale_;
    return c;
  }
  DecodeCost decode_cost(std::int32_t batch) const override {
    DecodeCost d = inner_->decode_cost(batch);
    d.fixed *= scale_, d.a1 *= scale_, d.b1 *= scale_, d.a2 *= scale_, d.b2 *= scale_, d.overhead *= scale_;
    d.floor *= scale_;
    return d;
  }

 private:
  std::unique_ptr<PerfModel> inner_;
  double scale_ = 1;
};

// `model` scaled, or itself where the scale is 1 (no extra indirection in the common case).
inline std::unique_ptr<PerfModel> scaled(std::unique_ptr<PerfModel> model, double scale) {
  if (scale == 1.0) return model;
  return std::make_unique<ScaledModel>(std::move(model), scale);
}

}  // namespace greenfleet::perf
