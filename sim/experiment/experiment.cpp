#include "sim/experiment/experiment.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>
#include <tuple>

#include "sim/catalog/catalog.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/components.hpp"
#include "sim/experiment/engine_presets.hpp"
#include "sim/routing/mode_router.hpp"
#include "sim/routing/router.hpp"
#include "sim/text/timestamp.hpp"

namespace greenfleet::experiment {

namespace fs = std::filesystem;

namespace {

// Our bound on lifetimes of one fleet entry: far above any server's (GreenLLM sweeps 3-7 years for new GPUs, 1-5
// residual years for old ones), low enough to catch a unit slip such as "4000d".
constexpr core::SimTime kMaxLifetime = 30LL * 8760 * core::kHour;

template <class Map>
std::set<std::string> ids_of(const Map& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

std::string check_ref(config::ConfigNode& node, const std::string& key, const std::set<std::string>& ids,
                      const std::string& what) {
  const std::string value = node.get_string(key);
  if (ids.count(value)) return value;
  const std::string hint = config::closest_match(value, ids);
  node.fail(key, fmt::format("unknown {} '{}'{}; see `greenfleet list`", what, config::clip(value),
                             hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

workload::LengthDistribution read_length(config::ConfigNode& n, double default_max) {
  workload::LengthDistribution d;
  const std::string kind = n.get_choice("distribution", {"constant", "lognormal", "uniform", "empirical"});
  d.min = n.get_double("min", 1.0, 1, 1e7);
  d.max = n.get_double("max", default_max, 1, 1e7);
  if (d.max < d.min) n.fail("max", "must be at least min");
  if (kind == "constant") {
    d.kind = workload::LengthDistribution::Kind::kConstant;
    d.value = n.get_double("value", std::nullopt, 1, 1e7);
  } else if (kind == "lognormal") {
    d.kind = workload::LengthDistribution::Kind::kLognormal;
    d.mean = n.get_double("mean", std::nullopt, 1, 1e7);
    d.sigma = n.get_double("sigma", std::nullopt, 0, 5);
  } else if (kind == "uniform") {
    d.kind = workload::LengthDistribution::Kind::kUniform;
  } else {
    d.kind = workload::LengthDistribution::Kind::kEmpirical;
    d.values = n.get_double_list("values", std::nullopt, 1, 1e7);
    if (d.values.empty()) n.fail("values", "needs at least one value");
  }
  // Every sample is clamped to [min, max]: a constant or listed length outside it would be drawn as the bound.
  const auto outside = [&](double v) { return v < d.min || v > d.max; };
  const std::vector<double> one{d.value};
  const auto& drawn = d.kind == workload::LengthDistribution::Kind::kEmpirical ? d.values : one;
  if ((d.kind == workload::LengthDistribution::Kind::kConstant ||
       d.kind == workload::LengthDistribution::Kind::kEmpirical) &&
      std::any_of(drawn.begin(), drawn.end(), outside)) {
    const double v = *std::find_if(drawn.begin(), drawn.end(), outside);
    n.fail(kind == "constant" ? "value" : "values",
           fmt::format("{:g} is outside [min, max] = [{:g}, {:g}] (max defaults to the model's context): samples "
                       "are clamped to that range, so it would be drawn as the nearer bound",
                       v, d.min, d.max));
  }
  n.finish();
  return d;
}

std::string resolve_data_file(config::ConfigNode& n, const std::string& key, const std::string& data_dir,
                              const std::string& experiment_file) {
  const std::string name = n.get_string(key);
  const fs::path p(name);
  std::vector<fs::path> tried;
  if (p.is_absolute()) {
    tried.push_back(p);
  } else {
    if (!data_dir.empty()) tried.push_back(fs::path(data_dir) / p);
    tried.push_back(fs::path(experiment_file).parent_path() / p);
  }
  for (const auto& t : tried)
    if (fs::is_regular_file(t)) return t.string();
  for (const auto& t : tried)
    if (std::error_code ec; fs::is_directory(t, ec))
      n.fail(key, fmt::format("{} is a directory, not a file; name the data file in it", t.string()));
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t.string();
  n.fail(key, fmt::format("data file not found (looked for {}); set --data-dir or GREENFLEET_DATA, and see "
                          "traces/README.md for how to obtain public traces",
                          list.empty() ? name : list));
}

bool has_section(const core::ComponentInfo& source, const char* name) {
  return std::any_of(source.params.begin(), source.params.end(), [&](const auto& p) { return p.name == name; });
}

// `workload.synthetic` (or a class trace's `synthetic`): arrivals and length distributions.
workload::SyntheticSpec read_synthetic(config::ConfigNode& s, const spec::LlmModel& served,
                                       std::vector<std::string>& notes) {
  workload::SyntheticSpec sp;
  sp.requests = static_cast<std::uint64_t>(s.get_int("requests", std::nullopt, 1));
  sp.rate = s.get_double("rate", std::nullopt, 1e-9, 1e9);
  sp.gamma_arrivals = s.get_choice("arrivals", {"poisson", "gamma"}, std::string("poisson")) == "gamma";
  sp.cv = s.get_double("cv", 1.0, 0.01, 100);
  // Poisson gaps are exponential (a cv of 1): a `cv` there has no effect. Left out `arrivals` (the default
  // poisson) it is refused, as a diurnal period without an amplitude is; an explicit `arrivals: poisson` (a
  // sweep's or --set's point sharing the rest) is legitimate and noted.
  if (s.has("cv") && !sp.gamma_arrivals)
    s.unused_without(
        "cv", "arrivals",
        "has no effect with Poisson arrivals (arrivals defaults to poisson, whose gaps have a cv of 1); "
        "set arrivals: gamma or remove it",
        "no effect with arrivals: poisson (exponential gaps, a cv of 1)", notes);
  config::ConfigNode di = s.child_or_empty("diurnal");
  sp.diurnal_amplitude = di.get_double("amplitude", 0.0, 0.0, 1.0);
  sp.diurnal_period_s = core::to_seconds(di.get_duration("period", 24 * core::kHour, core::kSecond));
  sp.diurnal_peak_s = core::to_seconds(di.get_duration("peak", 14 * core::kHour));
  if (sp.diurnal_amplitude > 0 && sp.gamma_arrivals)
    di.fail("amplitude", "diurnal modulation needs arrivals: poisson");
  // A period or peak without an amplitude would be silently dropped (amplitude 0 is a constant rate). An explicit
  // amplitude 0 (a sweep's or --set's "modulation off" point sharing the rest) is legitimate: a note says so.
  for (const char* key : {"period", "peak"})
    if (di.has(key) && sp.diurnal_amplitude == 0)
      di.unused_without(key, "amplitude",
                        "has no effect without an amplitude > 0 (amplitude defaults to 0: a constant rate); set "
                        "diurnal.amplitude or remove it",
                        "no effect with amplitude 0 (a constant rate)", notes);
  if (sp.diurnal_amplitude > 0 && di.has("peak") && sp.diurnal_peak_s >= sp.diurnal_period_s)
    di.fail("peak", fmt::format("{} s is not within the period ({} s): the cycle repeats every period, so give "
                                "the peak's offset into it (peak mod period)",
                                sp.diurnal_peak_s, sp.diurnal_period_s));
  di.finish();
  config::ConfigNode pt = s.child("prompt_tokens");
  sp.prompt = read_length(pt, served.max_context);
  config::ConfigNode ot = s.child("output_tokens");
  sp.output = read_length(ot, served.max_context);
  s.finish();
  return sp;
}

std::string check_deployment(config::ConfigNode& n, const std::string& key, const std::string& def,
                             const std::set<std::string>& names) {
  const std::string d = n.get_string(key, def);
  if (!names.count(d)) {
    const std::string hint = config::closest_match(d, names);
    n.fail(key, fmt::format("unknown deployment '{}'{}", config::clip(d),
                            hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }
  return d;
}

// `workload.classes` (docs/EXPERIMENTS.md, "Workload classes"). Class SLOs left out are 0 here and filled from
// the experiment's `slo` once it is read.
void read_classes(config::ConfigNode& w, Experiment& x, const catalog::Catalog& catalog, bool own_traces,
                  const std::set<std::string>& deployment_names, const std::string& data_dir,
                  const std::string& file) {
  std::vector<config::ConfigNode> nodes = w.child_list("classes", false);
  if (nodes.empty()) {
    if (w.has("classes")) w.fail("classes", "needs at least one class (or leave `classes` out)");
    return;
  }
  if (nodes.size() > workload::kMaxClasses)
    w.fail("classes", fmt::format("{} classes; at most {}", nodes.size(), workload::kMaxClasses));
  const std::vector<std::string> selectors = {"share", "trace", "column", "length_bins"};
  std::set<std::string> names, values;
  std::string selector, column_where;
  double share_sum = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    config::ConfigNode& c = nodes[i];
    WorkloadClassConfig k;
    k.name = c.get_string("name");
    if (k.name.empty() || k.name.size() > 64 || !std::all_of(k.name.begin(), k.name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
        }))
      c.fail("name", fmt::format("'{}': a class name is 1-64 letters, digits, '_' or '-' (it names the class's "
                                 "summary keys)",
                                 config::clip(k.name)));
    if (!names.insert(k.name).second) c.fail("name", fmt::format("duplicate class name '{}'", k.name));
    k.deployment = check_deployment(c, "deployment", x.workload.deployment, deployment_names);
    const bool offline = c.get_choice("kind", {"online", "offline"}, std::string("online")) == "offline";
    k.rule.kind = offline ? workload::RequestClass::kOffline : workload::RequestClass::kOnline;
    if (offline)
      k.rule.deadline = c.get_duration("deadline", 24 * core::kHour, 1);
    else if (c.has("deadline"))
      c.fail("deadline", "applies to offline classes only (kind: offline)");
    config::ConfigNode slo = c.child_or_empty("slo");
    for (auto [key, target] : {std::pair{"ttft", &k.slo.ttft}, {"tpot", &k.slo.tpot}}) {
      if (slo.has(key))
        *target = slo.get_duration(key, std::nullopt, 1);
      else
        slo.note_optional(key);  // the experiment's `slo`
    }
    slo.finish();
    std::string sel;
    for (const auto& name : selectors) {
      if (!c.has(name)) continue;
      if (!sel.empty())
        c.fail(name, fmt::format("a class has exactly one selector; this one already has '{}'", sel));
      sel = name;
    }
    if (sel.empty())
      c.fail_here(fmt::format("class '{}' needs a selector: share, trace, column or length_bins", k.name));
    if (i == 0) selector = sel;
    if (sel != selector)
      c.fail(sel, fmt::format("all classes use the same selector (classes[0] uses '{}')", selector));
    if (own_traces && sel != "trace")
      c.fail(sel,
             "workload.source is missing: give it (classes then select its requests by share, column or "
             "length_bins) or give every class its own trace");
    if (sel == "share") {
      x.workload.class_selector = workload::ClassSelector::kShare;
      k.rule.share = c.get_double("share", std::nullopt, 0, 1);
      share_sum += k.rule.share;
    } else if (sel == "trace") {
      x.workload.class_selector = workload::ClassSelector::kTrace;
      if (!own_traces)
        c.fail("trace",
               "classes with their own traces replace workload.source: remove it (or select the "
               "classes by share, column or length_bins)");
      config::ConfigNode t = c.child("trace");
      k.source = t.get_choice("source", workload_sources().names());
      const auto& info = workload_sources().info(k.source);
      k.params = config::read_params(t, info.params, [&](config::ConfigNode& n, const std::string& key) {
        k.file_where = n.where(key);
        return resolve_data_file(n, key, data_dir, file);
      });
      if (has_section(info, "synthetic")) {
        config::ConfigNode sn = t.child("synthetic");
        const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                        [&](const auto& d) { return d.name == k.deployment; });
        k.synthetic = read_synthetic(sn, catalog.model(dep.model), x.notes);
      }
      t.finish();
    } else if (sel == "column") {
      x.workload.class_selector = workload::ClassSelector::kColumn;
      config::ConfigNode col = c.child("column");
      const std::string column = col.get_string("name");
      if (i == 0) x.workload.class_column = column, column_where = col.where("name");
      if (column != x.workload.class_column)
        col.fail("name", fmt::format("all classes name the same column (classes[0]: '{}')",
                                     config::clip(x.workload.class_column)));
      k.rule.column_value = col.get_string("value");
      if (!values.insert(k.rule.column_value).second)
        col.fail("value", fmt::format("another class already takes '{}'", config::clip(k.rule.column_value)));
      col.finish();
    } else {
      x.workload.class_selector = workload::ClassSelector::kLengthBins;
      config::ConfigNode lb = c.child("length_bins");
      constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
      k.rule.min_prompt = static_cast<std::int32_t>(lb.get_int("min", 0, 0, kMax));
      if (lb.has("max"))
        k.rule.max_prompt = static_cast<std::int32_t>(lb.get_int("max", std::nullopt, 1, kMax));
      else
        lb.note_optional("max");  // no upper bound
      if (k.rule.max_prompt <= k.rule.min_prompt) lb.fail("max", "must be above min (bins are [min, max))");
      for (const auto& other : x.workload.classes)
        if (k.rule.min_prompt < other.rule.max_prompt && other.rule.min_prompt < k.rule.max_prompt)
          lb.fail("min", fmt::format("[{}, {}) overlaps class '{}''s bin", k.rule.min_prompt,
                                     lb.has("max") ? std::to_string(k.rule.max_prompt) : "no max", other.name));
      lb.finish();
    }
    c.finish();
    x.workload.classes.push_back(std::move(k));
  }
  if (selector == "share" && std::abs(share_sum - 1.0) > 1e-9)
    w.fail("classes", fmt::format("the classes' shares sum to {}; they must sum to 1", share_sum));
  if (selector == "column") {
    // The trace must have the column: open it (only its header is read) and ask.
    const SourceContext context{x.workload.on_bad_row, &x.workload.synthetic, x.seed, x.workload.file_where};
    const auto source = workload_sources().create(x.workload.source, x.workload.params, context);
    if (!source->select_column(x.workload.class_column))
      throw core::InputError(fmt::format("{}: the {} source has no column '{}'{}", column_where, x.workload.source,
                                         config::clip(x.workload.class_column),
                                         x.workload.source == "burstgpt_csv"
                                             ? " in its header"
                                             : " to select classes by (only burstgpt_csv has named columns)"));
  }
}
}  // namespace

workload::ClassSpec class_spec(const WorkloadConfig& workload) {
  workload::ClassSpec spec;
  spec.selector = workload.class_selector;
  spec.column = workload.class_column;
  for (const auto& c : workload.classes) spec.classes.push_back(c.rule);
  return spec;
}

const std::string& perf_kind_for(const DeploymentConfig& deployment, const std::string& gpu_id) {
  const auto it = deployment.perf_kind_by_gpu.find(gpu_id);
  return it != deployment.perf_kind_by_gpu.end() ? it->second : deployment.perf_kind;
}

double device_memory_bytes(const spec::GpuSpec& gpu) {
  // Datasheet capacities count binary units (DRAM dies are 2^k bits: an "80 GB" A100 or H100 holds 80 GiB), and
  // GDDR boards keep their ECC inline, on by default on datacenter cards, in 1/16 of it (HBM carries it aside).
  // Checked against CUDA's deviceQuery (total global memory, public listings): A100 40GB 42,405,855,232 bytes
  // (98.7% of 40 GiB; the rest the driver's), T4 15,843,721,216 (92.2% of 16 GiB, 15/16 = 93.75%).
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  const bool inline_ecc = gpu.memory_kind.rfind("gddr", 0) == 0;
  return gpu.memory_gb * kGiB * (inline_ecc ? 15.0 / 16.0 : 1.0);
}

double kv_cache_bytes(const DeploymentConfig& dep, const spec::GpuSpec& gpu, const spec::LlmModel& model) {
  const double usable = device_memory_bytes(gpu) * dep.gpu_memory_utilization * dep.tensor_parallel -
                        dep.activation_reserve_gb * 1e9 * dep.tensor_parallel;
  return usable - model.weight_bytes();
}

energy::HostNeed host_need(const FleetEntry& entry, const DeploymentConfig& dep,
                           const std::vector<DeploymentConfig>& deployments, const catalog::Catalog& catalog) {
  const auto& sku = catalog.server(entry.sku);
  energy::HostNeed need;
  need.weights_gb = catalog.model(dep.model).weight_bytes() / 1e9;
  // vLLM sets aside swap_space_gb of host memory per GPU worker whatever the preemption mode.
  need.swap_gb = dep.scheduler.swap_space_gb * (sku.gpu_count / dep.tensor_parallel) * dep.tensor_parallel;
  if (entry.cpu.count > 0) {
    const auto it = std::find_if(deployments.begin(), deployments.end(),
                                 [&](const auto& d) { return d.name == entry.cpu.deployment; });
    need.cpu_dram_gb = entry.cpu.count * entry.cpu.dram_gb_each;
    need.cpu_weights_gb = catalog.model(it->model).parameters() * entry.cpu.weight_bits / 8 / 1e9;
  }
  return need;
}

std::vector<std::string> notes_for_fleet(const Experiment& x, const catalog::Catalog& catalog) {
  std::vector<std::string> notes = x.notes;
  // A per-GPU step-time model for a GPU kind that none of the deployment's fleet entries has is never used. A
  // note, not an error: `run --plan`, a lifecycle year or a sweep point gives the same deployment another fleet.
  for (const auto& dep : x.deployments)
    for (const auto& entry : dep.perf_kind_by_gpu_where) {
      // A named copy, not a structured binding: clang (the fuzz build) does not capture bindings in lambdas.
      const std::string& gpu = entry.first;
      if (std::none_of(x.fleet.begin(), x.fleet.end(), [&](const FleetEntry& e) {
            const auto it = catalog.servers().find(e.sku);
            return e.deployment == dep.name && (it == catalog.servers().end() || it->second.gpu == gpu);
          }))
        notes.push_back(fmt::format("{}: no effect: no fleet entry of deployment '{}' has {} GPUs", entry.second,
                                    dep.name, gpu));
    }
  return notes;
}

std::vector<std::string> notes_for_gpus(const Experiment& x, const std::vector<std::string>& gpus,
                                        const std::string& servers_of) {
  std::vector<std::string> notes = x.notes;
  for (const auto& dep : x.deployments)
    for (const auto& entry : dep.perf_kind_by_gpu_where)
      if (std::find(gpus.begin(), gpus.end(), entry.first) == gpus.end())
        notes.push_back(fmt::format("{}: no effect: none of the servers of {} has {} GPUs", entry.second,
                                    servers_of, entry.first));
  return notes;
}

std::string default_data_dir(const std::string& project_root) {
  if (const char* d = std::getenv("GREENFLEET_DATA"); d && *d) return d;
  const fs::path shared = fs::path(project_root) / ".." / "shared" / "data";
  if (fs::is_directory(shared)) return fs::weakly_canonical(shared).string();
  return "";
}

namespace {
// `fleet[].cpu_instances` (docs/EXPERIMENTS.md, "fleet[].cpu_instances"): CPU inference instances on the host
// cores of each server of `entry`, checked against the host (cores, DRAM) and the CPU coefficients on file.
CpuInstancesConfig read_cpu_instances(config::ConfigNode& n, const FleetEntry& entry,
                                      const std::vector<DeploymentConfig>& deployments,
                                      const std::set<std::string>& deployment_names,
                                      const catalog::Catalog& catalog) {
  CpuInstancesConfig c;
  const auto& sku = catalog.server(entry.sku);
  const auto& cpu = catalog.cpu(sku.cpu);
  c.host_cores = sku.cpu_sockets * cpu.cores;
  c.count = static_cast<std::int32_t>(n.get_int("count", 1, 0, 4096));
  c.cores_each = static_cast<std::int32_t>(n.get_int("cores_each", 32, 1, 100000));
  c.reserved_cores = static_cast<std::int32_t>(n.get_int("reserved_cores", 16, 0, 100000));
  const std::int64_t cores = static_cast<std::int64_t>(c.count) * c.cores_each + c.reserved_cores;
  if (cores > c.host_cores)
    n.fail(
        "cores_each",
        fmt::format("{} instances x {} cores + {} reserved_cores = {} cores, more than server '{}' has ({} x {} "
                    "= {} cores of {})",
                    c.count, c.cores_each, c.reserved_cores, cores, entry.sku, sku.cpu_sockets, cpu.cores,
                    c.host_cores, cpu.id));
  c.deployment = check_deployment(n, "deployment", entry.deployment, deployment_names);
  const DeploymentConfig& dep =
      *std::find_if(deployments.begin(), deployments.end(), [&](const auto& d) { return d.name == c.deployment; });
  // Request modes hand KV between GPU instances over the server's devices; CPU instances have none.
  if (dep.has_modes())
    n.fail("deployment", fmt::format("deployment '{}' lets its requests split or run speculatively (modes), which "
                                     "CPU instances cannot serve; give them a deployment without modes",
                                     dep.name));
  for (const auto& d : deployments)
    if (d.disaggregated_decode == dep.name || d.speculative_draft == dep.name)
      n.fail("deployment", fmt::format("deployment '{}' is the {} pool of deployment '{}' ({}), which CPU "
                                       "instances cannot serve",
                                       dep.name, d.disaggregated_decode == dep.name ? "decode" : "draft", d.name,
                                       d.disaggregated_decode == dep.name ? "modes.disaggregated.decode"
                                                                          : "modes.speculative.draft"));
  // The host floor (scheduler.host_time_per_layer, preset fastchat-hf-2023) is a GPU engine's; the CPU model
  // prices its own steps, so a deployment with one would be served without it: refused rather than ignored.
  if (dep.host_s_per_layer != 0)
    n.fail("deployment",
           fmt::format("deployment '{}' sets a host time per layer ({}), which CPU instances do not model; give "
                       "them a deployment without it",
                       dep.name, dep.host_where));
  const std::string file = catalog::cpu_coefficients_path(catalog.root(), cpu.id, dep.model);
  if (!std::filesystem::exists(file))
    n.fail("deployment", fmt::format("deployment '{}' serves model '{}', and models/calibration/cpu/ has no CPU "
                                     "model for it on {} (server '{}'): CPU instances need {} (docs/CPU_MODEL.md)",
                                     dep.name, dep.model, cpu.id, entry.sku,
                                     std::filesystem::relative(file, catalog.root()).string()));
  c.coefficients = catalog::load_cpu_coefficients(file);
  c.amx_speedup = n.get_double("amx_speedup", 3.67, 1.0, 100.0);
  c.weight_bits = n.get_double("weight_bits", 4.85, 1.0, 32.0);
  c.dram_gb_each = n.get_double("dram_gb_each", 64.0, 0.001, 1e7);
  c.interference_slowdown = n.get_double("interference_slowdown", 0.03, 0.0, 10.0);
  const double dram = c.count * c.dram_gb_each;
  if (dram > sku.dram_gb)
    n.fail("dram_gb_each",
           fmt::format("{} instances x {:g} GB = {:g} GB, more DRAM than server '{}' has ({:g} GB)", c.count,
                       c.dram_gb_each, dram, entry.sku, sku.dram_gb));
  const auto& model = catalog.model(dep.model);
  const double weights = model.parameters() * c.weight_bits / 8;
  const double block = model.kv_bytes_per_token() * dep.scheduler.kv_block_size;
  c.kv_bytes = c.dram_gb_each * 1e9 - weights;
  if (c.kv_bytes < block)
    n.fail("dram_gb_each",
           fmt::format("model '{}' ({:.1f} GB of weights at {:g} bits per weight) does not fit in {:g} GB of host "
                       "DRAM with room for one KV block; raise dram_gb_each",
                       dep.model, weights / 1e9, c.weight_bits, c.dram_gb_each));
  return c;
}

// `fleet[].host` (docs/EXPERIMENTS.md, "fleet[].host"): `default`, `reduced` (the Reduce rule's least host) or
// `{dram_gb, ssd_gb}`, each at least the rule's minimum.
void read_host(config::ConfigNode& f, FleetEntry& e, const DeploymentConfig& dep,
               const std::vector<DeploymentConfig>& deployments, const catalog::Catalog& catalog) {
  const auto& sku = catalog.server(e.sku);
  const energy::HostNeed need = host_need(e, dep, deployments, catalog);
  const energy::HostMemory least = energy::host_minimum(need, catalog);
  const auto rule = [&] {
    return fmt::format(
        "weights {:.1f} + swap {:.1f} + CPU instances {:g} + OS {:g} GB of DRAM; weights {:.1f} + "
        "CPU weights {:.1f} + OS {:g} GB of SSD",
        need.weights_gb, need.swap_gb, need.cpu_dram_gb, catalog.host_sizing().os_dram_gb, need.weights_gb,
        need.cpu_weights_gb, catalog.host_sizing().os_ssd_gb);
  };
  if (catalog.host_sizing().dimm_gb.empty())
    f.fail("host", "the catalog's memory.yaml has no host_sizing section (the Reduce rule's sizes)");
  if (!f.is_map("host")) {
    e.host = f.get_choice("host", {"default", "reduced"});
    if (e.host == "reduced") {
      const auto reduced = energy::reduced_host(sku, catalog, need);
      if (!reduced)
        f.fail("host", fmt::format("server '{}' needs {:g} GB of DRAM ({}), more than {} x {} channels of the "
                                   "largest DIMM hold",
                                   e.sku, least.dram_gb, rule(), sku.cpu_sockets, catalog.cpu(sku.cpu).id));
      e.host_memory = *reduced;
    }
    return;
  }
  e.host = "custom";
  config::ConfigNode h = f.child("host");
  e.host_memory.dram_gb = h.get_double("dram_gb", sku.dram_gb, 1, 1e6);
  e.host_memory.ssd_gb = h.get_double("ssd_gb", sku.ssd_gb, 0, 1e7);
  if (e.host_memory.dram_gb < least.dram_gb)
    h.fail("dram_gb", fmt::format("{:g} GB is less than the Reduce rule's minimum for server '{}' with deployment "
                                  "'{}': {:g} GB ({})",
                                  e.host_memory.dram_gb, e.sku, dep.name, least.dram_gb, rule()));
  if (e.host_memory.ssd_gb < least.ssd_gb)
    h.fail("ssd_gb", fmt::format("{:g} GB is less than the Reduce rule's minimum for server '{}' with deployment "
                                 "'{}': {:g} GB ({})",
                                 e.host_memory.ssd_gb, e.sku, dep.name, least.ssd_gb, rule()));
  h.finish();
}

// Modes are checked once the fleet is known: a split request's decode pool must exist, serve the same model (its
// KV is moved, not recomputed), and have instances; a speculative request's draft pool must exist and give each
// instance of its deployment a draft instance of its own; and every pair of pools must be joined by the network.
void check_modes(const Experiment& x, const catalog::Catalog& catalog, const std::string& mode_router_where) {
  const auto find_dep = [&](const std::string& name) {
    return std::find_if(x.deployments.begin(), x.deployments.end(), [&](const auto& d) { return d.name == name; });
  };
  const auto instances_of = [&](const DeploymentConfig& d) {
    std::int64_t n = 0;
    for (const auto& e : x.fleet)
      if (e.deployment == d.name && (e.powered || e.power.managed()))
        n += static_cast<std::int64_t>(e.count) * (catalog.server(e.sku).gpu_count / d.tensor_parallel);
    return n;
  };
  const DeploymentConfig* first = nullptr;  // the first deployment with modes, named when the network is missing
  for (const auto& dep : x.deployments) {
    if (dep.has_modes() && !first) first = &dep;
    if (!dep.disaggregated_decode.empty()) {
      const auto decode = find_dep(dep.disaggregated_decode);
      if (decode == x.deployments.end())
        throw core::InputError(fmt::format("{}: unknown deployment '{}'", dep.disaggregated_where,
                                           config::clip(dep.disaggregated_decode)));
      if (decode->name == dep.name)
        throw core::InputError(
            fmt::format("{}: a deployment cannot be its own decode pool ('{}'); name another "
                        "deployment, or drop modes.disaggregated to run requests whole",
                        dep.disaggregated_where, dep.name));
      if (decode->model != dep.model)
        throw core::InputError(fmt::format(
            "{}: deployment '{}' serves model '{}' but its decode pool '{}' serves '{}': a split request's KV "
            "must be read by the same model",
            dep.disaggregated_where, dep.name, dep.model, decode->name, decode->model));
      if (instances_of(*decode) == 0)
        throw core::InputError(
            fmt::format("{}: decode pool '{}' has no instances in the fleet (no powered fleet "
                        "entry names it), so split requests could never decode",
                        dep.disaggregated_where, decode->name));
    }
    if (!dep.speculative_draft.empty()) {
      const auto draft = find_dep(dep.speculative_draft);
      if (draft == x.deployments.end())
        throw core::InputError(fmt::format("{}: unknown deployment '{}'", dep.speculative_where,
                                           config::clip(dep.speculative_draft)));
      if (draft->name == dep.name)
        throw core::InputError(fmt::format(
            "{}: a deployment cannot draft for itself ('{}'); name a deployment of the draft model on other GPUs",
            dep.speculative_where, dep.name));
      const std::int64_t targets = instances_of(dep), drafts = instances_of(*draft);
      if (drafts < targets)
        throw core::InputError(fmt::format(
            "{}: each instance of '{}' needs a draft instance of its own: '{}' has {} instances and '{}' has {}; "
            "give the draft pool at least as many",
            dep.speculative_where, dep.name, dep.name, targets, draft->name, drafts));
      for (const auto& other : x.deployments)
        if ((&other != &dep && other.speculative_draft == draft->name) ||
            other.disaggregated_decode == draft->name)
          throw core::InputError(fmt::format(
              "{}: draft pool '{}' also serves deployment '{}'; a draft pool drafts for one deployment only",
              dep.speculative_where, draft->name, other.name));
      if (draft->has_modes())
        throw core::InputError(
            fmt::format("{}: draft pool '{}' has modes of its own; a draft instance runs only "
                        "its target's drafts",
                        dep.speculative_where, draft->name));
      // Drafts are token ids of the target's vocabulary: the two models must share a tokenizer.
      if (catalog.model(draft->model).vocab_size != catalog.model(dep.model).vocab_size)
        throw core::InputError(
            fmt::format("{}: draft model '{}' has a vocabulary of {} tokens and target '{}' of {}: a draft model "
                        "must share its "
                        "target's tokenizer",
                        dep.speculative_where, draft->model, catalog.model(draft->model).vocab_size, dep.model,
                        catalog.model(dep.model).vocab_size));
      // Every running speculative request verifies gamma + 1 tokens in each step: they must fit its budget.
      const std::int64_t verify =
          static_cast<std::int64_t>(dep.scheduler.max_num_seqs) * (dep.speculative_gamma + 1);
      if (verify > dep.scheduler.max_batched_tokens)
        throw core::InputError(fmt::format(
            "{}: deployment '{}' may run {} speculative requests, each verifying gamma + 1 = {} tokens per step "
            "({} tokens), above its step budget scheduler.max_batched_tokens = {}: raise the budget or lower "
            "max_num_seqs or gamma",
            dep.speculative_where, dep.name, dep.scheduler.max_num_seqs, dep.speculative_gamma + 1, verify,
            dep.scheduler.max_batched_tokens));
      const auto receives = [&](const std::string& d) { return d == draft->name; };
      bool own = x.workload.classes.empty() && receives(x.workload.deployment);
      for (const auto& c : x.workload.classes) own = own || receives(c.deployment);
      if (own)
        throw core::InputError(
            fmt::format("{}: draft pool '{}' also receives requests of its own (workload.deployment or a class's "
                        "deployment); a draft instance runs only its target's drafts",
                        dep.speculative_where, draft->name));
      for (const auto& e : x.fleet)
        if (e.deployment == draft->name && e.power.managed())
          throw core::InputError(fmt::format(
              "{}: draft pool '{}' has servers under a power policy; draft instances stay on with their targets",
              dep.speculative_where, draft->name));
    }
  }
  if (first && !x.network)
    throw core::InputError(
        fmt::format("{}: split and speculative requests send KV or token ids over the network: "
                    "add a `network:` section (docs/EXPERIMENTS.md)",
                    first->disaggregated_decode.empty() ? first->speculative_where : first->disaggregated_where));
  // Every instance must reach every instance of the pools its requests may use: their sites must be joined by
  // site links.
  if (first) {
    std::vector<std::size_t> root(x.sites.size());
    for (std::size_t i = 0; i < root.size(); ++i) root[i] = i;
    const auto find = [&](std::size_t i) {
      while (root[i] != i) i = root[i] = root[root[i]];
      return i;
    };
    for (const auto& l : x.network->site_links)
      root[find(static_cast<std::size_t>(l.a))] = find(static_cast<std::size_t>(l.b));
    const auto site_of = [&](const std::string& name) {
      return static_cast<std::size_t>(
          std::find_if(x.sites.begin(), x.sites.end(), [&](const auto& s) { return s.name == name; }) -
          x.sites.begin());
    };
    for (const auto& dep : x.deployments) {
      for (const auto& [pool, where, what] :
           {std::tuple{&dep.disaggregated_decode, &dep.disaggregated_where, "decode pool"},
            std::tuple{&dep.speculative_draft, &dep.speculative_where, "draft pool"}}) {
        if (pool->empty()) continue;
        for (const auto& p : x.fleet) {
          if (p.deployment != dep.name || p.count == 0) continue;
          for (const auto& d : x.fleet)
            if (d.deployment == *pool && d.count > 0 && find(site_of(p.site)) != find(site_of(d.site)))
              throw core::InputError(
                  fmt::format("{}: deployment '{}' has instances at site '{}' and its {} '{}' at site '{}', "
                              "which no network.site_links joins: nothing could cross between them",
                              *where, dep.name, p.site, what, *pool, d.site));
        }
      }
    }
  }
  if (x.mode_router.name != "unified" && !first)
    throw core::InputError(
        fmt::format("{}: mode router '{}' needs a deployment that allows another mode; add "
                    "deployments[].modes.disaggregated.decode or deployments[].modes.speculative.draft",
                    mode_router_where, x.mode_router.name));
  // The always-one-mode routers pick only their mode: without a deployment that allows it, every request would
  // run whole, which is `unified` under another name.
  const bool split = std::any_of(x.deployments.begin(), x.deployments.end(),
                                 [](const auto& d) { return !d.disaggregated_decode.empty(); });
  const bool speculate = std::any_of(x.deployments.begin(), x.deployments.end(),
                                     [](const auto& d) { return !d.speculative_draft.empty(); });
  if ((x.mode_router.name == "always_disaggregated" && !split) ||
      (x.mode_router.name == "always_speculative" && !speculate)) {
    const std::string mode = split ? "speculative" : "disaggregated";
    throw core::InputError(
        fmt::format("{}: mode router '{}' uses only the {} mode, and no deployment allows it "
                    "(every request would run whole); add deployments[].modes.{} or choose "
                    "another mode router",
                    mode_router_where, x.mode_router.name, mode, mode));
  }
}
}  // namespace

Experiment load_experiment(const std::string& file, const catalog::Catalog& catalog, const LoadOptions& options) {
  YAML::Node doc = config::ConfigNode::load_file(file);
  if (doc.IsNull()) throw core::InputError(fmt::format("{}: the experiment file is empty", file));
  if (doc.IsMap()) doc.remove("sweep");  // a sweep's points are run by `greenfleet sweep` (sweep.hpp)
  auto overridden = std::make_shared<std::set<std::string>>();
  for (const auto& o : options.overrides) overridden->insert(config::apply_override(doc, o));
  YAML::Node resolved(YAML::NodeType::Map);
  config::ConfigNode root(doc, file, "", resolved, overridden);

  Experiment x;
  x.file = file;
  x.name = root.get_string("name");
  // The name makes the default output path (out/NAME.h5) and titles tables: a '/' would write elsewhere (a name
  // of "../x" leaves out/), a control character (a newline) would break the printed tables and CSV rows.
  if (x.name.empty() || x.name.size() > 200 || std::any_of(x.name.begin(), x.name.end(), [](char c) {
        return c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    root.fail("name", fmt::format("'{}': an experiment's name is 1-200 characters without '/' or control "
                                  "characters (it names the default output, out/NAME.h5)",
                                  config::clip(x.name)));
  x.description = root.get_string("description", std::string());
  x.seed = static_cast<std::uint64_t>(root.get_int("seed", 1, 0));
  if (root.has("horizon"))
    x.horizon = root.get_duration("horizon", std::nullopt, 1);
  else
    root.note_optional("horizon");
  x.drain = root.get_bool("drain", true);

  // Sites first: the fleet refers to them.
  std::set<std::string> site_names;
  for (auto& s : root.child_list("sites")) {
    SiteConfig site;
    site.name = s.get_string("name");
    if (!site_names.insert(site.name).second)
      s.fail("name", fmt::format("duplicate site name '{}'", config::clip(site.name)));
    site.pue = s.get_double("pue", 1.0, 1.0, 3.0);
    auto& ci = site.carbon_intensity;
    if (!s.is_map("carbon_intensity")) {
      ci.kind = "constant";
      ci.value = s.get_double("carbon_intensity", std::nullopt, 0, 5000);
    } else {
      config::ConfigNode c = s.child("carbon_intensity");
      ci.kind = c.get_choice("kind", {"constant", "csv", "solar"});
      if (ci.kind == "constant") {
        ci.value = c.get_double("value", std::nullopt, 0, 5000);
      } else if (ci.kind == "csv") {
        ci.file = resolve_data_file(c, "file", options.data_dir, file);
        const std::string format =
            c.get_choice("format", {"electricitymaps", "eia930", "plain", "custom"}, std::string("plain"));
        std::string tdef = "timestamp", vdef = "g_per_kwh";
        if (format == "electricitymaps") tdef = "datetime_utc", vdef = "ci_direct_gco2eq_per_kwh";
        if (format == "eia930") vdef = "avg_CI";
        if (format == "custom") {
          ci.time_column = c.get_string("time_column");
          ci.value_column = c.get_string("value_column");
        } else {
          ci.time_column = c.get_string("time_column", tdef);
          ci.value_column = c.get_string("value_column", vdef);
        }
        if (c.has("start")) {
          std::int64_t t = 0;
          const std::string start = c.get_string("start");
          std::string bad;
          if (!text::parse_timestamp(start, t, bad))
            c.fail("start", fmt::format("'{}': {}", config::clip(start), bad));
          ci.start_epoch_ns = t;
        } else {
          c.note_optional("start");
        }
        ci.wrap = c.get_bool("wrap", true);
        const std::string unit =
            c.get_choice("unit", {"g_per_kwh", "kg_per_kwh", "lb_per_mwh"}, std::string("g_per_kwh"));
        ci.unit_scale = unit == "kg_per_kwh"   ? 1000.0
                        : unit == "lb_per_mwh" ? 0.45359237
                                               : 1.0;  // 1 lb/MWh = 0.4536 g/kWh
        try {
          // Values come back in g/kWh, checked against the bounds of a constant.
          ci.series = energy::read_ci_csv(ci.file, ci.time_column, ci.value_column, ci.unit_scale);
        } catch (const core::InputError& e) {
          c.fail("file", e.what());
        }
        // The simulation measures the series from `start`: it must lie within 100 years of the file's rows.
        std::int64_t gap = 0;
        if (ci.start_epoch_ns &&
            (__builtin_sub_overflow(*ci.start_epoch_ns, ci.series.first_row_ns, &gap) ||
             gap > config::ConfigNode::kMaxDuration || gap < -config::ConfigNode::kMaxDuration))
          c.fail("start", "is more than 100 years from the file's first row (out of range)");
      } else {
        ci.base = c.get_double("base", std::nullopt, 0, 5000);
        ci.dip = c.get_double("dip", std::nullopt, 0, 5000);
        if (ci.dip > ci.base) c.fail("dip", "must not exceed base (carbon intensity would go negative)");
        ci.sunrise_h = core::to_seconds(c.get_duration("sunrise", 6 * core::kHour, 0, 24 * core::kHour)) / 3600;
        ci.sunset_h = core::to_seconds(c.get_duration("sunset", 18 * core::kHour, 0, 24 * core::kHour)) / 3600;
        if (ci.sunset_h <= ci.sunrise_h || ci.sunset_h > 24)
          c.fail("sunset", "must be after sunrise and within the day");
        ci.start_time_of_day = c.get_duration("start_time_of_day", 0, 0, 24 * core::kHour);
      }
      c.finish();
    }
    s.finish();
    x.sites.push_back(site);
  }

  std::set<std::string> deployment_names;
  const auto model_ids = ids_of(catalog.models());
  for (auto& d : root.child_list("deployments")) {
    DeploymentConfig dep;
    dep.name = d.get_string("name");
    if (!deployment_names.insert(dep.name).second)
      d.fail("name", fmt::format("duplicate deployment name '{}'", config::clip(dep.name)));
    dep.model = check_ref(d, "model", model_ids, "model");
    dep.tensor_parallel = static_cast<std::int32_t>(d.get_int("tensor_parallel", 1, 1, 8));
    {
      // Tensor parallelism shards the attention heads: vLLM refuses a degree that does not divide the model's
      // heads (ModelConfig.verify_with_parallel_config), and shards the KV heads evenly or replicates them
      // evenly (QKVParallelLinear), so the degree must divide them or be a multiple of them.
      const auto& m = catalog.model(dep.model);
      const int tp = dep.tensor_parallel;
      if (m.heads % tp != 0)
        d.fail("tensor_parallel", fmt::format("{} does not divide the {} attention heads of model '{}' (vLLM "
                                              "refuses it); choose a divisor of {}",
                                              tp, m.heads, dep.model, m.heads));
      if (m.kv_heads > 0 && (tp <= m.kv_heads ? m.kv_heads % tp : tp % m.kv_heads) != 0)
        d.fail("tensor_parallel", fmt::format("{} neither divides nor is a multiple of the {} KV heads of model "
                                              "'{}' (vLLM shards or replicates them evenly)",
                                              tp, m.kv_heads, dep.model));
    }
    dep.gpu_memory_utilization = d.get_double("gpu_memory_utilization", 0.9, 0.05, 1.0);
    dep.activation_reserve_gb = d.get_double("activation_reserve_gb", 1.0, 0, 1024);
    config::ConfigNode sch = d.child_or_empty("scheduler");
    // An engine preset changes the defaults of the keys below; keys set explicitly override it
    // (experiment::engine_presets(), docs/EXPERIMENTS.md "Engine presets").
    std::vector<std::string> preset_names;
    for (const EnginePreset& p : engine_presets()) preset_names.emplace_back(p.name);
    const EnginePreset& preset =
        engine_preset(sch.get_choice("preset", preset_names, std::string(engine_presets().front().name)));
    dep.engine_2023 = preset.host_bound_2023;
    dep.scheduler.max_num_seqs =
        static_cast<std::int32_t>(sch.get_int("max_num_seqs", preset.max_num_seqs, 1, 65536));
    dep.max_num_seqs_where = sch.where("max_num_seqs");
    dep.scheduler.chunked_prefill = sch.get_bool("chunked_prefill", preset.chunked_prefill);
    // The host time per layer that bounds every step from below (perf::HostFloorModel); with the 2023 preset
    // and no value, the GPU's fitted one (models/calibration/power/<gpu>.yaml, engine_2023), resolved per GPU
    // when the simulation is built (host_s_per_layer < 0).
    dep.host_where = sch.where("host_time_per_layer");
    if (sch.has("host_time_per_layer")) {
      dep.host_s_per_layer =
          core::to_seconds(sch.get_duration("host_time_per_layer", std::nullopt, 0, core::kSecond));
    } else {
      sch.note_optional("host_time_per_layer");
      dep.host_s_per_layer = preset.host_bound_2023 ? -1.0 : 0.0;
    }
    const bool separate =
        sch.get_choice(
            "prefill_steps", {"mixed", "separate"},
            std::string(preset.separate_prefill(dep.scheduler.chunked_prefill) ? "separate" : "mixed")) ==
        "separate";
    if (separate && dep.scheduler.chunked_prefill)
      sch.fail("prefill_steps",
               "'separate' needs chunked_prefill: false (chunked prompts share steps with decodes)");
    dep.scheduler.prefill_steps = separate ? serving::PrefillSteps::kSeparate : serving::PrefillSteps::kMixed;
    dep.scheduler.max_batched_tokens = static_cast<std::int32_t>(sch.get_int(
        "max_batched_tokens", preset.budget(dep.scheduler.chunked_prefill, catalog.model(dep.model).max_context),
        1, 1 << 24));
    dep.scheduler.kv_block_size = static_cast<std::int32_t>(sch.get_int("kv_block_size", 16, 1, 1024));
    dep.scheduler.kv_allocation =
        sch.get_choice("kv_allocation", {"on_demand", "reserve"}, std::string("on_demand")) == "reserve"
            ? serving::KvAllocation::kReserve
            : serving::KvAllocation::kOnDemand;
    dep.scheduler.preemption =
        sch.get_choice("preemption", {"recompute", "swap"}, std::string("recompute")) == "swap"
            ? serving::PreemptionMode::kSwap
            : serving::PreemptionMode::kRecompute;
    dep.scheduler.swap_bandwidth_gbps = sch.get_double("swap_bandwidth_gbps", 25.0, 0.1, 1e4);
    dep.scheduler.swap_space_gb = sch.get_double("swap_space_gb", 4.0, 0, 1e5);
    // Settings with no effect (the rule of diurnal's period): without the setting that enables them (left out:
    // refused) or with it explicitly off (a sweep's or --set's point: noted). The swap bandwidth prices swaps
    // only; under `kv_allocation: reserve` nothing is preempted. (swap_space_gb sizes the host either way.)
    const bool reserve = dep.scheduler.kv_allocation == serving::KvAllocation::kReserve;
    if (sch.has("swap_bandwidth_gbps") && dep.scheduler.preemption != serving::PreemptionMode::kSwap && !reserve)
      sch.unused_without("swap_bandwidth_gbps", "preemption",
                         "has no effect without preemption: swap (preemption defaults to recompute); set "
                         "preemption: swap or remove it",
                         "no effect with preemption: recompute (nothing is swapped)", x.notes);
    if (reserve)
      for (const char* key : {"preemption", "swap_bandwidth_gbps"})
        if (sch.has(key))
          x.notes.push_back(
              fmt::format("{}: no effect with kv_allocation: reserve (nothing is preempted)", sch.where(key)));
    if (dep.scheduler.max_batched_tokens < dep.scheduler.max_num_seqs)
      sch.fail("max_batched_tokens",
               fmt::format("must be at least max_num_seqs ({}): every running sequence needs a "
                           "token of the budget in each step",
                           dep.scheduler.max_num_seqs));
    sch.finish();
    config::ConfigNode pm = d.child_or_empty("perf_model");
    dep.perf_kind = pm.get_choice("kind", perf_models().names(), std::string("roofline"));
    // `by_gpu` follows `fallback` in the resolved configuration, where it has always been.
    const std::vector<core::ParamSpec> specs = perf_models().all_params();
    const auto split =
        std::find_if(specs.begin(), specs.end(), [](const auto& p) { return p.name == "fallback"; });
    const auto after = split == specs.end() ? specs.begin() : split + 1;
    dep.perf_params = config::read_params(pm, {specs.begin(), after});
    if (auto by = pm.maybe_child("by_gpu")) {
      for (const auto& gpu : by->keys()) {
        if (!catalog.gpus().count(gpu)) by->fail(gpu, fmt::format("unknown GPU '{}'", config::clip(gpu)));
        dep.perf_kind_by_gpu[gpu] = by->get_choice(gpu, perf_models().names());
        dep.perf_kind_by_gpu_where[gpu] = by->where(gpu);
      }
      by->finish();
    }
    dep.perf_params.merge(config::read_params(pm, {after, specs.end()}));
    // Per-step costs are added to the clock at every step (the all-reduce latency twice per layer): bounded far
    // above any real server so that a run cannot wrap the nanosecond clock after a few steps.
    for (const auto& [key, max, max_text] :
         {std::tuple<const char*, core::SimTime, const char*>{"step_overhead", 10 * core::kSecond, "10s"},
          {"allreduce_latency", core::kSecond, "1s"}})
      if (dep.perf_params.has(key) && dep.perf_params.get_duration(key) > max)
        pm.fail(key, fmt::format("duration '{}' is out of range (max {}: it is added to every step)",
                                 core::duration_text(dep.perf_params.get_duration(key)), max_text));
    pm.finish();
    if (auto md = d.maybe_child("modes")) {
      if (auto dis = md->maybe_child("disaggregated")) {
        dep.disaggregated_decode = dis->get_string("decode");
        dep.disaggregated_where = dis->where("decode");
        dis->finish();
      }
      if (auto sp = md->maybe_child("speculative")) {
        dep.speculative_draft = sp->get_string("draft");
        dep.speculative_where = sp->where("draft");
        // Ours: 4 drafts per round, and an acceptance rate of 0.7, mid-range of the rates Leviathan et al. (2023,
        // Table 3) measured for their model pairs; set both per model pair.
        dep.speculative_gamma =
            static_cast<std::int32_t>(sp->get_int("gamma", 4, 1, serving::Speculation::kMaxGamma));
        dep.speculative_acceptance = sp->get_double("acceptance", 0.7, 0.0, 1.0);
        dep.speculative_sampled =
            sp->get_choice("acceptance_draw", {"expected", "sampled"}, "expected") == "sampled";
        sp->finish();
      }
      md->finish();
    }
    d.finish();
    x.deployments.push_back(dep);
  }
  if (x.deployments.empty()) root.fail("deployments", "needs at least one deployment");

  const auto sku_ids = ids_of(catalog.servers());
  auto fleet_nodes = root.child_list("fleet");
  if (fleet_nodes.empty()) root.fail("fleet", "needs at least one server entry");
  // Per entry: its own lifetimes (0: the carbon section's), and where a residual life is set without one.
  struct EntryLifetimes {
    core::SimTime gpu, host;
    std::string residual_where;
  };
  std::vector<EntryLifetimes> lifetimes;
  for (auto& f : fleet_nodes) {
    FleetEntry e;
    e.site = check_ref(f, "site", site_names, "site");
    e.sku = check_ref(f, "sku", sku_ids, "server SKU");
    e.count = static_cast<std::int32_t>(f.get_int("count", 1, 0, 1'000'000));
    e.powered = f.get_bool("powered", true);
    // Lifetimes default to the carbon section's (read below); null in the resolved configuration.
    const auto lifetime = [&](const char* key) -> core::SimTime {
      if (f.has(key)) return f.get_duration(key, std::nullopt, core::kHour, kMaxLifetime);
      f.note_optional(key);
      return 0;
    };
    const core::SimTime gpu_life = lifetime("gpu_lifetime"), host_life = lifetime("host_lifetime");
    e.residual_life = lifetime("residual_life");
    // `gpu_embodied_sunk: true` (the older spelling) still loads, as `gpu_embodied: sunk`.
    if (f.has("gpu_embodied_sunk")) {
      if (f.has("gpu_embodied"))
        f.fail("gpu_embodied_sunk", "is the older spelling of gpu_embodied: sunk; give only gpu_embodied");
      e.gpu_embodied_sunk = f.get_bool("gpu_embodied_sunk");
    } else {
      e.gpu_embodied_sunk =
          f.get_choice("gpu_embodied", {"amortised", "sunk"}, std::string("amortised")) == "sunk";
    }
    if (e.gpu_embodied_sunk && e.residual_life > 0)
      f.fail("residual_life", "applies to amortised GPUs only (this entry's gpu_embodied is sunk)");
    if (gpu_life > 0 && e.residual_life > gpu_life)
      f.fail("residual_life", "must not exceed the entry's gpu_lifetime");
    lifetimes.push_back(
        {gpu_life, host_life, e.residual_life > 0 && gpu_life == 0 ? f.where("residual_life") : ""});
    e.gpu_power_scale = f.get_double("gpu_power_scale", 1.0, 0.01, 100.0);
    config::ConfigNode pw = f.child_or_empty("power");
    e.power_policy = pw.get_choice("policy", power_policies().names(), std::string("always_on"));
    e.power_where = pw.where("policy");
    e.power = power_policies().create(e.power_policy, config::read_params(pw, power_policies().all_params()));
    pw.finish();
    e.deployment =
        x.deployments.size() == 1 ? f.get_string("deployment", x.deployments[0].name) : f.get_string("deployment");
    if (!deployment_names.count(e.deployment)) {
      const std::string hint = config::closest_match(e.deployment, deployment_names);
      f.fail("deployment", fmt::format("unknown deployment '{}'{}", config::clip(e.deployment),
                                       hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
    const auto& sku = catalog.server(e.sku);
    const DeploymentConfig& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                                [&](const auto& d) { return d.name == e.deployment; });
    if (dep.tensor_parallel > sku.gpu_count)
      f.fail("sku", fmt::format("server '{}' has {} GPUs, fewer than deployment '{}' needs for tensor_parallel {}",
                                e.sku, sku.gpu_count, dep.name, dep.tensor_parallel));
    // The model must fit: weights plus at least one KV block per instance.
    const auto& gpu = catalog.gpu(sku.gpu);
    const auto& model = catalog.model(dep.model);
    const double kv = kv_cache_bytes(dep, gpu, model);
    const double block = model.kv_bytes_per_token() * dep.scheduler.kv_block_size;
    if (kv < block && kv + dep.activation_reserve_gb * 1e9 * dep.tensor_parallel >= block)
      f.fail("sku",
             fmt::format("model '{}' ({:.1f} GB of weights) does not fit on {} x {} ({:.0f} GB each, "
                         "utilisation {}) because of deployment '{}''s activation_reserve_gb: {} GB per GPU "
                         "leaves no room for KV cache; lower activation_reserve_gb, raise tensor_parallel "
                         "or pick another SKU",
                         dep.model, model.weight_bytes() / 1e9, dep.tensor_parallel, gpu.id, gpu.memory_gb,
                         dep.gpu_memory_utilization, dep.name, dep.activation_reserve_gb));
    if (kv < block)
      f.fail("sku",
             fmt::format("model '{}' ({:.1f} GB of weights) does not fit on {} x {} ({:.0f} GB each, "
                         "utilisation {}) with room for KV cache; raise tensor_parallel or pick another SKU",
                         dep.model, model.weight_bytes() / 1e9, dep.tensor_parallel, gpu.id, gpu.memory_gb,
                         dep.gpu_memory_utilization));
    if (perf_kind_for(dep, gpu.id) == "calibrated" && dep.perf_params.get_string("fallback") == "error" &&
        !catalog.calibration(gpu.id, dep.model, dep.tensor_parallel))
      f.fail("sku", fmt::format("deployment '{}' asks for the calibrated model with fallback: error, and "
                                "models/calibration/ has none for {} / {} / TP {} (see `greenfleet validate`)",
                                dep.name, gpu.id, dep.model, dep.tensor_parallel));
    if (f.has("cpu_instances")) {
      config::ConfigNode cn = f.child("cpu_instances");
      e.cpu = read_cpu_instances(cn, e, x.deployments, deployment_names, catalog);
      cn.finish();
    }
    e.host_memory = energy::default_host(sku);
    if (f.has("host")) read_host(f, e, dep, x.deployments, catalog);
    f.finish();
    x.fleet.push_back(e);
  }

  std::int64_t instances = 0;
  for (const auto& e : x.fleet) {
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == e.deployment; });
    if (e.powered || e.power.off_when_idle)
      instances += static_cast<std::int64_t>(e.count) *
                   (catalog.server(e.sku).gpu_count / dep.tensor_parallel + e.cpu.count);
  }
  if (instances > 60000)
    root.fail("fleet",
              fmt::format("{} model instances; the event core supports up to 60,000 per experiment", instances));

  config::ConfigNode w = root.child("workload");
  // Classes with their own traces (workload.classes[].trace) take the place of the workload's source.
  const bool own_traces = !w.has("source") && w.has("classes");
  if (own_traces)
    w.note_optional("source");
  else
    x.workload.source = w.get_choice("source", workload_sources().names());
  x.workload.deployment = check_deployment(w, "deployment", x.deployments[0].name, deployment_names);
  x.workload.max_requests = static_cast<std::uint64_t>(w.get_int("max_requests", 0, 0));
  x.workload.on_bad_row = w.get_choice("on_bad_row", {"error", "skip"}, std::string("error")) == "skip"
                              ? text::BadRowPolicy::kSkip
                              : text::BadRowPolicy::kError;
  const auto& served = catalog.model(std::find_if(x.deployments.begin(), x.deployments.end(), [&](const auto& d) {
                                       return d.name == x.workload.deployment;
                                     })->model);
  x.workload.transform.rate_scale = w.get_double("rate_scale", 1.0, 1e-6, 1e6);
  config::ConfigNode win = w.child_or_empty("window");
  x.workload.transform.window_start = win.get_duration("start", 0);
  if (win.has("end")) {
    x.workload.transform.window_end = win.get_duration("end", std::nullopt, 1);
    if (*x.workload.transform.window_end <= x.workload.transform.window_start)
      win.fail("end", "must be after start");
  } else {
    win.note_optional("end");
  }
  win.finish();
  if (w.has("classes")) {
    if (w.has("offline"))
      w.fail("offline", "is replaced by the classes' `kind` and `deadline` when workload.classes is given");
    w.note_optional("offline");
  } else {
    config::ConfigNode off = w.child_or_empty("offline");
    x.workload.transform.offline_share = off.get_double("share", 0.0, 0.0, 1.0);
    x.workload.transform.offline_deadline = off.get_duration("deadline", 24 * core::kHour, 1);
    // A deadline of no offline request: refused with `share` left out (it defaults to 0), noted with share 0.
    if (off.has("deadline") && x.workload.transform.offline_share == 0)
      off.unused_without("deadline", "share",
                         "has no effect without offline.share > 0 (share defaults to 0: every request is online); "
                         "set share or remove it",
                         "no effect with share 0 (every request is online)", x.notes);
    off.finish();
  }
  static const core::ComponentInfo kNoSource;
  const auto& source = own_traces ? kNoSource : workload_sources().info(x.workload.source);
  x.workload.params = config::read_params(w, source.params, [&](config::ConfigNode& n, const std::string& key) {
    x.workload.file_where = n.where(key);
    return resolve_data_file(n, key, options.data_dir, file);
  });
  if (!own_traces && has_section(source, "synthetic")) {
    config::ConfigNode s = w.child("synthetic");
    x.workload.synthetic = read_synthetic(s, served, x.notes);
  }
  read_classes(w, x, catalog, own_traces, deployment_names, options.data_dir, file);
  // Synthetic requests have no rows to be malformed: a bad-row policy without a trace is noted (a file shared by
  // a trace and a synthetic configuration, or a --set of the source, legitimately keeps it).
  if (w.has("on_bad_row") && x.workload.file_where.empty() &&
      std::all_of(x.workload.classes.begin(), x.workload.classes.end(),
                  [](const WorkloadClassConfig& c) { return c.file_where.empty(); }))
    x.notes.push_back(fmt::format("{}: no effect: the workload reads no trace", w.where("on_bad_row")));
  w.finish();

  config::ConfigNode r = root.child_or_empty("router");
  x.router.name = r.get_choice("name", routing::routers().names(), std::string("round_robin"));
  // Omitted parameters still show up, with their defaults, in the resolved configuration.
  config::ConfigNode params = r.child_or_empty("params");
  x.router.params = config::read_params(params, routing::routers().info(x.router.name).params);
  params.finish();
  r.finish();

  config::ConfigNode slo = root.child_or_empty("slo");
  x.slo.ttft = slo.get_duration("ttft", core::kSecond, 1);
  x.slo.tpot = slo.get_duration("tpot", 100 * core::kMillisecond, 1);
  slo.finish();
  for (auto& c : x.workload.classes) {
    if (!c.slo.ttft) c.slo.ttft = x.slo.ttft;
    if (!c.slo.tpot) c.slo.tpot = x.slo.tpot;
  }

  config::ConfigNode cb = root.child_or_empty("carbon");
  x.carbon.slot = cb.get_duration("slot", core::kHour, core::kSecond);
  x.carbon.slot_where = cb.where("slot");
  config::ConfigNode life = cb.child_or_empty("lifetimes");
  x.carbon.gpu_lifetime = life.get_duration("gpu", 4 * 8760 * core::kHour, core::kHour);
  x.carbon.host_lifetime = life.get_duration("host", 4 * 8760 * core::kHour, core::kHour);
  life.finish();
  for (std::size_t i = 0; i < x.fleet.size(); ++i) {
    FleetEntry& e = x.fleet[i];
    e.gpu_lifetime = lifetimes[i].gpu ? lifetimes[i].gpu : x.carbon.gpu_lifetime;
    e.host_lifetime = lifetimes[i].host ? lifetimes[i].host : x.carbon.host_lifetime;
    if (e.residual_life > e.gpu_lifetime)
      throw core::InputError(
          fmt::format("{}: must not exceed the GPU lifetime ({:g} years, from carbon.lifetimes.gpu)",
                      lifetimes[i].residual_where, core::to_seconds(e.gpu_lifetime) / (8760 * 3600.0)));
  }
  x.carbon.gpu_method = cb.get_choice("gpu_method", {"ecoserve", "act"}, std::string("ecoserve"));
  x.carbon.host_cores_per_busy_instance = cb.get_double("host_cores_per_busy_instance", 1.0, 0, 1024);
  x.carbon.calibrated_gpu_power =
      cb.get_choice("gpu_power", {"calibrated", "constants"}, std::string("calibrated")) == "calibrated";
  x.carbon.psu_efficiency = cb.get_double("psu_efficiency", 1.0, 0.5, 1.0);
  x.carbon.vr_overhead = cb.get_double("vr_overhead", 1.0, 1.0, 2.0);
  cb.finish();

  if (auto net = root.maybe_child("network")) {
    // Every server of the fleet must be describable: its link kinds must be in the catalog's network.yaml.
    if (catalog.link_kinds().empty())
      net->fail_here("the catalog has no hardware_catalog/network.yaml (link and switch kinds)");
    NetworkConfig n;
    n.tor_switch = net->get_string("tor_switch", n.tor_switch);
    if (!catalog.switch_kinds().count(n.tor_switch))
      net->fail("tor_switch", fmt::format("unknown switch kind '{}'; see hardware_catalog/network.yaml",
                                          config::clip(n.tor_switch)));
    const auto link_ids = ids_of(catalog.link_kinds());
    std::set<std::pair<std::int32_t, std::int32_t>> pairs;
    for (auto& l : net->child_list("site_links", false)) {
      std::vector<std::int32_t> ends;
      for (const char* key : {"from", "to"}) {
        const std::string name = check_ref(l, key, site_names, "site");
        std::int32_t i = 0;
        while (x.sites[static_cast<std::size_t>(i)].name != name) ++i;
        ends.push_back(i);
      }
      if (ends[0] == ends[1]) l.fail("to", "a site link joins two different sites");
      if (!pairs.insert({std::min(ends[0], ends[1]), std::max(ends[0], ends[1])}).second)
        l.fail("to", "these two sites are already linked");
      NetworkConfig::SiteLink sl{ends[0], ends[1], check_ref(l, "link", link_ids, "link kind")};
      const std::string& cls = catalog.link_kinds().at(sl.link).kind;
      if (cls == "nvlink" || cls == "pcie")
        l.fail("link", fmt::format("link kind '{}' is a {} link, not one between sites", sl.link, cls));
      n.site_links.push_back(sl);
      l.finish();
    }
    for (const auto& e : x.fleet) {
      const auto& sku = catalog.server(e.sku);
      for (const std::string* k : {&sku.pcie_link, &sku.nic_link})
        if (!catalog.link_kinds().count(*k))
          net->fail_here(
              fmt::format("server SKU '{}' uses link kind '{}', which network.yaml does not define", e.sku, *k));
    }
    net->finish();
    x.network = n;
  }

  config::ConfigNode mr = root.child_or_empty("mode_router");
  x.mode_router.name = mr.get_choice("name", routing::mode_routers().names(), std::string("unified"));
  config::ConfigNode mparams = mr.child_or_empty("params");
  x.mode_router.params = config::read_params(mparams, routing::mode_routers().info(x.mode_router.name).params);
  mparams.finish();
  const std::string mode_router_where = mr.where("name");
  mr.finish();
  check_modes(x, catalog, mode_router_where);

  config::ConfigNode eng = root.child_or_empty("engine");
  const bool ff = eng.get_bool("fast_forward", true);
  const bool check = eng.get_bool("check_invariants", false);
  for (auto& d : x.deployments) d.scheduler.fast_forward = ff, d.scheduler.check_invariants = check;
  eng.finish();

  config::ConfigNode out = root.child_or_empty("output");
  x.output_path = out.get_string("path", fmt::format("out/{}.h5", x.name));
  if (!options.output_path.empty()) {
    x.output_path = options.output_path;
    resolved["output"]["path"] = x.output_path;
  }
  x.output_requests = out.get_bool("requests", true);
  x.output_compression = out.get_choice("compression", {"szip", "deflate", "none"}, std::string("szip"));
  out.finish();

  root.finish();
  YAML::Emitter em;
  em << resolved;
  x.resolved_yaml = em.c_str();
  return x;
}

}  // namespace greenfleet::experiment
