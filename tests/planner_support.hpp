#pragma once
#include <string>

#include "sim/core/params.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/objectives.hpp"

namespace greenfleet::test {

// The planner tests' two common pieces: an objective from the registry with its declared defaults, and solver
// settings that return the exact optimum (the tests compare plans with plans worked out by hand).

inline planning::Objective objective(const std::string& name) {
  return planning::objectives().create(name, core::default_values(planning::objectives().info(name).params));
}

// No relative gap; `integer_instances` as the test needs it (the planner's default relaxes instances).
inline planning::SolverSettings exact(bool integer_instances = true) {
  planning::SolverSettings s;
  s.relative_gap = 0;
  s.integer_instances = integer_instances;
  return s;
}

// A small planning file that loads (one T4 server type, one online class, a measured capacity entry, the carbon
// objective): the validation tests edit it line by line.
inline const std::string kSmallPlanFile = R"(name: t
horizon: 2h
carbon_intensity: {kind: constant, value: 100}
servers:
  - sku: pcie-t4x4
classes:
  - name: chat
    model: llama-3.1-8b
    online: {kind: values, values: [4, 8]}
    slo: {ttft: 1s, tpot: 100ms}
capacity:
  entries:
    - {class: chat, sku: pcie-t4x4, rate: 2}
objective: {name: carbon}
)";

}  // namespace greenfleet::test
