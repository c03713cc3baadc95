#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/params.hpp"
#include "sim/core/time.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/provisioner.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/synthetic.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::fleet {
class Catalog;
}

namespace greenfleet::experiment {

struct WorkloadConfig {
  std::string source;        // an entry of workload_sources() (sim/experiment/components.hpp)
  core::ParamValues params;  // the source's declared parameters, validated (trace files resolved to paths)
  std::string deployment;
  std::uint64_t max_requests = 0;  // 0: all
  text::BadRowPolicy on_bad_row = text::BadRowPolicy::kError;
  workload::SyntheticSpec synthetic;  // source `synthetic`: the `workload.synthetic` section
  workload::TransformSpec transform;
};

// Where a site's grid carbon intensity comes from.
struct CarbonIntensityConfig {
  std::string kind = "constant";                // constant | csv | solar
  double value = 0;                             // constant, gCO2e/kWh
  std::string file, time_column, value_column;  // csv
  std::optional<std::int64_t> start_epoch_ns;   // csv: series time at simulation start (default: first row)
  bool wrap = true;                             // csv: repeat the series past its end
  double unit_scale = 1;                        // csv: to gCO2e/kWh from the file's unit
  energy::CiSeries series;                      // csv: read and checked at load time
  double base = 0, dip = 0, sunrise_h = 6, sunset_h = 18;  // solar
  core::SimTime start_time_of_day = 0;                     // solar: time of day at simulation start
};

struct SiteConfig {
  std::string name;
  double pue = 1.0;
  CarbonIntensityConfig carbon_intensity;
};

struct CarbonConfig {
  core::SimTime slot = core::kHour;  // /timeseries resolution
  std::string slot_where;            // "file:line:col: carbon.slot" (or the --set), for messages about its memory
  core::SimTime gpu_lifetime = 4 * 8760 * core::kHour;  // EcoServe: 4 years
  core::SimTime host_lifetime = 4 * 8760 * core::kHour;
  std::string gpu_method = "ecoserve";  // ecoserve | act
  double host_cores_per_busy_instance = 1;
  bool calibrated_gpu_power = true;  // decode power vs batch from models/calibration/power/ where available
  // Power delivery: the wall draws (components' power) x vr_overhead / psu_efficiency (GreenSKU: 0.95 and 1.05);
  // 1 and 1 (the default) count component power only.
  double psu_efficiency = 1, vr_overhead = 1;
};

struct FleetEntry {
  std::string site;
  std::string sku;
  std::int32_t count = 1;
  std::string deployment;
  bool powered = true;                     // on at the start (false + always_on: present, embodied only, never on)
  std::string power_policy = "always_on";  // an entry of power_policies()
  serving::PowerPolicy power;              // what that policy built from its parameters
  bool gpu_embodied_sunk = false;          // old GPUs whose embodied carbon is treated as already paid
  double gpu_power_scale = 1;  // multiplies its GPUs' power (idle, prefill, decode): sensitivity studies
};

struct DeploymentConfig {
  std::string name;
  std::string model;
  std::int32_t tensor_parallel = 1;
  double gpu_memory_utilization = 0.9;
  double activation_reserve_gb = 1.0;  // per device, held back for activations and the CUDA context
  serving::SchedulerConfig scheduler;
  std::string max_num_seqs_where;  // "file:line:col: deployments[i].scheduler.max_num_seqs", for memory messages
  // Which performance model prices steps (an entry of perf_models(): "roofline" or "calibrated"), overridable
  // per GPU kind, and the parameters of every kind (validated; each factory reads its own).
  std::string perf_kind = "roofline";
  std::map<std::string, std::string> perf_kind_by_gpu;
  core::ParamValues perf_params;
};

// The perf-model kind a deployment uses on a GPU kind: its `by_gpu` entry, else its `kind`.
const std::string& perf_kind_for(const DeploymentConfig& deployment, const std::string& gpu_id);

// Bytes of KV cache one instance of the deployment gets on that GPU (negative when the weights do not fit):
// the devices' memory at the utilisation cap, less the activation reserve and the weights, in decimal GB.
double kv_cache_bytes(const DeploymentConfig& deployment, const spec::GpuSpec& gpu, const spec::LlmModel& model);

struct SloConfig {
  core::SimTime ttft = 0;
  core::SimTime tpot = 0;
};

struct RouterConfig {
  std::string name;          // an entry of routing::routers()
  core::ParamValues params;  // its declared parameters, validated at load
};

// One experiment, fully validated against the catalog: building a simulation from it cannot fail on input.
struct Experiment {
  std::string file;
  std::string name;
  std::string description;
  std::uint64_t seed = 0;
  std::optional<core::SimTime> horizon;  // arrivals at or after it are not simulated
  bool drain = true;                     // finish admitted requests after the horizon
  WorkloadConfig workload;
  std::vector<SiteConfig> sites;
  std::vector<FleetEntry> fleet;
  std::vector<DeploymentConfig> deployments;
  RouterConfig router;
  SloConfig slo;
  CarbonConfig carbon;
  std::string output_path;
  bool output_requests = true;
  std::string output_compression = "szip";  // szip | deflate | none
  std::string resolved_yaml;                // every setting, defaults included, as stored in the output
};

struct LoadOptions {
  std::vector<std::string> overrides;  // --set key.path=value
  std::string data_dir;                // where public data sets live ("" if none)
  std::string output_path;             // -o, overrides output.path when set
};

// Loads, overrides, validates and cross-references an experiment. Throws core::InputError.
Experiment load_experiment(const std::string& file, const catalog::Catalog& catalog, const LoadOptions& options);

// The data directory: --data-dir, else $GREENFLEET_DATA, else ../shared/data beside the project if present.
std::string default_data_dir(const std::string& project_root);

}  // namespace greenfleet::experiment
