#include "sim/runner/simulation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/components.hpp"
#include "sim/perf/cpu_model.hpp"
#include "sim/perf/host_floor.hpp"
#include "sim/perf/scaled.hpp"
#include "sim/runner/kv_handoff.hpp"
#include "sim/runner/network_setup.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::runner {

namespace {

energy::CarbonSignal build_signal(const experiment::CarbonIntensityConfig& c, std::uint64_t& skipped) {
  if (c.kind == "constant") return energy::CarbonSignal::constant(c.value);
  if (c.kind == "solar")
    return energy::CarbonSignal::solar_diurnal(c.base, c.dip, c.sunrise_h, c.sunset_h, c.start_time_of_day);
  const energy::CiSeries& series = c.series;  // read and checked when the experiment was loaded
  skipped += series.skipped_rows;
  // Align the series to the simulation: `start` (default: the first row) is simulated time zero.
  // The first row of the file is the default origin and the file's whole span the wrap period, also when rows
  // at either end were skipped: a value holds until the next usable row, the last one to the end of the file.
  const std::int64_t origin = c.start_epoch_ns.value_or(series.first_row_ns);
  std::vector<core::SimTime> starts;
  std::vector<double> values = series.values;
  starts.reserve(series.epoch_ns.size() + 1);
  for (std::int64_t t : series.epoch_ns) starts.push_back(t - origin);
  if (series.epoch_ns.front() > series.first_row_ns) {
    starts.insert(starts.begin(), series.first_row_ns - origin);  // leading gap: the first usable value
    values.insert(values.begin(), values.front());
  }
  return energy::CarbonSignal::samples(std::move(starts), std::move(values),
                                       series.end_ns - series.epoch_ns.back(), c.wrap);
}

// Each workload class's SLO (one entry, the experiment's, without classes).
metrics::SloTable slo_table(const experiment::Experiment& x) {
  if (x.workload.classes.empty()) return {metrics::SloTargets{x.slo.ttft, x.slo.tpot}};
  metrics::SloTable t;
  for (const auto& c : x.workload.classes) t.push_back({c.slo.ttft, c.slo.tpot});
  return t;
}

// What the CPU instances of one fleet entry share (docs/CPU_MODEL.md, "CPU instances"); no model without them.
struct CpuInstances {
  std::unique_ptr<perf::CpuInferenceModel> model;  // the simulation keeps it
  serving::SchedulerConfig scheduler;
  std::int64_t kv_blocks = 0;
  std::int32_t max_context = 0;
  double host_share = 0;      // one instance's share of the host: its cores over the host's
  double gpu_host_share = 1;  // what is left to the GPU side
  double busy_w = 0;          // power above the host's static power while it steps (before delivery losses)
};

CpuInstances cpu_instances(const experiment::Experiment& x, const experiment::FleetEntry& entry,
                           const catalog::Catalog& catalog) {
  CpuInstances c;
  const experiment::CpuInstancesConfig& cfg = entry.cpu;
  if (cfg.count == 0) return c;
  const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                  [&](const auto& d) { return d.name == cfg.deployment; });
  const auto& model = catalog.model(dep.model);
  const int threads = cfg.cores_each;  // one thread per core
  c.model = std::make_unique<perf::CpuInferenceModel>(cfg.coefficients, threads, cfg.amx_speedup);
  c.model->prepare_decode_costs(dep.scheduler.max_num_seqs);
  c.scheduler = dep.scheduler;
  c.scheduler.kv_bytes_per_token = model.kv_bytes_per_token();
  c.kv_blocks = static_cast<std::int64_t>(cfg.kv_bytes / model.kv_bytes_per_token()) / dep.scheduler.kv_block_size;
  c.max_context = model.max_context;
  c.host_share = static_cast<double>(cfg.cores_each) / cfg.host_cores;
  c.gpu_host_share = 1 - cfg.count * c.host_share;
  // The measured host power's increment per thread (docs/CPU_MODEL.md, "Power"): the line's intercept is the
  // host without inference, which the host's static power already counts.
  c.busy_w = cfg.coefficients.power_per_thread_w * threads;
  return c;
}

}  // namespace

