#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/time.hpp"

// The inputs and the result of a provisioning plan (docs/PLANNING.md): the planner's own structs, filled by the
// planning YAML's loader (plan_config) and the capacity tables (capacity), solved by solve_plan (ilp).
namespace greenfleet::planning {

// A server type the plan may buy: a catalog SKU with what the model needs of it.
struct ServerType {
  std::string sku;
  std::string gpu;         // catalog GPU id
  double gpu_tflops = 0;   // dense FP16 TFLOP/s of its GPU: the performance baseline keeps the fastest
  int gpus = 0;            // GPUs per server
  double idle_w = 0;       // the server on with nothing running: GPUs idle, CPU sockets idle, chassis, NIC,
                           // DRAM, SSD (hardware_catalog/servers.yaml's power rule)
  double embodied_kg = 0;  // whole-life embodied carbon: GPU cards + host (EcoServe calculator)
  double lifetime_years = 4;
  double usd_per_hour = 0;  // price of the server per hour on (servers.yaml usd_per_hour)
  int max_count = -1;       // servers that may be bought; -1: no limit (shared by the SKU's host configurations)
  // Host configuration (docs/PLANNING.md, "Host configurations"): `default` (the SKU's DRAM and SSD) or `reduced`
  // (the Reduce rule's least host for every class's model); a SKU offered with both is two types.
  std::string host = "default";
  double dram_gb = 0, ssd_gb = 0;
  // EcoServe's Reuse (docs/PLANNING.md, "CPU instances"): offline work on CPU instances on the host's cores.
  // cores_each 0: the type offers none. The settings are the simulator's `fleet[].cpu_instances` keys.
  struct CpuOffer {
    int cores_each = 0;       // cores (threads) of one CPU instance
    int reserved_cores = 16;  // kept for the GPU serving stack
    int host_cores = 0;       // sockets x cores of the host CPU (catalog)
    double dram_gb_each = 64;
    double amx_speedup = 3.67;
    int max_num_seqs = 32;  // the CPU instances' deployment's scheduler limit
    // Host DRAM the CPU instances may hold: this host configuration's DRAM less what the GPU serving stack keeps
    // (the Reduce rule's minimum: weights, swap, OS). A reduced host has only its rounding's slack.
    double dram_gb = 0;
  } cpu;
};

// An online class needs capacity in every slot; an offline class a volume of requests by a deadline.
struct OfflineBatch {
  double requests = 0;
  int first_slot = 0;  // released at the start of this slot
  int end_slot = 0;    // due by the start of this slot (exclusive)
};

// Whether an online class may be served disaggregated (docs/PLANNING.md, "Roles"): its prefill on instances of
// one server type, its decode on another's (the simulator's request modes, docs/EXPERIMENTS.md).
enum class Split { kNever, kAllowed, kOnly };

struct WorkloadClass {
  std::string name;
  std::string model;
  bool online = true;
  Split split = Split::kNever;  // kNever: unified instances only; kOnly: prefill and decode instances only
  // Offline classes: where their instances may run (`device`: any, gpu or cpu; docs/PLANNING.md, "CPU
  // instances"). Online classes run on GPUs only.
  bool on_gpu = true, on_cpu = true;
  core::SimTime ttft = 0, tpot = 0;   // the SLO (p90) the capacity entries meet (online)
  std::vector<double> rate;           // online: requests/s per slot (the forecast the plan is made for)
  std::vector<double> actual;         // online: the demand itself, when the forecast differs (else empty)
  std::vector<OfflineBatch> batches;  // offline
};

// What an instance does for its class: serve whole requests, or only their prefill (requests leave after their
// first token, their KV sent on) or only their decode (requests arrive with their prompt's KV).
enum class Role { kUnified, kPrefill, kDecode };
// Where an entry's instances run: on the server's GPUs, or on its host CPU's cores (offline classes only).
enum class Device { kGpu, kCpu };
inline const char* to_string(Role r) {
  return r == Role::kUnified ? "unified" : r == Role::kPrefill ? "prefill" : "decode";
}

// One instance of a class on a server type in a role: `gpus` GPUs (its tensor parallelism) serving up to `rate`
// requests/s within the class's SLOs (online: a unified instance meets p90 TTFT and TPOT, a prefill instance p90
// TTFT, a decode instance p90 TPOT), or `rate` requests/s of throughput (offline), drawing `active_w` more than
// its GPUs' idle power while doing so.
struct CapacityEntry {
  int class_index = 0;
  int type_index = 0;
  int gpus = 1;
  double rate = 0;
  double active_w = 0;
  Role role = Role::kUnified;
  // kCpu: a CPU instance (gpus 0) taking `cores` host cores and `dram_gb` of host DRAM; active_w is its cores'
  // power while stepping. Only offline classes have CPU entries.
  Device device = Device::kGpu;
  int cores = 0;
  double dram_gb = 0;
};

struct Problem {
  core::SimTime slot = core::kHour;
  int slots = 0;
  std::vector<double> ci;  // gCO2e/kWh per slot (the forecast)
  double pue = 1;
  std::vector<ServerType> types;
  std::vector<WorkloadClass> classes;
  std::vector<CapacityEntry> capacity;
};

struct SolverSettings {
  // What stops CBC's search (docs/PLANNING.md, "Solver"): the relative gap, or `max_nodes` branch-and-bound nodes,
  // a count that gives the same plan on any machine and load; the CPU-time limit is a safety net only (a plan it
  // stops depends on the machine's speed).
  double time_limit_s = 300;
  std::int64_t max_nodes = 20000;
  double relative_gap = 0.01;
  // Instances per class, type and slot: continuous by default (the mean number of instances over the slot;
  // servers bought and on are always integers), or integers (slower: CBC may find no plan in the time limit on
  // large problems).
  bool integer_instances = false;
};

// What the planner minimises: carbon (EcoServe's objective), or one of the three baselines on the same
// constraints (EcoServe, Li et al., arXiv 2502.05043; docs/PLANNING.md).
enum class ObjectiveKind { kCarbon, kPerformance, kEnergy, kCost };

struct Objective {
  ObjectiveKind kind = ObjectiveKind::kCarbon;
  std::string name = "carbon";
  double embodied_weight = 1;          // carbon: multiplies the amortised embodied term
  double electricity_usd_per_kwh = 0;  // cost: energy priced on top of the servers' $/h
  bool cpu_offline = false;            // performance: offline classes may also use CPU instances (Reuse)
};

// The solution and what it costs by every measure, whatever the objective.
struct Plan {
  std::string objective;
  // optimal | within_gap (solver.relative_gap) | node_limit (solver.max_nodes, larger gap) | time_limit (the CPU
  // time ran out first: the plan depends on the machine and its load) | feasible (the search ended on none of
  // these with a larger gap: CBC's own gap test)
  std::string status;
  std::int64_t nodes = 0;  // branch-and-bound nodes explored (both searches with integer instances)
  double objective_value = 0;
  double bound = 0;  // the best bound of the branch and bound (the LP bound at the end of the search)
  double gap = 0;    // (objective - bound) / |objective|
  double solve_seconds = 0;
  int variables = 0, integer_variables = 0, constraints = 0;
  std::vector<int> bought;                     // per type
  std::vector<std::vector<int>> on;            // [type][slot]
  std::vector<std::vector<double>> instances;  // [entry][slot]
  double operational_kg = 0, embodied_kg = 0, energy_kwh = 0, cost_usd = 0;
  int gpus_bought = 0;
  // EcoServe's Reuse: per type and slot, the CPU instances running and the offline requests/s they serve; over
  // the horizon, the offline capacity placed on CPU and on GPU instances (requests) and the CPU energy (kWh).
  std::vector<std::vector<double>> cpu_instances, cpu_rate;  // [type][slot]
  double cpu_requests = 0, gpu_offline_requests = 0, cpu_kwh = 0;
  // Online classes planned on a forecast: per class, the slots whose actual demand exceeds the plan's capacity.
  std::vector<std::vector<int>> short_slots;
};

}  // namespace greenfleet::planning
