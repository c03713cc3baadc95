#pragma once
#include <string>
#include <vector>

#include "sim/planning/capacity.hpp"
#include "sim/planning/plan_config.hpp"

namespace greenfleet::planning {

// The capacity table as printed by `greenfleet plan`.
std::string capacity_table(const Problem& problem, const std::vector<CapacityRow>& rows);
// One plan: solver status, bound, gap and time, servers bought and on, instances per class, its totals.
std::string plan_table(const Problem& problem, const Plan& plan);
// Every plan side by side (objective first, then the baselines).
std::string comparison_table(const std::vector<Plan>& plans);
// The plan file (YAML): inputs' summary, capacity table, and per plan the solver's report and the solution slot
// by slot.
std::string plan_yaml(const PlanConfig& config, const std::vector<CapacityRow>& rows,
                      const std::vector<Plan>& plans);

}  // namespace greenfleet::planning