namespace {
// Bytes per sequence slot of one instance: the batch-size histogram and its output copy, and the scheduler's
// reserved running, prefilling and batch lists (a conservative round figure).
constexpr double kBytesPerSequenceSlot = 96;
// "12.3 GiB", "456 MiB", "7.8 KiB": sizes in messages.
std::string size_text(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  return fmt::format("{:.3g} {}", bytes, units[u]);
}
}  // namespace

void check_memory(const experiment::Experiment& x, const catalog::Catalog& catalog, std::uint64_t budget_bytes) {
  const double budget = static_cast<double>(budget_bytes);
  double instance_bytes = 0, servers = 0;
  std::string largest;  // where the largest share's max_num_seqs is set, named in the message
  double largest_bytes = -1;
  for (const auto& entry : x.fleet) {
    servers += entry.count;
    const auto dep = std::find_if(x.deployments.begin(), x.deployments.end(),
                                  [&](const auto& d) { return d.name == entry.deployment; });
    if (dep == x.deployments.end()) continue;
    const auto& sku = catalog.server(entry.sku);
    const double instances = static_cast<double>(entry.count) * (sku.gpu_count / dep->tensor_parallel);
    double bytes = instances * (dep->scheduler.max_num_seqs + 1) * kBytesPerSequenceSlot;
    if (entry.cpu.count > 0) {  // CPU instances, with their own deployment's max_num_seqs
      const auto cpu_dep = std::find_if(x.deployments.begin(), x.deployments.end(),
                                        [&](const auto& d) { return d.name == entry.cpu.deployment; });
      if (cpu_dep != x.deployments.end())
        bytes += static_cast<double>(entry.count) * entry.cpu.count * (cpu_dep->scheduler.max_num_seqs + 1) *
                 kBytesPerSequenceSlot;
    }
    instance_bytes += bytes;
    if (bytes > largest_bytes) largest_bytes = bytes, largest = dep->max_num_seqs_where;
  }
  if (instance_bytes > budget)
    throw core::InputError(
        fmt::format("{}: the per-instance tables (instances x max_num_seqs) "
                    "need {}, above the memory budget of {}; lower max_num_seqs or fleet counts, or raise "
                    "the budget (greenfleet run --memory-budget GIB)",
                    largest, size_text(instance_bytes), size_text(budget)));
  if (x.horizon) {
    const double slots = std::ceil(core::to_seconds(*x.horizon) / core::to_seconds(x.carbon.slot));
    const double bytes = slots * servers * energy::CarbonLedger::kBytesPerSlotCell;
    if (bytes > budget)
      throw core::InputError(fmt::format(
          "{}: the /timeseries tables need at least {} ({} slots of {}s up to the horizon x "
          "{} servers), above the memory budget of {}; use a longer carbon.slot or a shorter horizon, or "
          "raise the budget (greenfleet run --memory-budget GIB)",
          x.carbon.slot_where, size_text(bytes), slots, core::to_seconds(x.carbon.slot), servers,
          size_text(budget)));
  }
}

