#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/planning/plan_config.hpp"

namespace greenfleet::planning {

// One row of a capacity table and how it was obtained.
struct CapacityRow {
  CapacityEntry entry;
  std::string source;  // given | simulated | cached
  int simulations = 0;
};

// Fills the capacity table of `pc`: entries given in the planning file as they are; every other (class, server
// type, tensor parallelism) whose model fits is measured by short simulations of a single-server variant of
// capacity.experiment (docs/PLANNING.md, "Capacity tables"): for an online class, the highest rate per instance
// whose p90 TTFT and p90 TPOT meet the class's SLO for every seed (bisection on the rate of a Poisson stream); for
// an offline class, the steady throughput per instance of a backlog (10th to 90th percentile completions).
// Simulated rows are cached under capacity.cache keyed by a hash of every input (the binary's revision, the
// catalog and model files, the resolved experiment of each simulation, the settings); `rebuild` ignores the cache.
// `progress` gets one line per row.
std::vector<CapacityRow> build_capacity(const PlanConfig& pc, const catalog::Catalog& catalog,
                                        const std::string& data_dir, bool rebuild,
                                        const std::function<void(const std::string&)>& progress = {});

}  // namespace greenfleet::planning
