#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "sim/perf/perf_model.hpp"

namespace greenfleet::perf {

// Another model's steps on a host-bound engine: a step takes max(the model's step, `floor`), the floor being the
// time the host needs to issue the step's kernels (host time per layer x layers: the 2023 engine of
// docs/MODELS.md, "Old GPUs"). The devices are busy only for the model's own step; they wait out the rest. The
// floor is one more line in the decode cost's maximum (DecodeCost::floor), so decode runs keep their closed form
// and fast-forward stays exact.
class HostFloorModel final : public PerfModel {
 public:
  HostFloorModel(std::unique_ptr<PerfModel> inner, double floor_s) : inner_(std::move(inner)), floor_(floor_s) {}
  std::string kind() const override { return inner_->kind(); }
  StepCost step_cost(const BatchShape& shape) const override {
    StepCost c = inner_->step_cost(shape);
    c.seconds = std::max(c.seconds, floor_);
    return c;
  }
  DecodeCost decode_cost(std::int32_t batch) const override {
    DecodeCost d = inner_->decode_cost(batch);
    d.floor = std::max(d.floor, floor_);
    return d;
  }
  double floor_seconds() const { return floor_; }

 private:
  std::unique_ptr<PerfModel> inner_;
  double floor_ = 0;
};

// `model` with a host floor, or itself where the floor is 0 (no extra indirection in the common case).
inline std::unique_ptr<PerfModel> host_floored(std::unique_ptr<PerfModel> model, double floor_s) {
  if (floor_s <= 0) return model;
  return std::make_unique<HostFloorModel>(std::move(model), floor_s);
}

}  // namespace greenfleet::perf
