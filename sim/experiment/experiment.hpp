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
#include "sim/energy/embodied.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/provisioner.hpp"
#include "sim/spec/cpu_coefficients.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/synthetic.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::fleet {
class Catalog;
}

namespace greenfleet::experiment {

struct SloConfig {
  core::SimTime ttft = 0;
  core::SimTime tpot = 0;
};

// One entry of `workload.classes`: which requests belong to it (the selector's part of `rule`), the deployment
// that serves them, their kind and deadline (in `rule`) and the SLO that judges them.
struct WorkloadClassConfig {
  std::string name;
  std::string deployment;  // default: workload.deployment
  SloConfig slo;           // default: the experiment's `slo`
  workload::ClassRule rule;
  // Selector `trace`: the class's own source and its parameters, as `workload.source` would take them.
  std::string source;
  core::ParamValues params;
  std::string file_where;  // "file:line:col: workload.classes[i].trace.file", for the reader's messages
  workload::SyntheticSpec synthetic;
  // Set only by `--plan` (sim/planning/plan_execution.cpp) for an offline class the plan splits between CPU
  // instances and GPUs: the deployment its CPU instances serve and the share of its requests sent there.
  std::string cpu_deployment;
  double cpu_share = 0;
};

struct WorkloadConfig {
  std::string source;        // an entry of workload_sources() (sim/experiment/components.hpp)
  core::ParamValues params;  // the source's declared parameters, validated (trace files resolved to paths)
  std::string file_where;    // "file:line:col: workload.file" (or the --set), for the reader's messages
  std::string deployment;
  std::uint64_t max_requests = 0;  // 0: all
  text::BadRowPolicy on_bad_row = text::BadRowPolicy::kError;
  workload::SyntheticSpec synthetic;  // source `synthetic`: the `workload.synthetic` section
  workload::TransformSpec transform;
  // `workload.classes`; empty: one implicit class named after the workload source, served by `deployment`
  // and judged by the experiment's `slo` (the behaviour before classes existed).
  std::vector<WorkloadClassConfig> classes;
  workload::ClassSelector class_selector = workload::ClassSelector::kShare;
  std::string class_column;  // selector `column`: the trace column's name
};

// The class table ClassifiedSource applies (kinds, deadlines and selectors of `workload.classes`).
workload::ClassSpec class_spec(const WorkloadConfig& workload);

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

// `fleet[].cpu_instances`: CPU inference instances on each server's host cores (EcoServe's Reuse,
// docs/CPU_MODEL.md), priced by the CPU model fitted for the host CPU and the deployment's model.
struct CpuInstancesConfig {
  std::int32_t count = 0;            // per server; 0: none
  std::int32_t cores_each = 32;      // host cores given to one instance (one thread per core)
  std::int32_t reserved_cores = 16;  // cores kept for the GPU serving stack (never given to CPU instances)
  std::string deployment;     // the deployment they serve (its scheduler; its model must have CPU coefficients)
  double amx_speedup = 3.67;  // perf::kEcoServeAmxSpeedup; 1: the measured llama.cpp baseline
  double dram_gb_each = 64;   // host DRAM one instance holds: weights at `weight_bits`, the rest KV cache
  double weight_bits = 4.85;  // bits per weight of the quantised model (llama.cpp Q4_K_M)
  // Slowdown of the server's GPU instances' steps from sharing the host with CPU inference (EcoServe: <=3%).
  double interference_slowdown = 0.03;
  spec::CpuCoefficients coefficients;  // read at load
  std::int32_t host_cores = 0;         // the host's cores (sockets x cores per socket)
  double kv_bytes = 0;                 // KV cache of one instance (bytes)
};

struct FleetEntry {
  std::string site;
  std::string sku;
  std::int32_t count = 1;
  std::string deployment;
  bool powered = true;                     // on at the start (false + always_on: present, embodied only, never on)
  std::string power_policy = "always_on";  // an entry of power_policies()
  serving::PowerPolicy power;              // what that policy built from its parameters
  std::string power_where;                 // "file:line:col: fleet[i].power.policy", for messages after loading
  // Embodied carbon of the entry's GPUs: `amortised` linearly over `residual_life` when set (an old GPU's
  // remaining life, GreenLLM), else over `gpu_lifetime`; or `sunk`: treated as already paid (rate zero).
  bool gpu_embodied_sunk = false;
  core::SimTime gpu_lifetime = 4 * 8760 * core::kHour;   // default: carbon.lifetimes.gpu
  core::SimTime host_lifetime = 4 * 8760 * core::kHour;  // default: carbon.lifetimes.host
  core::SimTime residual_life = 0;                       // 0: none
  // The span the GPUs' embodied carbon is spread over (meaningless when sunk).
  core::SimTime gpu_amortisation() const { return residual_life > 0 ? residual_life : gpu_lifetime; }
  double gpu_power_scale = 1;  // multiplies its GPUs' power (idle, prefill, decode): sensitivity studies
  CpuInstancesConfig cpu;      // `cpu_instances` (count 0: none)
  // `host`: the host configuration of each server (EcoServe's Reduce; docs/CARBON.md, "Reduce"): "default" (the
  // SKU's DRAM and SSD), "reduced" (the rule's least host) or "custom" (sizes given, at least the rule's minimum).
  std::string host = "default";
  energy::HostMemory host_memory;  // the DRAM and SSD its servers have
};

struct DeploymentConfig {
  std::string name;
  std::string model;
  std::int32_t tensor_parallel = 1;
  double gpu_memory_utilization = 0.9;
  double activation_reserve_gb = 1.0;  // per device, held back for activations and the CUDA context
  serving::SchedulerConfig scheduler;
  std::string max_num_seqs_where;  // "file:line:col: deployments[i].scheduler.max_num_seqs", for memory messages
  // `scheduler.preset: fastchat-hf-2023`: the GPU draws its 2023 power line (models/calibration/power/, `line`)
  // read at each step's weight-bandwidth utilisation (energy::InstancePlace::line_*).
  bool engine_2023 = false;
  // `scheduler.host_time_per_layer` (s): every step takes at least this x layers (perf::HostFloorModel); 0: no
  // floor; negative: the GPU's fitted 2023 value (the preset without an explicit value). `host_where` names the
  // key.
  double host_s_per_layer = 0;
  std::string host_where;
  // Which performance model prices steps (an entry of perf_models(): "roofline" or "calibrated"), overridable
  // per GPU kind, and the parameters of every kind (validated; each factory reads its own).
  std::string perf_kind = "roofline";
  std::map<std::string, std::string> perf_kind_by_gpu;
  std::map<std::string, std::string> perf_kind_by_gpu_where;  // "file:line:col: ...by_gpu.ID", for notes
  core::ParamValues perf_params;
  // `modes.disaggregated.decode`: the deployment whose instances decode this deployment's split requests ("" when
  // it allows no disaggregation), and where it was set (for messages).
  std::string disaggregated_decode;
  std::string disaggregated_where;
  // `modes.speculative`: the deployment whose instances run the draft model for this deployment's speculative
  // requests, one draft instance per instance here ("" when it allows no speculation), and the round's settings
  // (serving/speculation.hpp).
  std::string speculative_draft;
  std::string speculative_where;
  std::int32_t speculative_gamma = 4;
  double speculative_acceptance = 0.7;
  bool speculative_sampled = false;
  // Whether this deployment lets its requests run in a mode other than unified.
  bool has_modes() const { return !disaggregated_decode.empty() || !speculative_draft.empty(); }
};

// The perf-model kind a deployment uses on a GPU kind: its `by_gpu` entry, else its `kind`.
const std::string& perf_kind_for(const DeploymentConfig& deployment, const std::string& gpu_id);

// Bytes of device memory a GPU offers its processes (what vLLM's gpu_memory_utilization is a share of): the
// datasheet's memory_gb read as GiB, less the inline ECC of GDDR boards (1/16).
double device_memory_bytes(const spec::GpuSpec& gpu);

// Bytes of KV cache one instance of the deployment gets on that GPU (negative when the weights do not fit):
// the devices' memory (device_memory_bytes) at the utilisation cap, less the activation reserve and the weights.
double kv_cache_bytes(const DeploymentConfig& deployment, const spec::GpuSpec& gpu, const spec::LlmModel& model);

// The optional `network:` section: the topology KV transfers cross (sim/network). Absent: no topology, no
// network line in the carbon ledger, outputs as before.
struct NetworkConfig {
  std::string tor_switch = "greensku-rack";  // a switch kind of hardware_catalog/network.yaml, one per site
  struct SiteLink {
    std::int32_t a = 0, b = 0;  // indices into Experiment::sites
    std::string link;           // a link kind of hardware_catalog/network.yaml
  };
  std::vector<SiteLink> site_links;  // pairs of sites not listed are unlinked
};

struct RouterConfig {
  std::string name;          // an entry of routing::routers()
  core::ParamValues params;  // its declared parameters, validated at load
};

// What each server of a fleet entry must hold by the Reduce rule (docs/CARBON.md, "Reduce"): the weights of the
// entry's deployment, swap space for every GPU its instances use, its CPU instances' DRAM and weights.
energy::HostNeed host_need(const FleetEntry& entry, const DeploymentConfig& deployment,
                           const std::vector<DeploymentConfig>& deployments, const catalog::Catalog& catalog);

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
  RouterConfig mode_router;  // an entry of routing::mode_routers()
  SloConfig slo;
  CarbonConfig carbon;
  std::optional<NetworkConfig> network;
  std::string output_path;
  bool output_requests = true;
  std::string output_compression = "szip";  // szip | deflate | none
  // Settings read but without effect in this configuration, each "FILE:LINE:COL: KEY: why" (see notes_for_fleet):
  // legitimate where a file is shared by configurations that do not all use them (a sweep's or --set's point).
  std::vector<std::string> notes;
  std::string resolved_yaml;  // every setting, defaults included, as stored in the output
};