Simulation::Simulation(const experiment::Experiment& x, const catalog::Catalog& catalog)
    : settings_{x.workload.max_requests, x.horizon, x.drain}, metrics_(slo_table(x), !x.workload.classes.empty()) {
  observers_.add(&metrics_);
  // The deployments that receive requests, in class order (without classes: the workload's deployment).
  std::map<std::string, std::size_t> route_of;
  const auto add_route = [&](const std::string& deployment) {
    const auto [it, added] = route_of.emplace(deployment, routes_.size());
    if (added) {
      routes_.emplace_back();
      routes_.back().deployment = deployment;
    }
    class_route_.push_back(it->second);
  };
  if (x.workload.classes.empty()) add_route(x.workload.deployment);
  for (const auto& c : x.workload.classes) add_route(c.deployment);
  // Split offline classes (`--plan`): their CPU instances' deployment is a route of its own, not a class's.
  for (std::size_t c = 0; c < x.workload.classes.size(); ++c) {
    const auto& wc = x.workload.classes[c];
    if (wc.cpu_share <= 0) continue;
    class_split_.resize(x.workload.classes.size());
    const auto [it, added] = route_of.emplace(wc.cpu_deployment, routes_.size());
    if (added) {
      routes_.emplace_back();
      routes_.back().deployment = wc.cpu_deployment;
    }
    class_split_[c].cpu_route = it->second;
    class_split_[c].share = wc.cpu_share;
  }
  observers_.sim = this;
  std::vector<std::string> deployment_of;  // by instance id
  std::map<std::string, std::int32_t> site_index;
  for (std::size_t i = 0; i < x.sites.size(); ++i) site_index[x.sites[i].name] = static_cast<std::int32_t>(i);
  for (const auto& site : x.sites) signals_.push_back(build_signal(site.carbon_intensity, ci_rows_skipped_));
  std::vector<energy::ServerPower> powers;
  std::vector<energy::InstancePlace> places;
  std::vector<std::pair<std::size_t, energy::PowerLine2023>> lines_2023;  // instances on the 2023 power line
  struct Managed {
    std::size_t server;
    serving::PowerPolicy policy;
    bool on;
    std::vector<serving::Instance*> instances;
  };
  std::vector<Managed> managed;
  // (deployment, gpu, step-time scale: 1, or 1 + the host's CPU interference for steps that start while a
  // co-located CPU instance steps)
  std::map<std::tuple<std::string, std::string, double>, const perf::PerfModel*> models;

  for (const auto& entry : x.fleet) {
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == entry.deployment; });
    const auto& sku = catalog.server(entry.sku);
    const auto& gpu = catalog.gpu(sku.gpu);
    const auto& model = catalog.model(dep.model);
    // The 2023 engine (scheduler.preset fastchat-hf-2023): the GPU's fitted host time per layer and power line.
    const spec::GpuPowerCurve* curve_2023 = nullptr;
    if (dep.engine_2023 || dep.host_s_per_layer < 0) {
      curve_2023 = catalog.power_curve(gpu.id);
      if (!curve_2023 || curve_2023->method != "line" ||
          (dep.host_s_per_layer < 0 && curve_2023->host_s_per_layer <= 0))
        throw core::InputError(fmt::format(
            "{}: preset fastchat-hf-2023 on GPU '{}' (fleet entry sku '{}'): models/calibration/power/{}.yaml has "
            "no {} (fitted for the GPUs of ML.ENERGY's 2023 leaderboard: A100, A40, V100); without the preset, "
            "host_time_per_layer alone adds the floor on any GPU",
            dep.host_where, gpu.id, entry.sku, gpu.id,
            curve_2023 && curve_2023->method == "line" ? "host time per layer (engine_2023)"
                                                       : "2023 power line (method line)"));
    }
    const double host_floor_s =
        (dep.host_s_per_layer < 0 ? curve_2023->host_s_per_layer : dep.host_s_per_layer) * model.layers;
    const auto perf_model = [&](double scale) {
      const perf::PerfModel*& m = models[{dep.name, gpu.id, scale}];
      if (!m) {
        const experiment::PerfContext context{catalog, gpu, model, dep.model, dep.tensor_parallel};
        perf_models_.push_back(perf::scaled(
            perf::host_floored(
                experiment::perf_models().create(experiment::perf_kind_for(dep, gpu.id), dep.perf_params, context),
                host_floor_s),
            scale));
        perf_models_.back()->prepare_decode_costs(dep.scheduler.max_num_seqs);
        m = perf_models_.back().get();
      }
      return m;
    };
    const perf::PerfModel* pm = perf_model(1.0);
    // With CPU instances on the host, GPU steps that start while one of them steps are this much slower
    // (docs/CPU_MODEL.md, "Interference").
    const perf::PerfModel* busy_pm = entry.cpu.count > 0 ? perf_model(1 + entry.cpu.interference_slowdown) : pm;
    const double kv_tokens = experiment::kv_cache_bytes(dep, gpu, model) / model.kv_bytes_per_token();
    const std::int64_t kv_blocks = static_cast<std::int64_t>(kv_tokens) / dep.scheduler.kv_block_size;
    const int per_server = sku.gpu_count / dep.tensor_parallel;
    serving::SchedulerConfig scheduler = dep.scheduler;
    scheduler.kv_bytes_per_token = model.kv_bytes_per_token();
    const auto& cpu = catalog.cpu(sku.cpu);
    const double card_kg = x.carbon.gpu_method == "act" ? energy::act_gpu(gpu, catalog).total
                                                        : energy::ecoserve_gpu_card(gpu, catalog).total;
    const double host_kg = energy::ecoserve_host(sku, catalog, entry.host_memory).total;
    const auto route = route_of.find(entry.deployment);
    CpuInstances cpu_side = cpu_instances(x, entry, catalog);
    const perf::PerfModel* cpu_pm = cpu_side.model.get();
    if (cpu_side.model) perf_models_.push_back(std::move(cpu_side.model));
    for (std::int32_t c = 0; c < entry.count; ++c) {
      ServerInfo s{static_cast<std::int32_t>(servers_.size()),
                   site_index.at(entry.site),
                   entry.sku,
                   entry.deployment,
                   entry.powered,
                   entry.gpu_embodied_sunk,
                   entry.gpu_amortisation(),
                   entry.host_lifetime,
                   card_kg,
                   host_kg,
                   entry.host,
                   entry.host_memory.dram_gb,
                   entry.host_memory.ssd_gb};
      servers_.push_back(s);
      const auto& site = x.sites[static_cast<std::size_t>(s.site)];
      energy::ServerPower sp;
      sp.site = s.site;
      sp.pue = site.pue;
      sp.powered = entry.powered;
      sp.gpus = sku.gpu_count;
      const bool has_instances = entry.powered || entry.power.managed();
      sp.gpus_in_instances = has_instances ? per_server * dep.tensor_parallel : 0;
      // Power delivery losses (1 unless set) on every component; the GPU scale only for sensitivity studies.
      const double delivery = x.carbon.vr_overhead / x.carbon.psu_efficiency;
      const double gpu_w_scale = entry.gpu_power_scale * delivery;
      sp.gpu_idle_w = gpu_w_scale * gpu.power.idle_w;
      sp.gpu_prefill_w = gpu_w_scale * gpu.power.prefill_w;
      sp.gpu_decode_w = gpu_w_scale * gpu.power.decode_w;
      if (const auto* curve = catalog.power_curve(gpu.id); curve && x.carbon.calibrated_gpu_power) {
        sp.has_decode_curve = true;
        sp.decode_small_w = gpu_w_scale * curve->decode_w_small;
        sp.decode_saturated_w = gpu_w_scale * curve->decode_w_saturated;
        sp.decode_batch_scale = curve->batch_scale;
      }
      sp.host_static_w = energy::host_static_w(sku, catalog, entry.host_memory);
      sp.host_static_w *= delivery;
      sp.cpu_w_per_busy_instance =
          delivery * x.carbon.host_cores_per_busy_instance * (cpu.tdp_w - cpu.idle_w) / cpu.cores;
      // Linear amortisation over each component class's lifetime (EcoServe), the entry's own where it sets one
      // (an old GPU's residual life), in grams per second.
      sp.gpu_emb_g_per_s =
          entry.gpu_embodied_sunk ? 0.0 : card_kg * 1000 / core::to_seconds(entry.gpu_amortisation());
      sp.host_emb_g_per_s = host_kg * 1000 / core::to_seconds(entry.host_lifetime);
      if (has_instances && cpu_pm) sp.gpu_host_share = cpu_side.gpu_host_share;
      powers.push_back(sp);
      if (!has_instances) continue;  // off for the whole run: no instances
      if (entry.power.managed())
        managed.push_back({static_cast<std::size_t>(s.id), entry.power, entry.powered, {}});
      serving::HostCpuLoad* host_load = nullptr;
      if (entry.cpu.count > 0 && busy_pm != pm) {
        host_loads_.push_back(std::make_unique<serving::HostCpuLoad>());
        host_load = host_loads_.back().get();
      }
      for (int k = 0; k < per_server; ++k) {
        places.push_back(energy::InstancePlace{s.id, dep.tensor_parallel});
        if (dep.engine_2023)
          // Each GPU reads its weight shard once per forward pass; the line is read at that over the step time.
          lines_2023.emplace_back(
              places.size() - 1,
              energy::PowerLine2023{
                  gpu_w_scale * curve_2023->line_intercept_w, gpu_w_scale * curve_2023->line_slope_w,
                  model.weight_bytes() / dep.tensor_parallel / (gpu.memory_bandwidth_gbps * 1e9)});
        serving::Placement p{s.id, s.site, k * dep.tensor_parallel, dep.tensor_parallel};
        instances_.push_back(std::make_unique<serving::Instance>(static_cast<std::int32_t>(instances_.size()), p,
                                                                 scheduler, kv_blocks, model.max_context, pm,
                                                                 &engine_, &pool_, &observers_));
        if (host_load) {
          instances_.back()->set_host_load(host_load, false, busy_pm);
          host_load->add_gpu_instance(instances_.back().get());
        }
        if (route != route_of.end()) routes_[route->second].instances.push_back(instances_.back().get());
        deployment_of.push_back(entry.deployment);
        if (entry.power.managed()) managed.back().instances.push_back(instances_.back().get());
      }
      // CPU instances on the host's cores (EcoServe's Reuse): no GPU, a share of the host by cores, and the
      // power of the cores they keep busy while stepping.
      for (int k = 0; k < entry.cpu.count; ++k) {
        places.push_back(energy::InstancePlace{s.id, 0, cpu_side.host_share, delivery * cpu_side.busy_w});
        serving::Placement p{s.id, s.site, sku.gpu_count, 0};
        instances_.push_back(std::make_unique<serving::Instance>(
            static_cast<std::int32_t>(instances_.size()), p, cpu_side.scheduler, cpu_side.kv_blocks,
            cpu_side.max_context, cpu_pm, &engine_, &pool_, &observers_));
        if (host_load) instances_.back()->set_host_load(host_load, true);
        if (const auto r = route_of.find(entry.cpu.deployment); r != route_of.end())
          routes_[r->second].instances.push_back(instances_.back().get());
        deployment_of.push_back(entry.cpu.deployment);
        if (entry.power.managed()) managed.back().instances.push_back(instances_.back().get());
      }
    }
  }

  for (auto& sp : powers) sp.ci = &signals_[static_cast<std::size_t>(sp.site)];
  ledger_ = std::make_unique<energy::CarbonLedger>(std::move(powers), std::move(places), x.carbon.slot);
  for (const auto& [instance, line] : lines_2023) ledger_->set_line_2023(instance, line);
  observers_.add(ledger_.get());
  network_ = build_network(x, catalog, servers_, signals_, engine_, *ledger_);
  if (!managed.empty()) {
    provisioner_ = std::make_unique<serving::Provisioner>(&engine_, ledger_.get());
    for (auto& m : managed) provisioner_->add_server(m.server, m.policy, m.on, std::move(m.instances));
  }

  // The deployments whose split requests decode elsewhere route those decodes through their decode pool's
  // router (a route of its own, not a class's).
  for (std::size_t k = 0, n = routes_.size(); k < n; ++k) {
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == routes_[k].deployment; });
    if (dep.disaggregated_decode.empty()) continue;
    const auto [it, added] = route_of.emplace(dep.disaggregated_decode, routes_.size());
    if (added) {
      routes_.emplace_back();
      routes_.back().deployment = dep.disaggregated_decode;
      for (const auto& in : instances_)
        if (deployment_of[static_cast<std::size_t>(in->id())] == dep.disaggregated_decode)
          routes_.back().instances.push_back(in.get());
    }
    routes_[k].decode = it->second;
  }
  for (std::size_t k = 0; k < routes_.size(); ++k) {
    DeploymentRoute& r = routes_[k];
    // The first router draws from the experiment seed (as before classes), the others from their own streams.
    const std::uint64_t seed = k == 0 ? x.seed : core::Rng::stream(x.seed, "router." + r.deployment).next_u64();
    r.router = routing::routers().create(x.router.name, x.router.params, seed);
    if (serving::LoadListener* l = r.router->watch_loads(engine_))
      for (serving::Instance* in : r.instances) in->set_load_listener(l);
    r.view.assign(r.instances.begin(), r.instances.end());
    for (const serving::Instance* in : r.instances)
      r.max_tokens = std::max<std::int64_t>(
          r.max_tokens,
          std::min<std::int64_t>(in->max_context(), in->kv_blocks_total() * in->config().kv_block_size));
  }
  bool any_split = false;
  for (DeploymentRoute& r : routes_) {
    if (r.decode == kNoRoute) continue;
    any_split = true;
    r.options.decode = routes_[r.decode].view;
    r.options.decode_max_tokens = routes_[r.decode].max_tokens;
  }
  mode_router_ = routing::mode_routers().create(x.mode_router.name, x.mode_router.params, x.seed);
  routing_context_ = std::make_unique<routing::RoutingContext>(&engine_, &ledger_->servers());
  routing_context_->set_network(network_.get());
  if (any_split) {
    // Checked at load (experiment.cpp, check_modes): split requests need the network their KV crosses.
    if (!network_) throw std::logic_error("split requests without a network");
    std::vector<serving::Instance*> all;
    for (const auto& in : instances_) all.push_back(in.get());
    handoff_ = std::make_unique<KvHandoff>(all, &pool_, network_.get(), ledger_.get());
    for (const auto& in : instances_) in->set_handoff_sink(handoff_.get());
  }
  // Speculative deployments: each instance drafts on the instance of the same rank in its draft pool (the load
  // checked that the draft pool has at least as many; the rest idle), over their network path.
  for (const auto& dep : x.deployments) {
    if (dep.speculative_draft.empty()) continue;
    std::vector<serving::Instance*> targets, drafts;
    for (const auto& in : instances_) {
      const std::string& d = deployment_of[static_cast<std::size_t>(in->id())];
      if (d == dep.name) targets.push_back(in.get());
      if (d == dep.speculative_draft) drafts.push_back(in.get());
    }
    if (targets.size() > drafts.size() || !network_) throw std::logic_error("speculative pools unpaired");
    const std::uint64_t seed = core::Rng::stream(x.seed, "speculation." + dep.name).next_u64();
    for (std::size_t k = 0; k < targets.size(); ++k) {
      auto sp = std::make_unique<serving::Speculation>();
      sp->draft = drafts[k];
      sp->gamma = dep.speculative_gamma;
      sp->acceptance = dep.speculative_acceptance;
      sp->sampled = dep.speculative_sampled;
      sp->seed = seed;
      sp->prepare();
      // The path's latency, and its narrowest link from the time one byte more takes.
      const routing::Estimate none = routing_context_->transfer(*targets[k], *drafts[k], 0);
      const routing::Estimate one = routing_context_->transfer(*targets[k], *drafts[k], 1e6);
      sp->link_latency_s = none.seconds;
      sp->link_bytes_per_s = one.seconds > none.seconds ? 1e6 / (one.seconds - none.seconds) : 0.0;
      targets[k]->set_speculation(sp.get());
      speculations_.push_back(std::move(sp));
    }
    if (const auto it = route_of.find(dep.name); it != route_of.end())
      routes_[it->second].options.speculative = true;
  }
  for (DeploymentRoute& r : routes_)
    r.plain = !r.instances.empty() && r.decode == kNoRoute && !r.options.speculative;
  deferrals_.sim = this;
  deferrals_.kind = engine_.register_kind(&deferrals_);

  std::unique_ptr<workload::RequestSource> raw;
  if (x.workload.class_selector == workload::ClassSelector::kTrace && !x.workload.classes.empty()) {
    // Each class's own trace, merged by arrival; each synthetic one draws from its own stream.
    std::vector<std::unique_ptr<workload::RequestSource>> traces;
    for (const auto& c : x.workload.classes) {
      const experiment::SourceContext source{x.workload.on_bad_row, &c.synthetic,
                                             core::Rng::stream(x.seed, "workload.class." + c.name).next_u64(),
                                             c.file_where};
      traces.push_back(experiment::workload_sources().create(c.source, c.params, source));
    }
    raw = std::make_unique<workload::MergedSource>(std::move(traces));
  } else {
    const experiment::SourceContext source{x.workload.on_bad_row, &x.workload.synthetic, x.seed,
                                           x.workload.file_where};
    raw = experiment::workload_sources().create(x.workload.source, x.workload.params, source);
    if (x.workload.class_selector == workload::ClassSelector::kColumn && !x.workload.classes.empty() &&
        !raw->select_column(x.workload.class_column))  // checked at load; the file may have changed since
      throw core::InputError(
          fmt::format("workload.classes: the trace has no column '{}'", x.workload.class_column));
  }
  source_ = std::make_unique<workload::TransformedSource>(std::move(raw), x.workload.transform, x.seed);
  if (!x.workload.classes.empty()) {
    auto classified = std::make_unique<workload::ClassifiedSource>(std::move(source_),
                                                                   experiment::class_spec(x.workload), x.seed);
    classified_ = classified.get();
    source_ = std::move(classified);
  }
  feeder_.sim = this;
  feeder_.kind = engine_.register_kind(&feeder_);
}

