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

}  // namespace greenfleet::test
