#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"

// EcoServe's Recycle (docs/LIFECYCLE.md): a multi-year study of refresh schedules. Each year of each policy is a
// simulation of the base experiment's representative period on that year's fleet, scaled to a year.
namespace greenfleet::lifecycle {

inline constexpr double kHoursPerYear = 8760;  // EcoServe's year (8,760 h), as carbon.lifetimes uses

// A server generation: a server SKU of the catalog that can be bought from `from_year` (0 = the study's start).
struct Generation {
  std::string server;
  std::int32_t from_year = 0;
  std::string where;  // "FILE:LINE:COL: generations[i].server", for errors of the years it serves
};

// How a policy replaces hardware. `recycle`: GPUs (with their baseboard) every `gpu_years`, hosts every
// `host_years`, independently; `homogeneous`: the whole server every `gpu_years` (= `host_years`).
struct Policy {
  std::string name;
  std::string kind;  // recycle | homogeneous
  std::int32_t gpu_years = 0;
  std::int32_t host_years = 0;
};

struct LifecycleConfig {
  std::string file;        // the lifecycle YAML
  std::string experiment;  // the base experiment, resolved beside `file`
  std::string name;
  std::int32_t horizon_years = 0;
  double load_growth = 0;        // per year: year t's arrival rate is the base's x (1 + load_growth)^t
  double carbon_intensity = -1;  // gCO2e/kWh given to every site of the base experiment; < 0: as the base says
  std::vector<Generation> generations;
  std::vector<Policy> policies;
  std::string output;    // CSV path ("" = none)
  std::string data_dir;  // public data sets, for the base experiment's workload
  // Settings read but without effect in this configuration, each "FILE:LINE:COL: KEY: why" (the command prints
  // them as `note:` lines): a generation on sale only after the horizon, legitimate when --set shortens the
  // horizon of a file shared with longer studies; the base experiment's notes (experiment::notes_for_gpus under
  // the generations' servers).
  std::vector<std::string> notes;
};

// Reads and validates a lifecycle YAML against the catalog, and loads its base experiment once, then once per
// distinct year of the policies (the fleet, lifetimes and rate run_study gives it), so that an error of any year
// comes before the first simulation, naming the generation's key, and the years' notes are gathered (errors:
// core::InputError with file:line:column and the key). `overrides` are `--set` assignments of the lifecycle file
// itself (`horizon_years=4`).
LifecycleConfig load_config(const std::string& file, const catalog::Catalog& catalog,
                            const std::vector<std::string>& overrides, const std::string& data_dir);

// One year of one policy: what the fleet was, what its run measured and what that makes over the year.
struct YearRow {
  std::string policy;
  std::int32_t year = 0;                   // 1-based
  std::string server;                      // the SKU simulated (a recycled one is "<host SKU>+<GPU SKU>")
  std::string gpu;                         // GPU kind
  std::string host;                        // the server SKU the host came from
  std::int32_t gpu_age = 0, host_age = 0;  // whole years in service at the start of the year
  bool gpu_bought = false, host_bought = false;
  double rate_scale = 1;
  // The run (the representative period), as its ledger and metrics gave them:
  double run_seconds = 0;
  std::uint64_t completed = 0, slo_met = 0;
  double run_energy_kwh = 0, run_operational_kg = 0, run_embodied_gpu_kg = 0, run_embodied_host_kg = 0;
  double run_tokens = 0;
  // The year: the run's amounts x scale (8,760 h / run_seconds).
  double scale = 0;
  double energy_mwh = 0, operational_t = 0, embodied_gpu_t = 0, embodied_host_t = 0;
  double total_t = 0, cumulative_t = 0;
  // Whole embodied carbon of what was bought this year (the at-purchase rule), and its running sum with
  // operational carbon.
  double bought_t = 0, cumulative_at_purchase_t = 0;
};

struct PolicyTotal {
  std::string policy, kind;
  double operational_t = 0, embodied_t = 0, total_t = 0, at_purchase_t = 0;
  double tokens = 0;  // over the horizon (run tokens x scale)
};

struct LifecycleResult {
  std::vector<YearRow> rows;  // policy by policy, year by year
  std::vector<PolicyTotal> totals;
  std::uint64_t simulations = 0;  // distinct runs (identical years reuse one run)
};

// Runs the study. `progress` (may be null) is told about each simulation as it starts.
LifecycleResult run_study(const LifecycleConfig& config, const catalog::Catalog& catalog, bool quiet = true);

// The per-year table and the per-policy totals as text, and the per-year table as CSV (every column of YearRow).
std::string format_table(const LifecycleResult& result);
std::string format_csv(const LifecycleResult& result);

// The server SKU made of `host_sku`'s host carrying `gpu_sku`'s GPUs (and baseboard): the
// host's CPU, DRAM, SSD and NICs, the GPU SKU's GPUs, GPU count and scale-up fabric; chassis fans re-priced by the
// catalog's rule (0.10 x GPU TDP). Equal SKUs give the catalog's own.
spec::ServerSku recycled_server(const catalog::Catalog& catalog, const std::string& host_sku,
                                const std::string& gpu_sku);

}  // namespace greenfleet::lifecycle