Simulation::~Simulation() = default;

void Simulation::Feeder::schedule_next() {
  const RunSettings& x = sim->settings_;
  if ((x.max_requests && arrived >= x.max_requests) || !sim->source_->next(pending) ||
      (x.horizon && pending.arrival >= *x.horizon)) {
    exhausted = true;
    sim->stop_if_drained(0);
    return;
  }
  sim->engine_.schedule_stream(pending.arrival, core::kPriorityArrival, kind, 0);
}

void Simulation::stop_if_drained(std::size_t still_live) {
  if (feeder_.exhausted && pool_.live() <= still_live && settings_.drain) engine_.stop();
}

[[gnu::always_inline]] inline void Simulation::route(std::uint32_t slot, serving::RequestState& r) {
  // The request's class picks the deployment, and that deployment's router the instance.
  std::size_t k = class_route_[r.spec.workload_class];
  if (!class_split_.empty() && to_cpu_[slot]) [[unlikely]]
    k = class_split_[r.spec.workload_class].cpu_route;
  DeploymentRoute& route = routes_[k];
  if (route.plain) [[likely]] {  // the common case: no modes, one router
    const routing::Decision d = route.router->route(r, route.view, *routing_context_);
    if (d.kind == routing::Decision::Kind::kJoin) return route.instances[d.instance]->enqueue(slot);
    return settle(slot, d);
  }
  route_with_modes(slot, r, route);
}