struct LoadOptions {
  std::vector<std::string> overrides;  // --set key.path=value
  std::string data_dir;                // where public data sets live ("" if none)
  std::string output_path;             // -o, overrides output.path when set
};

// Loads, overrides, validates and cross-references an experiment. Throws core::InputError.
Experiment load_experiment(const std::string& file, const catalog::Catalog& catalog, const LoadOptions& options);

// The data directory: --data-dir, else $GREENFLEET_DATA, else ../shared/data beside the project if present.
// The experiment's notes and those its fleet decides (a `perf_model.by_gpu` entry for a GPU kind that no fleet
// entry of the deployment has), for `greenfleet run` to print as `note:` lines once the fleet is final (after a
// plan replaced it).
std::vector<std::string> notes_for_fleet(const Experiment& x, const catalog::Catalog& catalog);
// The same where another fleet replaces the experiment's (the planner's server types, a lifecycle study's
// generations): a `by_gpu` entry is noted when none of `gpus` (the GPU kinds of those servers, named in the note
// as "the servers of `servers_of`") is its kind.
std::vector<std::string> notes_for_gpus(const Experiment& x, const std::vector<std::string>& gpus,
                                        const std::string& servers_of);

std::string default_data_dir(const std::string& project_root);

}  // namespace greenfleet::experiment
