#include "sim/planning/plan_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <set>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/components.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/planning/objectives.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::planning {

namespace {

using config::ConfigNode;

// Swap space per GPU the reduced host of a planned server keeps for preempted KV: vLLM's default swap_space, 4 GiB
// per GPU worker (the experiments' scheduler.swap_space_gb default).
constexpr double kPlannerSwapGbPerGpu = 4.0;

std::string beside(const std::string& file, const std::string& name) {
  const std::filesystem::path p(name);
  if (p.is_absolute()) return name;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

// `key` of `n` names an experiment file (relative to the planning file): it must exist, so that the error names
// the planning file's key and line rather than only the path that could not be opened.
std::string experiment_beside(ConfigNode& n, const std::string& file, const std::string& key) {
  const std::string path = beside(file, n.get_string(key));
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    n.fail(key, fmt::format("{} is a directory; name the experiment file (YAML) in it", path));
  if (!std::filesystem::is_regular_file(path, ec))
    n.fail(key, fmt::format("experiment file {} not found (relative paths are taken from the planning file's "
                            "directory)",
                            path));
  return path;
}

// A per-slot series: `values` repeated to fill the horizon, or a daily cosine around `mean` (ours: a smooth
// stand-in for the diurnal shape of production traffic and solar-heavy grids).
// `kind: workload` (online demand only): the online requests of an experiment's workload binned per slot.
// `notes` receives the settings without effect that are legitimate (PlanConfig::notes).
std::vector<double> read_series(ConfigNode& n, int slots, core::SimTime slot, double max,
                                std::vector<std::string>& notes,
                                const std::function<std::vector<double>(ConfigNode&)>& workload = {}) {
  std::vector<std::string> kinds{"constant", "values", "diurnal"};
  if (workload) kinds.push_back("workload");
  const std::string kind = n.get_choice("kind", kinds);
  std::vector<double> out(static_cast<std::size_t>(slots), 0);
  if (kind == "workload") {
    out = workload(n);
  } else if (kind == "constant") {
    const double v = n.get_double("value", std::nullopt, 0, max);
    std::fill(out.begin(), out.end(), v);
  } else if (kind == "values") {
    const auto v = n.get_double_list("values", std::nullopt, 0, max);
    if (v.empty()) n.fail("values", "needs at least one value");
    for (int t = 0; t < slots; ++t) out[t] = v[static_cast<std::size_t>(t) % v.size()];
  } else {
    const double mean = n.get_double("mean", std::nullopt, 0, max);
    const double amplitude = n.get_double("amplitude", 0.5, 0, 1);
    const double peak = n.get_double("peak_hour", 14.0, 0, 24);
    // An explicit amplitude 0 (a --set's flat point) leaves the peak without effect: noted, as in experiments.
    if (amplitude == 0 && n.has("peak_hour"))
      notes.push_back(fmt::format("{}: no effect with amplitude 0 (a constant mean)", n.where("peak_hour")));
    for (int t = 0; t < slots; ++t) {
      const double hour = std::fmod(core::to_seconds(slot * t + slot / 2) / 3600.0, 24.0);
      out[t] = mean * (1 + amplitude * std::cos(2 * std::numbers::pi * (hour - peak) / 24.0));
    }
  }
  return out;
}

// The online requests/s per slot of an experiment's workload (its source and transforms, its `max_requests` and
// `horizon`, as `greenfleet run` would feed them), times `scale`. A workload shorter than the horizon repeats
// from its first slot over the whole slots it covers: those of its declared span (the experiment's `horizon`,
// else its window's length over `rate_scale`), else those before the slot of its last arrival.
std::vector<double> binned_workload(ConfigNode& n, const std::string& file, const catalog::Catalog& catalog,
                                    const std::string& data_dir, int slots, core::SimTime slot,
                                    std::vector<std::string>& notes) {
  experiment::LoadOptions lo;
  lo.data_dir = data_dir;
  const std::string path = experiment_beside(n, file, "experiment");
  const double scale = n.get_double("scale", 1.0, 0, 1e6);
  std::vector<double> count(static_cast<std::size_t>(slots), 0);
  core::SimTime last = 0;
  bool any = false, beyond = false;  // beyond: the workload has arrivals at or after the horizon
  core::SimTime span = -1;           // the workload's declared span (-1: none, or max_requests ends it sooner)
  // An error in the experiment or its trace names this key too (the experiment's own position and the trace's
  // line follow it).
  try {
    const experiment::Experiment x = experiment::load_experiment(path, catalog, lo);
    notes.insert(notes.end(), x.notes.begin(), x.notes.end());  // its fleet is not the plan's: no by_gpu notes
    const experiment::SourceContext context{x.workload.on_bad_row, &x.workload.synthetic, x.seed,
                                            x.workload.file_where};
    workload::TransformedSource source(
        experiment::workload_sources().create(x.workload.source, x.workload.params, context), x.workload.transform,
        x.seed);
    if (x.horizon) {
      span = *x.horizon;
    } else if (x.workload.transform.window_end) {
      const auto& w = x.workload.transform;
      span = static_cast<core::SimTime>(static_cast<double>(*w.window_end - w.window_start) / w.rate_scale);
    }
    workload::RequestSpec r;
    std::uint64_t fed = 0;
    while (true) {
      if (!source.next(r) || (x.horizon && r.arrival >= *x.horizon)) break;
      // The count ends the workload only where run would have fed another request: then its span is no longer
      // the declared one (unless that request lies past the plan's horizon: it goes on as far as the plan sees).
      // A count that the source or the horizon reaches first changes nothing.
      if (x.workload.max_requests && fed >= x.workload.max_requests) {
        if (r.arrival >= slot * slots)
          beyond = true;
        else
          span = -1;
        break;
      }
      ++fed;
      if (r.arrival >= slot * slots) {
        beyond = true;
        break;
      }
      last = r.arrival;
      any = true;
      if (r.cls == workload::RequestClass::kOnline) count[static_cast<std::size_t>(r.arrival / slot)] += 1;
    }
  } catch (const core::InputError& e) {
    n.fail("experiment", e.what());
  }
  // Whole slots: all of them when the workload goes on past the horizon; else those within its declared span (one,
  // at the span's rate, when the span is shorter than a slot); else those before the slot of its last arrival
  // (that one may be partial), at least one.
  double seconds = core::to_seconds(slot);
  int covered = 0;
  if (beyond || span >= slot * slots) {
    covered = slots;
  } else if (span > 0) {
    covered = std::max<int>(1, static_cast<int>(span / slot));
    if (span < slot) seconds = core::to_seconds(span);
  } else {
    covered = std::max<int>(1, static_cast<int>(last / slot));
  }
  if (!any) n.fail("experiment", fmt::format("the workload of {} has no requests", path));
  std::vector<double> out(static_cast<std::size_t>(slots), 0);
  for (int t = 0; t < slots; ++t) out[t] = scale * count[t % covered] / seconds;
  return out;
}

// A forecast with a documented error: the actual rate times 1 + error x z, z standard normal per slot (a seeded
// 64-bit Mersenne Twister through Box-Muller, the same on every platform), clipped at 0. Ours: a simple
// unbiased multiplicative error.
std::vector<double> forecast_of(const std::vector<double>& actual, double error, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> out(actual.size());
  for (std::size_t t = 0; t < actual.size(); ++t) {
    const double u1 = (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
    out[t] = std::max(0.0, actual[t] * (1 + error * z));
  }
  return out;
}

// A list of strings (--set overrides): read from the raw document, since ConfigNode reads scalars and maps.
std::vector<std::string> read_strings(ConfigNode& n, const YAML::Node& raw, const std::string& key) {
  std::vector<std::string> out;
  if (!n.has(key)) return out;
  n.note_optional(key);
  const YAML::Node v = raw[key];
  if (!v.IsSequence()) n.fail(key, "expected a list of strings");
  for (const auto& e : v) {
    if (!e.IsScalar()) n.fail(key, "expected a list of strings");
    out.push_back(e.Scalar());
  }
  return out;
}

Objective read_objective(ConfigNode& n) {
  const std::string name = n.get_choice("name", objectives().names());
  const auto values = config::read_params(n, objectives().info(name).params);
  n.finish();
  return objectives().create(name, values);
}

}  // namespace

ServerType server_type(const catalog::Catalog& c, const std::string& sku_id) {
  return server_type(c, sku_id, "default", energy::default_host(c.server(sku_id)));
}

ServerType server_type(const catalog::Catalog& c, const std::string& sku_id, const std::string& host,
                       energy::HostMemory memory) {
  const auto& sku = c.server(sku_id);
  const auto& gpu = c.gpu(sku.gpu);
  ServerType t;
  t.sku = sku_id;
  t.gpu = sku.gpu;
  t.gpu_tflops = gpu.fp16_tflops;
  t.gpus = sku.gpu_count;
  // The simulator's power rule (sim/runner/simulation.cpp): GPUs at idle plus the host's static power.
  // (Summed in this order, as before host menus, so default hosts keep their plans bit for bit.)
  t.idle_w = sku.gpu_count * gpu.power.idle_w + sku.chassis_w + sku.nic_w +
             memory.dram_gb * c.memory_kind(sku.dram_kind).power_w_per_gb +
             memory.ssd_gb * c.storage_kind("ssd").power_w_per_gb + sku.cpu_sockets * c.cpu(sku.cpu).idle_w;
  t.embodied_kg =
      sku.gpu_count * energy::ecoserve_gpu_card(gpu, c).total + energy::ecoserve_host(sku, c, memory).total;
  t.usd_per_hour = sku.usd_per_hour;
  t.host = host;
  t.dram_gb = memory.dram_gb;
  t.ssd_gb = memory.ssd_gb;
  return t;
}

PlanConfig load_plan_config(const std::string& file, const catalog::Catalog& catalog,
                            const std::vector<std::string>& overrides, const std::string& data_dir) {
  YAML::Node doc = ConfigNode::load_file(file);
  auto set_paths = std::make_shared<std::set<std::string>>();
  for (const auto& o : overrides) set_paths->insert(config::apply_override(doc, o));
  ConfigNode root(doc, file, "", YAML::Node(YAML::NodeType::Undefined), set_paths);
  PlanConfig pc;
  pc.file = file;
  pc.name = root.get_string("name");
  Problem& p = pc.problem;
  p.slot = root.get_duration("slot", core::kHour, (60 * core::kSecond), 24 * core::kHour);
  const core::SimTime horizon =
      root.get_duration("horizon", 7 * 24 * core::kHour, (60 * core::kSecond), 366LL * 24 * core::kHour);
  if (horizon % p.slot != 0) root.fail("horizon", "must be a whole number of slots (see `slot`)");
  p.slots = static_cast<int>(horizon / p.slot);
  p.pue = root.get_double("pue", 1.0, 1.0, 3.0);
  {
    ConfigNode ci = root.child("carbon_intensity");
    p.ci = read_series(ci, p.slots, p.slot, 5000, pc.notes);
    ci.finish();
  }
  const double lifetime = root.get_double("lifetime_years", 4.0, 0.1, 50);

  // Server types: catalog SKUs, each with an optional purchase limit, lifetime, price and host menu.
  struct Menu {
    ServerType type;
    std::vector<std::string> hosts;
    std::string where;
    std::string cpu_where;  // its cpu_instances, or empty
  };
  std::vector<Menu> menus;
  std::set<std::string> skus;
  for (auto& s : root.child_list("servers")) {
    const std::string id = s.get_string("sku");
    if (!catalog.servers().count(id)) {
      std::set<std::string> known;
      for (const auto& [k, v] : catalog.servers()) known.insert(k);
      const auto near = config::closest_match(id, known);
      s.fail("sku", fmt::format("no server '{}' in hardware_catalog/servers.yaml{}", id,
                                near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
    }
    if (!skus.insert(id).second) s.fail("sku", fmt::format("server '{}' is listed twice", id));
    ServerType t = server_type(catalog, id);
    t.max_count = static_cast<int>(s.get_int("max_count", -1, -1, 1000000));
    t.lifetime_years = s.get_double("lifetime_years", lifetime, 0.1, 50);
    if (s.has("usd_per_hour")) t.usd_per_hour = s.get_double("usd_per_hour", std::nullopt, 0, 1e6);
    // The host menu: the default host, the reduced one or both (the program then picks).
    std::vector<std::string> hosts{"default"};
    if (s.has("hosts")) {
      hosts = read_strings(s, doc["servers"][menus.size()], "hosts");
      std::set<std::string> seen;
      for (const auto& h : hosts) {
        if (h != "default" && h != "reduced")
          s.fail("hosts",
                 fmt::format("unknown host configuration '{}'; expected default or reduced", config::clip(h)));
        if (!seen.insert(h).second) s.fail("hosts", fmt::format("'{}' is listed twice", h));
      }
      if (hosts.empty()) s.fail("hosts", "needs at least one of default, reduced");
    }
    // EcoServe's Reuse: CPU instances for offline work on the host's cores (docs/PLANNING.md, "CPU instances").
    std::string cpu_where;
    if (s.has("cpu_instances")) {
      ConfigNode cn = s.child("cpu_instances");
      const auto& sku = catalog.server(id);
      auto& cpu = t.cpu;
      cpu.host_cores = sku.cpu_sockets * catalog.cpu(sku.cpu).cores;
      cpu.cores_each = static_cast<int>(cn.get_int("cores_each", 32, 1, 100000));
      cpu.reserved_cores = static_cast<int>(cn.get_int("reserved_cores", 16, 0, 100000));
      cpu.dram_gb_each = cn.get_double("dram_gb_each", 64.0, 0.001, 1e7);
      cpu.amx_speedup = cn.get_double("amx_speedup", 3.67, 1.0, 100.0);
      cpu.max_num_seqs = static_cast<int>(cn.get_int("max_num_seqs", 32, 1, 100000));
      if (cpu.cores_each + cpu.reserved_cores > cpu.host_cores)
        cn.fail("cores_each",
                fmt::format("{} cores + {} reserved_cores exceed the {} cores of '{}' ({} x {} of {})",
                            cpu.cores_each, cpu.reserved_cores, cpu.host_cores, id, sku.cpu_sockets,
                            catalog.cpu(sku.cpu).cores, sku.cpu));
      if (cpu.dram_gb_each > sku.dram_gb)
        cn.fail("dram_gb_each", fmt::format("{:g} GB is more DRAM than server '{}' has ({:g} GB)",
                                            cpu.dram_gb_each, id, sku.dram_gb));
      cpu_where = cn.where("dram_gb_each");
      cn.finish();
    }
    menus.push_back({t, hosts, s.where("hosts"), cpu_where});
    s.finish();
  }
  if (menus.empty()) root.fail("servers", "needs at least one server type");

  // Workload classes.
  std::set<std::string> names;
  for (auto& n : root.child_list("classes")) {
    WorkloadClass c;
    c.name = n.get_string("name");
    if (!names.insert(c.name).second) n.fail("name", fmt::format("class '{}' is listed twice", c.name));
    c.model = n.get_string("model");
    if (!catalog.models().count(c.model)) n.fail("model", fmt::format("no model '{}' in models/llm/", c.model));
    const YAML::Node raw = [&] {
      YAML::Node cls = doc["classes"];
      for (std::size_t i = 0; i < cls.size(); ++i)
        if (cls[i]["name"].IsScalar() && cls[i]["name"].Scalar() == c.name) return YAML::Node(cls[i]);
      return YAML::Node();
    }();
    const bool online = n.has("online"), offline = n.has("offline");
    if (online == offline) n.fail_here("needs exactly one of `online` (a rate per slot) or `offline` (a volume)");
    c.online = online;
    if (online) {
      ConfigNode r = n.child("online");
      c.rate = read_series(r, p.slots, p.slot, 1e7, pc.notes, [&](ConfigNode& w) {
        return binned_workload(w, file, catalog, data_dir, p.slots, p.slot, pc.notes);
      });
      const double error = r.get_double("forecast_error", 0.0, 0, 10);
      const auto seed = static_cast<std::uint64_t>(r.get_int("forecast_seed", 1, 0));
      // The seed draws the forecast's errors: without an error it has no effect. Refused when forecast_error is
      // left out (it defaults to 0), noted when it is an explicit 0 (a --set's "perfect forecast" point).
      if (r.has("forecast_seed") && error == 0)
        r.unused_without("forecast_seed", "forecast_error",
                         "has no effect without forecast_error > 0 (it defaults to 0: the plan sees the actual "
                         "demand); set forecast_error or remove it",
                         "no effect with forecast_error 0 (the plan sees the actual demand)", pc.notes);
      if (error > 0) {
        c.actual = c.rate;
        c.rate = forecast_of(c.actual, error, seed);
      }
      r.finish();
      ConfigNode slo = n.child("slo");
      c.ttft = slo.get_duration("ttft", std::nullopt, core::kMillisecond);
      c.tpot = slo.get_duration("tpot", std::nullopt, core::kMillisecond);
      slo.finish();
    } else {
      ConfigNode o = n.child("offline");
      const double requests = o.get_double("requests", std::nullopt, 0, 1e12);
      const core::SimTime period = o.get_duration("period", horizon, p.slot);
      const core::SimTime deadline = o.get_duration("deadline", period, p.slot);
      if (period % p.slot != 0) o.fail("period", "must be a whole number of slots");
      if (deadline % p.slot != 0) o.fail("deadline", "must be a whole number of slots");
      if (deadline > period) o.fail("deadline", "must be at most the period (each batch is due before the next)");
      o.finish();
      const int ps = static_cast<int>(period / p.slot), ds = static_cast<int>(deadline / p.slot);
      for (int start = 0; start + ds <= p.slots; start += ps) c.batches.push_back({requests, start, start + ds});
    }
    CapacitySimulation sim;
    if (n.has("tensor_parallel")) {
      sim.tensor_parallel.clear();
      for (double v : n.get_double_list("tensor_parallel", std::nullopt, 1, 64)) {
        if (v != std::floor(v)) n.fail("tensor_parallel", "expected whole numbers");
        const int tp = static_cast<int>(v);
        // A degree no server's GPU count divides would give the class no capacity rows at all, and the plan
        // would fail only at the solve as "infeasible".
        if (std::none_of(menus.begin(), menus.end(),
                         [&](const Menu& m) { return catalog.server(m.type.sku).gpu_count % tp == 0; }))
          n.fail("tensor_parallel",
                 fmt::format("{} divides the GPU count of none of the planning file's servers", tp));
        // The experiment loader's rule (vLLM's): the degree divides the attention heads and divides or is a
        // multiple of the KV heads. Checked here so the planning file's line is named, not a capacity run's.
        const auto& model = catalog.model(c.model);
        if (model.heads % tp != 0 ||
            (model.kv_heads > 0 && (tp <= model.kv_heads ? model.kv_heads % tp : tp % model.kv_heads) != 0))
          n.fail("tensor_parallel", fmt::format("{} does not split the {} attention heads ({} KV heads) of model "
                                                "'{}' evenly (vLLM refuses it)",
                                                tp, model.heads, model.kv_heads, c.model));
        sim.tensor_parallel.push_back(tp);
      }
    }
    sim.set = read_strings(n, raw, "set");
    if (n.has("set")) sim.set_where = n.where("set");
    const std::string split = n.get_choice("split", {"never", "allowed", "only"}, std::string("never"));
    c.split = split == "only" ? Split::kOnly : split == "allowed" ? Split::kAllowed : Split::kNever;
    if (c.split != Split::kNever && !c.online)
      n.fail("split", "only an online class can be split into prefill and decode instances");
    const std::string device = n.get_choice("device", {"any", "gpu", "cpu"}, std::string("any"));
    if (device != "any" && c.online)
      n.fail("device", "online classes run on GPUs only; `device` is for offline ones");
    c.on_gpu = device != "cpu";
    c.on_cpu = device != "gpu";
    n.finish();
    pc.simulate.push_back(sim);
    p.classes.push_back(c);
  }
  if (p.classes.empty()) root.fail("classes", "needs at least one workload class");

  // Server types, one per host configuration of each SKU's menu. The reduced host holds one copy of the weights of
  // every class's model (a server may serve any class), swap space for every GPU and the OS (docs/CARBON.md).
  energy::HostNeed need;
  {
    std::set<std::string> models;
    for (const auto& c : p.classes)
      if (models.insert(c.model).second) need.weights_gb += catalog.model(c.model).weight_bytes() / 1e9;
  }
  // CPU instances (Reuse) are offered on every host configuration of a SKU that has them, each holding only the
  // DRAM its host has beyond the GPU serving stack's share (the Reduce rule's minimum for the GPUs alone).
  const auto cpu_dram = [&](ServerType& t, const Menu& m) {
    if (t.cpu.cores_each == 0) return;
    energy::HostNeed n = need;
    n.swap_gb = kPlannerSwapGbPerGpu * catalog.server(t.sku).gpu_count;
    t.cpu.dram_gb = std::max(0.0, t.dram_gb - energy::host_minimum(n, catalog).dram_gb);
    if (t.host == "default" && t.cpu.dram_gb < t.cpu.dram_gb_each)
      throw core::InputError(fmt::format(
          "{}: {:g} GB per CPU instance, but the default host of '{}' has {:g} GB of DRAM beside the GPU serving "
          "stack's {:g} GB (docs/PLANNING.md, \"CPU instances\")",
          m.cpu_where, t.cpu.dram_gb_each, t.sku, t.cpu.dram_gb, t.dram_gb - t.cpu.dram_gb));
  };
  for (const auto& m : menus)
    for (const auto& h : m.hosts) {
      if (h == "default") {
        p.types.push_back(m.type);
        cpu_dram(p.types.back(), m);
        continue;
      }
      const auto& sku = catalog.server(m.type.sku);
      energy::HostNeed n = need;
      n.swap_gb = kPlannerSwapGbPerGpu * sku.gpu_count;
      const auto reduced = energy::reduced_host(sku, catalog, n);
      const auto least = energy::host_minimum(n, catalog);
      // Valid only where the rule reduces: a host holding the classes' models with less embodied carbon.
      if (!reduced ||
          energy::ecoserve_host(sku, catalog, *reduced).total >= energy::ecoserve_host(sku, catalog).total)
        throw core::InputError(fmt::format(
            "{}: the reduced host of '{}' would not lower its host's embodied carbon: the classes' models need "
            "{:g} GB of DRAM and {:g} GB of SSD, its default has {:g} and {:g} (docs/CARBON.md, \"Reduce\")",
            m.where, m.type.sku, least.dram_gb, least.ssd_gb, sku.dram_gb, sku.ssd_gb));
      // Sized for the GPUs alone: CPU instances get what its DIMMs hold beyond that (possibly none).
      ServerType t = server_type(catalog, m.type.sku, "reduced", *reduced);
      t.max_count = m.type.max_count;
      t.lifetime_years = m.type.lifetime_years;
      t.usd_per_hour = m.type.usd_per_hour;
      t.cpu = m.type.cpu;
      cpu_dram(t, m);
      p.types.push_back(t);
    }

  // Capacity: simulated from a base experiment, or given entry by entry (given entries win).
  std::string capacity_where;
  {
    ConfigNode cap = root.child_or_empty("capacity");
    if (cap.has("experiment")) {
      pc.capacity.experiment = experiment_beside(cap, file, "experiment");
      capacity_where = cap.where("experiment");
    } else
      cap.note_optional("experiment");
    if (cap.has("cache"))
      pc.capacity.cache_dir = beside(file, cap.get_string("cache"));
    else
      cap.note_optional("cache");
    pc.capacity.requests_per_instance = cap.get_int("requests_per_instance", 400, 20, 1000000);
    pc.capacity.warmup_per_instance =
        cap.get_int("warmup_per_instance", 50, 0, pc.capacity.requests_per_instance - 10);
    pc.capacity.seeds.clear();
    for (double s : cap.get_double_list("seeds", std::vector<double>{1}, 0, 1e15)) {
      if (s != std::floor(s)) cap.fail("seeds", "expected whole numbers");
      // A seed listed twice would weigh one simulation twice in the means over the seeds (capacity.cpp).
      if (std::find(pc.capacity.seeds.begin(), pc.capacity.seeds.end(), static_cast<std::uint64_t>(s)) !=
          pc.capacity.seeds.end())
        cap.fail("seeds", fmt::format("seed {} is listed twice", static_cast<std::uint64_t>(s)));
      pc.capacity.seeds.push_back(static_cast<std::uint64_t>(s));
    }
    if (pc.capacity.seeds.empty()) cap.fail("seeds", "needs at least one seed");
    pc.capacity.bisection_steps = static_cast<int>(cap.get_int("bisection_steps", 7, 1, 30));
    pc.capacity.max_rate = cap.get_double("max_rate", 256, 1e-3, 1e6);
    pc.capacity.prefill_headroom = cap.get_double("prefill_headroom", 2.0, 1.0, 100.0);
    for (auto& e : cap.child_list("entries", false)) {
      GivenCapacity g;
      g.where = e.where("");
      g.class_name = e.get_string("class");
      if (!names.count(g.class_name)) e.fail("class", fmt::format("no class '{}' in `classes`", g.class_name));
      g.sku = e.get_string("sku");
      if (!skus.count(g.sku)) e.fail("sku", fmt::format("server '{}' is not in `servers`", g.sku));
      g.tensor_parallel = static_cast<int>(e.get_int("tensor_parallel", 1, 1, 64));
      if (catalog.server(g.sku).gpu_count % g.tensor_parallel != 0)
        e.fail("tensor_parallel", fmt::format("{} does not divide the {} GPUs of '{}'", g.tensor_parallel,
                                              catalog.server(g.sku).gpu_count, g.sku));
      g.device = e.get_choice("device", {"gpu", "cpu"}, std::string("gpu")) == "cpu" ? Device::kCpu : Device::kGpu;
      if (g.device == Device::kCpu) {
        const auto type =
            std::find_if(menus.begin(), menus.end(), [&](const Menu& m) { return m.type.sku == g.sku; });
        if (type->type.cpu.cores_each == 0)
          e.fail("device", fmt::format("server '{}' offers no CPU instances (give its `servers` entry "
                                       "`cpu_instances`)",
                                       g.sku));
        if (e.has("tensor_parallel") || e.has("role"))
          e.fail("device", "a CPU entry has no tensor_parallel or role (it serves whole offline requests)");
        for (const auto& c : p.classes)
          if (c.name == g.class_name && c.online)
            e.fail("device",
                   fmt::format("class '{}' is online: only offline classes run on CPU instances", g.class_name));
      }
      const std::string role = e.get_choice("role", {"unified", "prefill", "decode"}, std::string("unified"));
      g.role = role == "prefill" ? Role::kPrefill : role == "decode" ? Role::kDecode : Role::kUnified;
      g.rate = e.get_double("rate", std::nullopt, 0, 1e7);
      g.active_w = e.get_double("active_w", -1.0, -1, 1e5);
      if (g.active_w < 0 && e.has("active_w")) e.fail("active_w", "must be at least 0");
      e.finish();
      pc.capacity.given.push_back(g);
    }
    cap.finish();
  }

  {
    ConfigNode o = root.child_or_empty("objective");
    if (!o.has("name")) o.fail_here("needs `name`: one of carbon, performance, energy, cost");
    pc.objective = read_objective(o);
  }
  for (auto& b : root.child_list("baselines", false)) {
    pc.baselines.push_back(read_objective(b));
    // The plan file holds one plan per objective name, which `run --plan-objective` picks.
    const auto& name = pc.baselines.back().name;
    if (name == pc.objective.name ||
        std::count_if(pc.baselines.begin(), pc.baselines.end(), [&](const auto& o) { return o.name == name; }) > 1)
      b.fail("name", fmt::format("objective '{}' is planned already (the objective or an earlier baseline); the "
                                 "plan file holds one plan per objective",
                                 name));
  }
  bool priced = pc.objective.kind == ObjectiveKind::kCost;
  for (const auto& o : pc.baselines) priced |= o.kind == ObjectiveKind::kCost;
  if (priced)
    for (const auto& t : p.types)
      if (t.usd_per_hour < 0)
        root.fail("servers", fmt::format("the cost objective needs a price for '{}': give usd_per_hour in its "
                                         "`servers` entry (hardware_catalog/servers.yaml has none)",
                                         t.sku));
  {
    ConfigNode s = root.child_or_empty("solver");
    const SolverSettings defaults;
    pc.solver.time_limit_s = core::to_seconds(s.get_duration(
        "time_limit", static_cast<core::SimTime>(defaults.time_limit_s) * core::kSecond, core::kMillisecond));
    // Branch-and-bound nodes: what stops a search the same way on any machine (CBC counts them in an int).
    pc.solver.max_nodes = s.get_int("max_nodes", defaults.max_nodes, 1, std::numeric_limits<int>::max());
    pc.solver.relative_gap = s.get_double("relative_gap", defaults.relative_gap, 0, 1);
    pc.solver.integer_instances =
        s.get_choice("instances", {"integer", "continuous"}, std::string("continuous")) == "integer";
    s.finish();
  }
  {
    ConfigNode out = root.child_or_empty("output");
    pc.output_path = out.get_string("path", fmt::format("out/{}.plan.yaml", pc.name));
    out.finish();
  }
  root.finish();
  if (!pc.capacity.experiment.empty()) {
    // The capacity simulations run the base experiment's settings with the planner's fleets, the class's model
    // and TP, Poisson arrivals and the class's `set` (capacity.cpp). Loaded here once per class model and `set`
    // with those overrides (the fleets aside), for the notes of what is simulated: the base's settings without
    // effect (a `cv` under the forced Poisson arrivals, a per-GPU step-time model for a GPU kind that none of the
    // server types has) and the class's own. A load that fails here is left to build_capacity, which loads each
    // row as it runs (fleet, roles and CPU instances included) and names the class's `set` in an error it causes.
    experiment::LoadOptions lo;
    lo.data_dir = data_dir;
    experiment::Experiment base;
    try {
      base = experiment::load_experiment(pc.capacity.experiment, catalog, lo);
    } catch (const core::InputError& e) {
      throw core::InputError(fmt::format("{}: {}", capacity_where, e.what()));
    }
    std::vector<std::string> gpus;
    for (const auto& t : p.types) gpus.push_back(t.gpu);
    std::vector<std::string> notes;
    const auto add = [&](const std::string& note) {
      if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
    };
    // What build_capacity needs of it, refused here where the key's line is known.
    if (base.workload.source != "synthetic")
      throw core::InputError(
          fmt::format("{}: must use the synthetic workload source (its rate and request count "
                      "are set by each capacity simulation)",
                      capacity_where));
    if (base.deployments.size() != 1 || base.sites.empty())
      throw core::InputError(fmt::format("{}: must have exactly one deployment", capacity_where));
    std::vector<std::vector<std::string>> loaded;
    for (std::size_t k = 0; k < pc.simulate.size(); ++k) {
      const CapacitySimulation& sim = pc.simulate[k];
      lo.overrides = {fmt::format("deployments.0.model={}", p.classes[k].model),
                      fmt::format("deployments.0.tensor_parallel={}", sim.tensor_parallel.front()),
                      "workload.synthetic.arrivals=poisson"};
      lo.overrides.insert(lo.overrides.end(), sim.set.begin(), sim.set.end());
      if (std::find(loaded.begin(), loaded.end(), lo.overrides) != loaded.end()) continue;
      loaded.push_back(lo.overrides);
      experiment::Experiment variant;
      try {
        variant = experiment::load_experiment(pc.capacity.experiment, catalog, lo);
      } catch (const core::InputError&) {
        continue;
      }
      // A note about one of the class's overrides (positioned "FILE (--set KEY)") names the class's `set` first.
      for (const auto& note : experiment::notes_for_gpus(variant, gpus, file))
        add(sim.set_where.empty() || note.find(" (--set ") == std::string::npos
                ? note
                : fmt::format("{}: {}", sim.set_where, note));
      // The base's own `arrivals: gamma` is replaced (docs/PLANNING.md); a class's `set` may choose it again.
      if (base.workload.synthetic.gamma_arrivals && !variant.workload.synthetic.gamma_arrivals) {
        const YAML::Node doc = YAML::LoadFile(pc.capacity.experiment);
        const YAML::Mark mark = doc["workload"]["synthetic"]["arrivals"].Mark();
        add(
            fmt::format("{}:{}:{}: workload.synthetic.arrivals: no effect: the capacity simulations use Poisson "
                        "arrivals (docs/PLANNING.md)",
                        pc.capacity.experiment, mark.line + 1, mark.column + 1));
      }
    }
    pc.notes.insert(pc.notes.end(), notes.begin(), notes.end());
  }
  return pc;
}

}  // namespace greenfleet::planning
