#include "sim/runner/simulation.hpp"

#include <chrono>
#include <map>

#include "sim/io/config_node.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/burstgpt_csv.hpp"
#include "sim/workload/mooncake_jsonl.hpp"
#include "sim/workload/transforms.hpp"
#include "sim/workload/synthetic.hpp"

namespace greenfleet::runner {

Simulation::Simulation(const io::Experiment& x, const fleet::Catalog& catalog)
    : experiment_(x), metrics_(metrics::SloTargets{x.slo.ttft, x.slo.tpot}) {
  observers_.add(&metrics_);
  std::map<std::string, std::int32_t> site_index;
  for (std::size_t i = 0; i < x.sites.size(); ++i) site_index[x.sites[i].name] = static_cast<std::int32_t>(i);
  std::map<std::pair<std::string, std::string>, const perf::PerfModel*> models;  // (deployment, gpu)

  for (const auto& entry : x.fleet) {
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == entry.deployment; });
    const auto& sku = catalog.server(entry.sku);
    const auto& gpu = catalog.gpu(sku.gpu);
    const auto& model = catalog.model(dep.model);
    const perf::PerfModel*& pm = models[{dep.name, gpu.id}];
    if (!pm) {
      perf_models_.push_back(std::make_unique<perf::RooflineModel>(model, gpu, dep.tensor_parallel, dep.roofline));
      pm = perf_models_.back().get();
    }
    // KV capacity: the devices' memory at the utilisation cap, less weights and the activation reserve.
    const double usable = gpu.memory_gb * 1e9 * dep.gpu_memory_utilization * dep.tensor_parallel -
                          dep.activation_reserve_gb * 1e9 * dep.tensor_parallel;
    const double kv_tokens = (usable - model.weight_bytes()) / model.kv_bytes_per_token();
    const std::int64_t kv_blocks = static_cast<std::int64_t>(kv_tokens) / dep.scheduler.kv_block_size;
    const int per_server = sku.gpu_count / dep.tensor_parallel;
    serving::SchedulerConfig scheduler = dep.scheduler;
    scheduler.kv_bytes_per_token = model.kv_bytes_per_token();
    for (std::int32_t c = 0; c < entry.count; ++c) {
      ServerInfo s{static_cast<std::int32_t>(servers_.size()), site_index.at(entry.site), entry.sku, entry.deployment};
      servers_.push_back(s);
      for (int k = 0; k < per_server; ++k) {
        serving::Placement p{s.id, s.site, k * dep.tensor_parallel, dep.tensor_parallel};
        instances_.push_back(std::make_unique<serving::Instance>(static_cast<std::int32_t>(instances_.size()), p,
                                                                 scheduler, kv_blocks, model.max_context, pm,
                                                                 &engine_, &pool_, &observers_));
        if (entry.deployment == x.workload.deployment) routed_.push_back(instances_.back().get());
      }
    }
  }

  YAML::Node params = YAML::Clone(x.router.params);
  io::ConfigNode pnode(params, x.router.file, x.router.path, YAML::Node(YAML::NodeType::Undefined));
  router_ = serving::routers().create(x.router.name, pnode, x.seed);

  std::unique_ptr<workload::RequestSource> raw;
  if (x.workload.source == "azure_csv") {
    raw = std::make_unique<workload::AzureCsvSource>(x.workload.file, x.workload.on_bad_row);
  } else if (x.workload.source == "mooncake_jsonl") {
    raw = std::make_unique<workload::MooncakeJsonlSource>(x.workload.file, x.workload.on_bad_row);
  } else if (x.workload.source == "burstgpt_csv") {
    raw = std::make_unique<workload::BurstGptCsvSource>(x.workload.file, x.workload.on_bad_row, x.workload.model_filter);
  } else {
    raw = std::make_unique<workload::SyntheticSource>(x.workload.synthetic, x.seed);
  }
  source_ = std::make_unique<workload::TransformedSource>(std::move(raw), x.workload.transform, x.seed);
  feeder_.sim = this;
  feeder_.kind = engine_.register_kind(&feeder_);
}

Simulation::~Simulation() = default;

void Simulation::Feeder::schedule_next() {
  const auto& x = sim->experiment_;
  if (x.workload.max_requests && arrived >= x.workload.max_requests) return;
  if (!sim->source_->next(pending)) return;
  if (x.horizon && pending.arrival >= *x.horizon) return;
  sim->engine_.schedule_stream(pending.arrival, core::kPriorityArrival, kind, 0);
}

void Simulation::Feeder::on_event(const core::Event&) {
  ++arrived;
  const std::uint32_t slot = sim->pool_.acquire(pending);
  if (sim->routed_.empty()) {
    // A deployment with no servers: every request is reported rejected, never silently dropped.
    sim->pool_[slot].status = serving::RequestStatus::kRejected;
    sim->observers_.on_request_done(sim->pool_[slot]);
    sim->pool_.release(slot);
  } else {
    const std::size_t i = sim->router_->route(sim->pool_[slot], sim->routed_);
    sim->routed_[i]->enqueue(slot);
  }
  schedule_next();
}

void Simulation::run(const std::function<void(const Progress&)>& heartbeat) {
  const auto wall_start = std::chrono::steady_clock::now();
  if (heartbeat) {
    engine_.set_heartbeat(1 << 16, [&](const core::Engine& e) {
      Progress p;
      p.now = e.now();
      p.arrived = feeder_.arrived;
      p.finished = feeder_.arrived - pool_.live();
      p.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      heartbeat(p);
    });
  }
  feeder_.schedule_next();
  if (experiment_.drain || !experiment_.horizon) {
    engine_.run();
  } else {
    engine_.run(*experiment_.horizon);
  }
  end_time_ = (experiment_.horizon && !experiment_.drain) ? *experiment_.horizon : engine_.now();
  // Whatever is still held (a horizon without drain) is reported as unfinished.
  for (auto& in : instances_) in->abandon_all();
}

}  // namespace greenfleet::runner
