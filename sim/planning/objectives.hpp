#pragma once
#include "sim/core/registry.hpp"
#include "sim/planning/problem.hpp"

namespace greenfleet::planning {

// The planner's objectives, registered by name with typed parameters: the planning YAML names them under
// `objective` and `baselines`, `greenfleet list policies` shows them.
using ObjectiveRegistry = core::Registry<Objective>;
const ObjectiveRegistry& objectives();

}  // namespace greenfleet::planning