void Simulation::Feeder::on_event(const core::Event&) {
  ++arrived;
  Simulation& s = *sim;
  const std::uint32_t slot = s.pool_.acquire(pending);
  serving::RequestState& r = s.pool_[slot];
  s.observers_.on_request_begin(slot, r);
  if (!s.class_split_.empty()) [[unlikely]]
    s.choose_side(slot, r);
  s.route(slot, r);
  schedule_next();
}

void Simulation::route(std::uint32_t slot) { route(slot, pool_[slot]); }

void Simulation::choose_side(std::uint32_t slot, const serving::RequestState& r) {
  if (slot >= to_cpu_.size()) to_cpu_.resize(std::max<std::size_t>(slot + 1, 2 * to_cpu_.size()));  // as the pool
  ClassSplit& c = class_split_[r.spec.workload_class];
  const std::uint64_t n = ++c.arrived;
  const bool cpu = c.share > 0 &&
                   std::floor(static_cast<double>(n) * c.share) > std::floor(static_cast<double>(n - 1) * c.share);
  to_cpu_[slot] = cpu;
  cpu_routed_ += cpu;
}

void Simulation::route_with_modes(std::uint32_t slot, serving::RequestState& r, DeploymentRoute& route) {
  // A deployment with no servers: every request is reported rejected, never silently dropped.
  if (route.instances.empty()) return reject(slot);
  // Instances first: the deployment's router picks where the request would run whole or prefill (or defers it),
  // the decode pool's router where it would decode (only when a decode instance can hold it, and only where: the
  // first router decided when, so the decode pool's router is asked for its placement alone; one that rejects
  // leaves it whole, and so does a pick that cannot hold it, in a pool of mixed GPUs: that instance would reject
  // it after its prefill); then the mode router decides between them.
  const routing::Decision first = route.router->route(r, route.view, *routing_context_);
  if (first.kind != routing::Decision::Kind::kJoin) return settle(slot, first);
  routing::ModeCandidates c;
  c.front = route.instances[first.instance];
  const metrics::SloTargets& slo = metrics_.slos()[r.spec.workload_class];
  c.slo_ttft = slo.ttft;
  c.slo_tpot = slo.tpot;
  if (route.options.speculative && c.front->speculation()) {
    if (c.front->speculation()->draft->can_hold(r))
      c.draft = c.front->speculation()->draft;
    else
      ++too_long_to_draft_;
  }
  if (route.decode == kNoRoute) {
    // no disaggregation
  } else if (!routing::fits_decode(r, route.options)) {
    ++too_long_to_split_;
  } else {
    DeploymentRoute& decode = routes_[route.decode];
    const routing::Decision second = decode.router->placement().route(r, decode.view, *routing_context_);
    if (second.kind == routing::Decision::Kind::kJoin) {
      serving::Instance* to = decode.instances[second.instance];
      if (to->can_hold(r))
        c.decode = to;
      else
        ++too_long_to_split_;
    }
  }
  const routing::ModeChoice m = mode_router_->choose(r, route.options, c, *routing_context_);
  if (m.mode == serving::RequestMode::kDisaggregated && !c.decode)
    throw std::logic_error("a mode router split a request without a decode instance");
  if (m.mode == serving::RequestMode::kSpeculative && !c.draft)
    throw std::logic_error("a mode router chose speculation without a draft instance");
  ++mode_counts_[static_cast<std::size_t>(m.mode)];
  if (m.fallback) ++slo_fallbacks_;
  r.predicted_ttft_s = m.ttft_s;
  r.predicted_tpot_s = m.tpot_s;
  if (m.mode == serving::RequestMode::kDisaggregated) {
    ++split_;
    r.mode = m.mode;
    r.leave_after_prefill = true;
    r.decode_instance = c.decode->id();
  } else if (m.mode == serving::RequestMode::kSpeculative) {
    r.mode = m.mode;
    r.decode_instance = c.draft->id();
  }
  route.instances[first.instance]->enqueue(slot);
}

