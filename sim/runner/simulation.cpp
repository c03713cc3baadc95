#include "sim/runner/simulation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>

#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/components.hpp"
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
    const double bytes = instances * (dep->scheduler.max_num_seqs + 1) * kBytesPerSequenceSlot;
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
    : settings_{x.workload.max_requests, x.horizon, x.drain},
      metrics_(metrics::SloTargets{x.slo.ttft, x.slo.tpot}) {
  observers_.add(&metrics_);
  observers_.sim = this;
  std::map<std::string, std::int32_t> site_index;
  for (std::size_t i = 0; i < x.sites.size(); ++i) site_index[x.sites[i].name] = static_cast<std::int32_t>(i);
  for (const auto& site : x.sites) signals_.push_back(build_signal(site.carbon_intensity, ci_rows_skipped_));
  std::vector<energy::ServerPower> powers;
  std::vector<energy::InstancePlace> places;
  struct Managed {
    std::size_t server;
    serving::PowerPolicy policy;
    bool on;
    std::vector<serving::Instance*> instances;
  };
  std::vector<Managed> managed;
  std::map<std::pair<std::string, std::string>, const perf::PerfModel*> models;  // (deployment, gpu)

  for (const auto& entry : x.fleet) {
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == entry.deployment; });
    const auto& sku = catalog.server(entry.sku);
    const auto& gpu = catalog.gpu(sku.gpu);
    const auto& model = catalog.model(dep.model);
    const perf::PerfModel*& pm = models[{dep.name, gpu.id}];
    if (!pm) {
      const experiment::PerfContext context{catalog, gpu, model, dep.model, dep.tensor_parallel};
      perf_models_.push_back(
          experiment::perf_models().create(experiment::perf_kind_for(dep, gpu.id), dep.perf_params, context));
      perf_models_.back()->prepare_decode_costs(dep.scheduler.max_num_seqs);
      pm = perf_models_.back().get();
    }
    const double kv_tokens = experiment::kv_cache_bytes(dep, gpu, model) / model.kv_bytes_per_token();
    const std::int64_t kv_blocks = static_cast<std::int64_t>(kv_tokens) / dep.scheduler.kv_block_size;
    const int per_server = sku.gpu_count / dep.tensor_parallel;
    serving::SchedulerConfig scheduler = dep.scheduler;
    scheduler.kv_bytes_per_token = model.kv_bytes_per_token();
    const auto& cpu = catalog.cpu(sku.cpu);
    const double card_kg = x.carbon.gpu_method == "act" ? energy::act_gpu(gpu, catalog).total
                                                        : energy::ecoserve_gpu_card(gpu, catalog).total;
    const double host_kg = energy::ecoserve_host(sku, catalog).total;
    for (std::int32_t c = 0; c < entry.count; ++c) {
      ServerInfo s{static_cast<std::int32_t>(servers_.size()),
                   site_index.at(entry.site),
                   entry.sku,
                   entry.deployment,
                   entry.powered,
                   entry.gpu_embodied_sunk,
                   card_kg,
                   host_kg};
      servers_.push_back(s);
      const auto& site = x.sites[static_cast<std::size_t>(s.site)];
      energy::ServerPower sp;
      sp.site = s.site;
      sp.pue = site.pue;
      sp.powered = entry.powered;
      sp.gpus = sku.gpu_count;
      const bool has_instances = entry.powered || entry.power.off_when_idle;
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
      sp.host_static_w = sku.chassis_w + sku.nic_w +
                         sku.dram_gb * catalog.memory_kind(sku.dram_kind).power_w_per_gb +
                         sku.ssd_gb * catalog.storage_kind("ssd").power_w_per_gb + sku.cpu_sockets * cpu.idle_w;
      sp.host_static_w *= delivery;
      sp.cpu_w_per_busy_instance =
          delivery * x.carbon.host_cores_per_busy_instance * (cpu.tdp_w - cpu.idle_w) / cpu.cores;
      // Linear amortisation over each component class's lifetime (EcoServe), in grams per second.
      sp.gpu_emb_g_per_s =
          entry.gpu_embodied_sunk ? 0.0 : card_kg * 1000 / core::to_seconds(x.carbon.gpu_lifetime);
      sp.host_emb_g_per_s = host_kg * 1000 / core::to_seconds(x.carbon.host_lifetime);
      powers.push_back(sp);
      if (!has_instances) continue;  // off for the whole run: no instances
      if (entry.power.off_when_idle)
        managed.push_back({static_cast<std::size_t>(s.id), entry.power, entry.powered, {}});
      for (int k = 0; k < per_server; ++k) {
        places.push_back(energy::InstancePlace{s.id, dep.tensor_parallel});
        serving::Placement p{s.id, s.site, k * dep.tensor_parallel, dep.tensor_parallel};
        instances_.push_back(std::make_unique<serving::Instance>(static_cast<std::int32_t>(instances_.size()), p,
                                                                 scheduler, kv_blocks, model.max_context, pm,
                                                                 &engine_, &pool_, &observers_));
        if (entry.deployment == x.workload.deployment) routed_.push_back(instances_.back().get());
        if (entry.power.off_when_idle) managed.back().instances.push_back(instances_.back().get());
      }
    }
  }

  for (auto& sp : powers) sp.ci = &signals_[static_cast<std::size_t>(sp.site)];
  ledger_ = std::make_unique<energy::CarbonLedger>(std::move(powers), std::move(places), x.carbon.slot);
  observers_.add(ledger_.get());
  if (!managed.empty()) {
    provisioner_ = std::make_unique<serving::Provisioner>(&engine_, ledger_.get());
    for (auto& m : managed) provisioner_->add_server(m.server, m.policy, m.on, std::move(m.instances));
  }

  router_ = routing::routers().create(x.router.name, x.router.params, x.seed);
  if (serving::LoadListener* l = router_->watch_loads(engine_))
    for (serving::Instance* in : routed_) in->set_load_listener(l);

  const experiment::SourceContext source{x.workload.on_bad_row, &x.workload.synthetic, x.seed};
  std::unique_ptr<workload::RequestSource> raw =
      experiment::workload_sources().create(x.workload.source, x.workload.params, source);
  source_ = std::make_unique<workload::TransformedSource>(std::move(raw), x.workload.transform, x.seed);
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

void Simulation::Feeder::on_event(const core::Event&) {
  ++arrived;
  const std::uint32_t slot = sim->pool_.acquire(pending);
  sim->observers_.on_request_begin(slot, sim->pool_[slot]);
  if (sim->routed_.empty()) {
    // A deployment with no servers: every request is reported rejected, never silently dropped.
    sim->pool_[slot].status = serving::RequestStatus::kRejected;
    sim->observers_.on_request_done(slot, sim->pool_[slot]);
    sim->pool_.release(slot);
  } else {
    const std::size_t i = sim->router_->route(sim->pool_[slot], sim->routed_);
    sim->routed_[i]->enqueue(slot);
  }
  schedule_next();
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
  ledger_->finalize(end_time_);
  // Inputs are bounded and finite, so this cannot happen; if it ever does, no total is reported with exit 0.
  if (!std::isfinite(ledger_->conservation_error()))
    throw std::runtime_error(
        "energy or carbon totals are not finite numbers (NaN or infinity); no output written");
}

}  // namespace greenfleet::runner
