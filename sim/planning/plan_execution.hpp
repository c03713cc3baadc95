#pragma once
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/time.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/serving/provisioner.hpp"

// Executing a provisioning plan in `greenfleet run --plan PLAN.yaml` (docs/PLANNING.md, "Executing a plan"): the
// fleet comes from the plan, each server follows the plan's servers on per slot (the follow_plan power policy),
// and the report compares what ran with what the plan promised.
namespace greenfleet::planning {

struct PlannedClass {
  std::string name;
  bool online = true;
  int experiment_class = 0;  // index into the experiment's workload.classes (0 without classes)
  std::string deployment;
  double ttft_s = 0, tpot_s = 0;  // the SLO the plan's capacity entries meet (online)
  double mean_rate = 0;           // online: the plan's demand, mean over its slots (requests/s)
  double requests = 0;            // offline: the requests the plan's batches hold
  // Offline, split between CPU instances and GPUs: the share of its planned capacity on CPU instances (its
  // requests are sent there in that proportion) and the deployment they serve (a copy of its own); 0 and empty
  // otherwise.
  double cpu_share = 0;
  std::string cpu_deployment;
};

struct PlanExecution {
  std::string file;
  std::string objective;
  core::SimTime slot = core::kHour;
  int slots = 0;
  std::vector<std::string> skus;          // the plan's server types with servers bought
  std::vector<int> bought;                // per type
  std::vector<int> built;                 // per type: servers in the run's fleet (those bought)
  std::vector<std::vector<int>> planned;  // [type][slot]: servers on
  std::vector<int> server_type;           // per server of the run (fleet order): index into skus
  std::vector<PlannedClass> classes;
};

// Reads plan `objective` (empty: the first) of the plan file and replaces the experiment's fleet with it. Each
// class of the plan maps to the experiment's workload class of the same name (without workload classes, a plan
// of one class maps to `workload.deployment`). Classes the plan puts on a common server type share its servers:
// they are grouped (connected by the types they use) and each group runs on the deployment of its first class
// (the workload classes' `deployment` is rewritten). Every server bought is one fleet entry, on in the slots
// where its number is below the plan's servers on. fleet[0] of the experiment is the template of every entry
// (site, lifetimes, power parameters). Errors (a server type the catalog lacks, a class the experiment lacks, a
// model or tensor parallelism the deployment does not use, no plan for the objective) are core::InputError
// naming the plan file's line and key.
PlanExecution apply_plan(experiment::Experiment& x, const catalog::Catalog& catalog, const std::string& plan_file,
                         const std::string& objective);

// Servers on per type and slot as the run did them, next to the plan's.
struct SlotComparison {
  int slot = 0;
  int type = 0;
  int planned = 0;
  int on_at_start = 0;      // taking work at the slot's start (booted, not draining)
  double mean_powered = 0;  // servers drawing power (booting, on or draining), mean over the slot
};
std::vector<SlotComparison> compare_slots(const PlanExecution& plan,
                                          const std::vector<serving::PowerTransition>& transitions,
                                          core::SimTime end);

}  // namespace greenfleet::planning