void Simulation::settle(std::uint32_t slot, const routing::Decision& d) {
  if (d.kind == routing::Decision::Kind::kDefer) {
    if (d.until <= engine_.now()) throw std::logic_error("a router deferred a request to a time not after now");
    ++deferrals_.deferred;
    auto& waiting = deferrals_.waiting;
    if (slot >= waiting.size())
      waiting.resize(std::max<std::size_t>(slot + 1, 2 * waiting.size()));  // as the pool
    waiting[slot] = 1;
    ++deferrals_.waiting_count;
    engine_.schedule(d.until, core::kPriorityArrival, deferrals_.kind, slot);
  } else if (d.kind == routing::Decision::Kind::kReject) {
    reject(slot);
  }
}

void Simulation::report(std::uint32_t slot, serving::RequestStatus status) {
  pool_[slot].status = status;
  observers_.on_request_done(slot, pool_[slot]);
  pool_.release(slot);
}

void Simulation::run(const std::function<void(const Progress&)>& heartbeat) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (heartbeat || memory_budget_) {
    engine_.set_heartbeat(1 << 16, [&](const core::Engine& e) {
      // Requests held at once grow without bound when the fleet cannot keep up: stop at the budget, not at
      // std::bad_alloc hours later. Per request: its state, the ledger's books, queue and free-list entries,
      // twice for vector growth.
      constexpr double kBytesPerRequest = 2.0 * (sizeof(serving::RequestState) + 128);
      const double held = static_cast<double>(pool_.capacity()) * kBytesPerRequest;
      if (memory_budget_ && held > static_cast<double>(memory_budget_))
        throw core::InputError(fmt::format(
            "{} requests held at once ({}) at simulated time {}s, above the memory budget of {}: the fleet "
            "cannot keep up with the workload; add servers (fleet[].count), lower the arrival rate, set a "
            "horizon with drain: false, or raise the budget (greenfleet run --memory-budget GIB)",
            pool_.capacity(), size_text(held), core::to_seconds(e.now()),
            size_text(static_cast<double>(memory_budget_))));
      if (!heartbeat) return;
      Progress p;
      p.now = e.now();
      p.arrived = feeder_.arrived;
      p.finished = feeder_.arrived - pool_.live();
      p.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      heartbeat(p);
    });
  }
  feeder_.schedule_next();
  if (settings_.drain || !settings_.horizon) {
    engine_.run();
  } else {
    engine_.run(*settings_.horizon);
  }
  end_time_ = (settings_.horizon && !settings_.drain) ? *settings_.horizon : engine_.now();
  // Whatever is still held (a horizon without drain) is reported as unfinished.
  for (auto& in : instances_) in->abandon_all(end_time_);
  // And the requests a router deferred past the end, in slot order (they wait outside every instance).
  for (std::size_t slot = 0; deferrals_.waiting_count > 0 && slot < deferrals_.waiting.size(); ++slot)
    if (deferrals_.waiting[slot]) {
      deferrals_.waiting[slot] = 0;
      --deferrals_.waiting_count;
      report(static_cast<std::uint32_t>(slot), serving::RequestStatus::kUnfinished);
    }
  ledger_->finalize(end_time_);
  // Inputs are bounded and finite, so this cannot happen; if it ever does, no total is reported with exit 0.
  if (!std::isfinite(ledger_->conservation_error()))
    throw std::runtime_error(
        "energy or carbon totals are not finite numbers (NaN or infinity); no output written");
}

}  // namespace greenfleet::runner
