#pragma once
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/params.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/planning/problem.hpp"

namespace greenfleet::planning {

// How the capacity table of a class on a server type is measured by short simulations (capacity.hpp).
struct CapacitySimulation {
  std::string experiment;               // the base experiment (resolved path); empty: no simulations
  std::vector<std::string> set;         // --set overrides for every simulation of this class
  std::string set_where;                // "file:line:col: classes[i].set" (empty without one), for messages
  std::vector<int> tensor_parallel{1};  // TPs tried per server type (those that divide its GPUs and fit)
};

// A capacity entry given in the planning file instead of simulated.
struct GivenCapacity {
  std::string class_name, sku;
  int tensor_parallel = 1;
  Role role = Role::kUnified;
  Device device = Device::kGpu;  // kCpu: one CPU instance of the type's `cpu_instances` (offline classes)
  double rate = 0;
  double active_w = -1;  // -1: from the catalog (tensor_parallel x (decode - idle) W of the GPU; CPU: the CPU
                         // model's busy power of cores_each threads)
  std::string where;     // file:line for messages
};

struct CapacitySettings {
  std::string experiment;  // resolved path of capacity.experiment; empty when every entry is given
  std::string cache_dir;   // where simulated tables are cached (resolved; empty: no cache)
  std::int64_t requests_per_instance = 400;
  std::int64_t warmup_per_instance = 50;
  std::vector<std::uint64_t> seeds{1};
  int bisection_steps = 7;
  double max_rate = 256;  // requests/s per instance: the bisection's upper end
  // Decode capacity: the prefill pool feeding the decode instance under test has this many times the prefill
  // capacity the stream needs (ours: 2, so that prefill queues do not shape the decode instance's arrivals).
  double prefill_headroom = 2;
  std::vector<GivenCapacity> given;
};

// A planning file (docs/PLANNING.md): the problem less its capacity entries, the capacity settings, the
// objective and the baselines, the solver settings.
struct PlanConfig {
  std::string file;
  std::string name;
  Problem problem;                           // capacity filled in by build_capacity
  std::vector<CapacitySimulation> simulate;  // per class
  CapacitySettings capacity;
  Objective objective;
  std::vector<Objective> baselines;
  SolverSettings solver;
  std::string output_path;  // the plan file (YAML)
  // Settings with no effect in the experiments the plan reads (its `kind: workload` demands, capacity.experiment
  // under the server types), "FILE:LINE:COL: KEY: why", for `greenfleet plan` to print as notes.
  std::vector<std::string> notes;
};

// Loads and validates a planning file against the catalog (`data_dir`: where workloads binned into demand find
// their traces). Throws core::InputError with file:line:column and the key on bad input.
PlanConfig load_plan_config(const std::string& file, const catalog::Catalog& catalog,
                            const std::vector<std::string>& overrides = {}, const std::string& data_dir = "");

// Server type of a catalog SKU: its power while on and idle, whole-life embodied carbon, price.
ServerType server_type(const catalog::Catalog& catalog, const std::string& sku);
// The same with another host configuration (`host` names it: reduced).
ServerType server_type(const catalog::Catalog& catalog, const std::string& sku, const std::string& host,
                       energy::HostMemory memory);

}  // namespace greenfleet::planning
