#include "sim/planning/capacity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "greenfleet/version.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/metrics/request_metrics.hpp"
#include "sim/runner/digest.hpp"
#include "sim/runner/simulation.hpp"
#include "sim/text/text_file.hpp"

namespace greenfleet::planning {

namespace {

// A row's experiment: the capacity experiment under the row's overrides. An error that one of the class's `set`
// entries causes (its message names the entry's key, "FILE (--set KEY)") names the planning file's `set` first.
experiment::Experiment load_row(const PlanConfig& pc, const catalog::Catalog& catalog,
                                const CapacitySimulation& sim, const experiment::LoadOptions& lo) {
  try {
    return experiment::load_experiment(pc.capacity.experiment, catalog, lo);
  } catch (const core::InputError& e) {
    const std::string what = e.what();
    const std::string tag = pc.capacity.experiment + " (--set ";
    const std::size_t at = what.find(tag);
    if (!sim.set_where.empty() && at != std::string::npos) {
      const std::size_t from = at + tag.size();
      const std::string key = config::dotted_key_path(what.substr(from, what.find(')', from) - from));
      for (const auto& o : sim.set) {
        const std::string set_key = config::dotted_key_path(o.substr(0, o.find('=')));
        if (key == set_key || key.rfind(set_key + ".", 0) == 0)
          throw core::InputError(fmt::format("{}: {}", sim.set_where, what));
      }
    }
    throw;
  }
}

// TTFT and TPOT of the requests after the warm-up, and whether every request completed.
class LatencyProbe final : public serving::ServingObserver {
 public:
  // `split_only`: TPOT only of requests that were split (decoded on the decode instance under test).
  LatencyProbe(std::uint64_t warmup, std::size_t expected, bool split_only = false)
      : warmup_(warmup), split_only_(split_only) {
    ttft_.reserve(expected);
    tpot_.reserve(expected);
    done_.reserve(expected);
  }
  unsigned signals() const override { return kRequests; }
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    // A request rejected because it can never fit the model's context or KV cache says nothing about the rate;
    // one left unfinished does.
    if (r.status == serving::RequestStatus::kRejected) {
      ++rejected_;
      return;
    }
    if (r.status != serving::RequestStatus::kCompleted) {
      ++lost_;
      return;
    }
    ++completed_;
    done_.push_back(core::to_seconds(r.completion));
    if (r.spec.id < warmup_) return;
    const auto t = metrics::timings_of(r, {});
    ttft_.push_back(core::to_seconds(t.ttft));
    if (!split_only_ || r.mode == serving::RequestMode::kDisaggregated) {
      tpot_.push_back(t.tpot_s);
      // The wait for a decode slot: from the first token (on the prefill instance) to the decode instance's
      // reservation of its KV blocks.
      if (r.kv_reserved >= 0 && r.first_token >= 0)
        admission_.push_back(core::to_seconds(r.kv_reserved - r.first_token));
    }
  }
  std::uint64_t lost() const { return lost_; }
  std::uint64_t rejected() const { return rejected_; }
  std::uint64_t completed() const { return completed_; }
  // Nearest-rank p90.
  static double p90(std::vector<double> v) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(v.size()))) - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
  double ttft_p90() const { return p90(ttft_); }
  // Requests/s completed between the 10th and the 90th percentile completion: the steady rate of a backlog,
  // without the ramp-up and the tail of the longest requests.
  double steady_throughput() const {
    if (done_.size() < 10) return 0;
    std::vector<double> t = done_;
    std::sort(t.begin(), t.end());
    const auto a = t.size() / 10, b = t.size() - 1 - t.size() / 10;
    return t[b] > t[a] ? static_cast<double>(b - a) / (t[b] - t[a]) : 0.0;
  }
  double tpot_p90() const { return p90(tpot_); }
  bool has_tpot() const { return !tpot_.empty(); }
  double admission_p90() const { return p90(admission_); }

 private:
  std::uint64_t warmup_;
  bool split_only_ = false;
  std::uint64_t lost_ = 0, completed_ = 0, rejected_ = 0;
  std::vector<double> ttft_, tpot_, done_, admission_;
};

struct Run {
  bool meets = false;
  double active_w = 0;    // GPU power above idle per instance, mean over the run
  double throughput = 0;  // completed requests/s per instance over the run
};

// The inputs of one (class, type, TP, role) row, shared by every simulation of its search.
struct RowSetup {
  std::vector<std::string> overrides;  // all but seed, rate, requests (and the prefill pool's size)
  int instances = 1;                   // per server
  const WorkloadClass* cls = nullptr;
  std::string sku;
  Role role = Role::kUnified;
  // Decode rows: the prefill pool (fleet[1]) is sized per simulation to `headroom` x the stream's rate over
  // the prefill capacity of one of its servers.
  double pool_rate_per_server = 0;
  double headroom = 2;
  // Requests per instance and per-instance warm-up: capacity.requests_per_instance and warmup_per_instance, for
  // decode rows at least 4 and 1 x max_num_seqs, so that the run outlasts the decode of a full batch.
  std::int64_t requests_per_instance = 400, warmup_per_instance = 50;
};

// Servers in the prefill pool of a decode row's simulation at `total_rate` requests/s.
int pool_servers(const RowSetup& row, double total_rate) {
  return std::max(1, static_cast<int>(std::ceil(row.headroom * total_rate / row.pool_rate_per_server - 1e-9)));
}

Run simulate(const PlanConfig& pc, const catalog::Catalog& catalog, const std::string& data_dir,
             const RowSetup& row, std::uint64_t seed, double rate_per_instance) {
  experiment::LoadOptions lo;
  lo.overrides = row.overrides;
  const auto requests = static_cast<std::uint64_t>(row.requests_per_instance) * row.instances;
  lo.overrides.push_back(fmt::format("seed={}", seed));
  lo.overrides.push_back(fmt::format("workload.synthetic.rate={:.17g}", rate_per_instance * row.instances));
  lo.overrides.push_back(fmt::format("workload.synthetic.requests={}", requests));
  if (row.role == Role::kDecode)
    lo.overrides.push_back(fmt::format("fleet.1.count={}", pool_servers(row, rate_per_instance * row.instances)));
  lo.data_dir = data_dir;
  const experiment::Experiment x = experiment::load_experiment(pc.capacity.experiment, catalog, lo);
  runner::Simulation sim(x, catalog);
  LatencyProbe probe(static_cast<std::uint64_t>(row.warmup_per_instance) * row.instances, requests,
                     row.role == Role::kDecode);
  sim.add_observer(&probe);
  sim.run();
  Run r;
  const double seconds = core::to_seconds(sim.end_time());
  // Idle as the run priced it (power-delivery losses and the entry's power scale included), so that only the
  // GPUs' work counts as active.
  const energy::ServerPower& server = sim.ledger().servers()[0];
  const double idle_j = server.gpus * server.gpu_idle_w * seconds;
  if (seconds > 0) {
    // The server under test is the fleet's first (a decode row's prefill pool follows it).
    r.active_w = std::max(0.0, (sim.ledger().server_total(0).energy_gpu - idle_j) / seconds / row.instances);
    r.throughput = probe.steady_throughput() / row.instances;
  }
  // A unified instance meets both targets; a prefill instance (requests leave after their first token) the TTFT
  // target; a decode instance (requests arrive with their KV) the TPOT target, and its p90 wait for a decode slot
  // is within the TPOT target too (ours: a TPOT averaged over hundreds of tokens hides a growing queue of
  // requests waiting to start decoding, in a run of a few hundred requests per instance).
  r.meets = probe.lost() == 0 && probe.completed() + probe.rejected() == requests &&
            (row.role == Role::kDecode || probe.ttft_p90() <= core::to_seconds(row.cls->ttft)) &&
            (row.role == Role::kPrefill || probe.tpot_p90() <= core::to_seconds(row.cls->tpot)) &&
            (row.role != Role::kDecode ||
             (probe.has_tpot() && probe.admission_p90() <= core::to_seconds(row.cls->tpot)));
  return r;
}

// Every seed meets the SLO at this rate; the power is the mean over the seeds.
Run simulate_all(const PlanConfig& pc, const catalog::Catalog& catalog, const std::string& data_dir,
                 const RowSetup& row, double rate, int& count) {
  Run all{true, 0, 0};
  for (auto seed : pc.capacity.seeds) {
    const Run r = simulate(pc, catalog, data_dir, row, seed, rate);
    ++count;
    all.meets = all.meets && r.meets;
    all.active_w += r.active_w / static_cast<double>(pc.capacity.seeds.size());
    all.throughput += r.throughput / static_cast<double>(pc.capacity.seeds.size());
    if (!all.meets) break;
  }
  return all;
}

// The highest rate per instance meeting the row's targets for every seed: from 1 request/s it doubles (or halves,
// at most six times) to bracket the boundary, then bisects. The result's `throughput` is that rate (0: none),
// its power the mean at that rate.
Run search_rate(const PlanConfig& pc, const catalog::Catalog& catalog, const std::string& data_dir,
                const RowSetup& setup, int& n) {
  double lo_rate = 0, hi_rate = 0, watts = 0;
  double r = std::min(1.0, pc.capacity.max_rate);
  Run at = simulate_all(pc, catalog, data_dir, setup, r, n);
  if (at.meets) {
    lo_rate = r;
    watts = at.active_w;
    while (lo_rate < pc.capacity.max_rate) {
      r = std::min(2 * lo_rate, pc.capacity.max_rate);
      at = simulate_all(pc, catalog, data_dir, setup, r, n);
      if (!at.meets) {
        hi_rate = r;
        break;
      }
      lo_rate = r;
      watts = at.active_w;
    }
  } else {
    hi_rate = r;
    for (int i = 0; i < 6 && lo_rate == 0; ++i) {
      r = hi_rate / 2;
      at = simulate_all(pc, catalog, data_dir, setup, r, n);
      if (at.meets) {
        lo_rate = r;
        watts = at.active_w;
      } else {
        hi_rate = r;
      }
    }
  }
  for (int i = 0; lo_rate > 0 && hi_rate > 0 && i < pc.capacity.bisection_steps; ++i) {
    r = (lo_rate + hi_rate) / 2;
    at = simulate_all(pc, catalog, data_dir, setup, r, n);
    if (at.meets) {
      lo_rate = r;
      watts = at.active_w;
    } else {
      hi_rate = r;
    }
  }
  Run best;
  best.meets = lo_rate > 0;
  best.throughput = lo_rate;
  best.active_w = watts;
  return best;
}

// The catalog's and models' files, hashed once: a capacity depends on every coefficient.
std::string catalog_digest(const catalog::Catalog& catalog) {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"hardware_catalog", "models"}) {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(std::filesystem::path(catalog.root()) / dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  runner::Fnv1a64 h;
  for (const auto& f : files) {
    const std::string rel = std::filesystem::relative(f, catalog.root()).generic_string();
    const std::string text = text::read_file(f.string());
    h.add(rel.data(), rel.size());
    h.add_le(text.size());
    h.add(text.data(), text.size());
  }
  return h.text();
}

std::optional<CapacityEntry> read_cache(const std::string& path, CapacityEntry e) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  auto node = config::ConfigNode::open_file(path);
  e.rate = node.get_double("rate", std::nullopt, 0);
  e.active_w = node.get_double("active_w", std::nullopt, 0);
  node.note_optional("key");
  node.note_optional("row");
  node.finish();
  return e;
}

// A row's cache file: named by the hash of every input of its simulations (`key_text`); empty without a cache
// directory. Returns {key, path}.
std::pair<std::string, std::string> cache_file(const PlanConfig& pc, const std::string& key_text) {
  runner::Fnv1a64 hash;
  hash.add(key_text.data(), key_text.size());
  std::string key = hash.text();
  std::string path = pc.capacity.cache_dir.empty()
                         ? std::string()
                         : (std::filesystem::path(pc.capacity.cache_dir) / (key.substr(8) + ".yaml")).string();
  return {std::move(key), std::move(path)};
}

void write_cache(const std::string& path, std::string_view what_of, const std::string& key, const std::string& row,
                 const CapacityEntry& e) {
  text::write_file(path, fmt::format("# capacity of {} (greenfleet plan); key over every input\nkey: \"{}\"\n"
                                     "row: \"{}\"\nrate: {:.17g}\nactive_w: {:.17g}\n",
                                     what_of, key, row, e.rate, e.active_w));
}

}  // namespace

std::vector<CapacityRow> build_capacity(const PlanConfig& pc, const catalog::Catalog& catalog,
                                        const std::string& data_dir, bool rebuild,
                                        const std::function<void(const std::string&)>& progress) {
  const Problem& p = pc.problem;
  std::vector<CapacityRow> rows;
  std::map<std::tuple<std::string, std::string, int, Role>, const GivenCapacity*> given;
  for (const auto& g : pc.capacity.given) {
    // CPU entries are keyed with tensor parallelism 0 (they have none).
    const int tp = g.device == Device::kCpu ? 0 : g.tensor_parallel;
    if (!given.emplace(std::make_tuple(g.class_name, g.sku, tp, g.role), &g).second)
      throw core::InputError(
          fmt::format("{}: capacity entry for class '{}' on '{}' at tensor_parallel {} ({}) is given twice",
                      g.where, g.class_name, g.sku, g.tensor_parallel, to_string(g.role)));
  }
  std::optional<experiment::Experiment> base;
  std::string catalog_hash;
  if (!pc.capacity.experiment.empty()) {
    experiment::LoadOptions lo;
    lo.data_dir = data_dir;
    base = experiment::load_experiment(pc.capacity.experiment, catalog, lo);
    if (base->workload.source != "synthetic")
      throw core::InputError(
          fmt::format("{}: capacity.experiment must use the synthetic workload source (its "
                      "rate and request count are set by each capacity simulation)",
                      pc.file));
    if (base->deployments.size() != 1 || base->sites.empty())
      throw core::InputError(fmt::format("{}: capacity.experiment must have exactly one deployment", pc.file));
    catalog_hash = catalog_digest(catalog);
  }

  // A deployment of the base experiment as a flow mapping, renamed (decode rows run two copies of it).
  const auto deployment_yaml = [&](const std::string& name, const std::string& model, int tp,
                                   const std::string& decode) {
    YAML::Node d = YAML::Clone(YAML::LoadFile(pc.capacity.experiment)["deployments"][0]);
    d["name"] = name;
    d["model"] = model;
    d["tensor_parallel"] = tp;
    d.remove("modes");
    if (!decode.empty()) d["modes"]["disaggregated"]["decode"] = decode;
    YAML::Emitter out;
    out.SetMapFormat(YAML::Flow);
    out.SetSeqFormat(YAML::Flow);
    out << d;
    return std::string(out.c_str());
  };

  // A CPU row (EcoServe's Reuse; docs/PLANNING.md, "CPU instances"): one CPU instance of the type's
  // `cpu_instances` serving an offline class, given or simulated as a backlog on the host of one server of the
  // type (its GPUs idle on a deployment of their own). Its power is the CPU model's busy power of its threads.
  const auto cpu_row = [&](int w, int h) {
    const WorkloadClass& c = p.classes[static_cast<std::size_t>(w)];
    const ServerType& ty = p.types[static_cast<std::size_t>(h)];
    const auto& sku = catalog.server(ty.sku);
    CapacityRow row;
    row.entry.class_index = w;
    row.entry.type_index = h;
    row.entry.gpus = 0;
    row.entry.device = Device::kCpu;
    row.entry.cores = ty.cpu.cores_each;
    row.entry.dram_gb = ty.cpu.dram_gb_each;
    const std::string what = fmt::format("{} on {} cpu{}", c.name, ty.sku, ty.cpu.cores_each);
    const std::string coefficients = catalog::cpu_coefficients_path(catalog.root(), sku.cpu, c.model);
    const bool modelled = std::filesystem::exists(coefficients);
    const double busy_w =
        modelled ? catalog::load_cpu_coefficients(coefficients).power_per_thread_w * ty.cpu.cores_each : 0.0;
    if (auto it = given.find({c.name, ty.sku, 0, Role::kUnified}); it != given.end()) {
      row.entry.rate = it->second->rate;
      row.entry.active_w = it->second->active_w >= 0 ? it->second->active_w : busy_w;
      row.source = "given";
      if (row.entry.rate > 0) rows.push_back(row);
      return;
    }
    // No CPU model for the class's model on this CPU (docs/CPU_MODEL.md): no entry.
    if (!base || !modelled) return;
    RowSetup setup;
    setup.cls = &c;
    setup.sku = ty.sku;
    setup.instances = 1;
    const std::string& dname = base->deployments[0].name;
    const std::string cpu_name = dname + "-cpu";
    YAML::Node d = YAML::Clone(YAML::LoadFile(pc.capacity.experiment)["deployments"][0]);
    d["name"] = cpu_name;
    d["model"] = c.model;
    d["tensor_parallel"] = 1;
    d.remove("modes");
    d["scheduler"]["max_num_seqs"] = ty.cpu.max_num_seqs;
    YAML::Emitter out;
    out.SetMapFormat(YAML::Flow);
    out.SetSeqFormat(YAML::Flow);
    out << d;
    // The GPUs idle on the base deployment at the SKU's full tensor parallelism (so that any model fits).
    setup.overrides = {
        fmt::format("deployments=[{}, {}]", deployment_yaml(dname, c.model, ty.gpus, ""), out.c_str()),
        fmt::format("fleet=[{{site: {}, sku: {}, count: 1, deployment: {}, cpu_instances: {{count: 1, cores_each: "
                    "{}, reserved_cores: {}, dram_gb_each: {:.17g}, amx_speedup: {:.17g}, deployment: {}}}}}]",
                    base->sites[0].name, ty.sku, dname, ty.cpu.cores_each, ty.cpu.reserved_cores,
                    ty.cpu.dram_gb_each, ty.cpu.amx_speedup, cpu_name),
        fmt::format("workload.deployment={}", cpu_name),
        "workload.synthetic.arrivals=poisson",
    };
    for (const auto& o : pc.simulate[static_cast<std::size_t>(w)].set) setup.overrides.push_back(o);
    setup.requests_per_instance = pc.capacity.requests_per_instance;
    setup.warmup_per_instance = pc.capacity.warmup_per_instance;
    experiment::LoadOptions lo;
    lo.overrides = setup.overrides;
    lo.data_dir = data_dir;
    const experiment::Experiment variant = load_row(pc, catalog, pc.simulate[static_cast<std::size_t>(w)], lo);
    const std::string key_text =
        fmt::format("greenfleet {}\ncatalog {}\nclass {} offline cpu\nrequests {} max {}\nseeds {}\n{}",
                    core::kGitRevision, catalog_hash, c.name, setup.requests_per_instance, pc.capacity.max_rate,
                    fmt::join(pc.capacity.seeds, ","), variant.resolved_yaml);
    const auto [key, cache_path] = cache_file(pc, key_text);
    if (!rebuild && !cache_path.empty())
      if (auto cached = read_cache(cache_path, row.entry)) {
        row.entry = *cached;
        row.source = "cached";
        if (row.entry.rate > 0) rows.push_back(row);
        if (progress) progress(fmt::format("{}: {:.4g} req/s (cached)", what, row.entry.rate));
        return;
      }
    row.source = "simulated";
    double rate = 0;
    for (auto seed : pc.capacity.seeds) {
      const Run r = simulate(pc, catalog, data_dir, setup, seed, pc.capacity.max_rate);
      ++row.simulations;
      rate += r.throughput / static_cast<double>(pc.capacity.seeds.size());
    }
    row.entry.rate = rate;
    row.entry.active_w = busy_w;
    if (!cache_path.empty()) write_cache(cache_path, "one CPU instance", key, what, row.entry);
    if (progress)
      progress(fmt::format("{}: {:.4g} req/s per CPU instance, {:.0f} W busy ({} simulations)", what,
                           row.entry.rate, row.entry.active_w, row.simulations));
    if (row.entry.rate > 0) rows.push_back(row);
  };

  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const WorkloadClass& c = p.classes[w];
    std::vector<Role> roles;
    if (c.split != Split::kOnly) roles.push_back(Role::kUnified);
    if (c.split != Split::kNever) {
      roles.push_back(Role::kPrefill);  // every prefill row before the decode rows: they size the prefill pool
      roles.push_back(Role::kDecode);
    }
    // The prefill pool of the decode rows: the simulated prefill row with the most capacity per server.
    struct Pool {
      int type = -1, tp = 1;
      double rate_per_server = 0;
    } pool;
    for (const Role role : roles)
      for (std::size_t h = 0; h < p.types.size(); ++h) {
        const ServerType& ty = p.types[h];
        // Another host configuration of a SKU already measured: the host does not change what its GPUs serve.
        const auto twin = std::find_if(p.types.begin(), p.types.begin() + static_cast<std::ptrdiff_t>(h),
                                       [&](const ServerType& o) { return o.sku == ty.sku; });
        if (twin != p.types.begin() + static_cast<std::ptrdiff_t>(h)) {
          const int from = static_cast<int>(twin - p.types.begin());
          for (std::size_t i = 0, n = rows.size(); i < n; ++i)
            if (rows[i].entry.class_index == static_cast<int>(w) && rows[i].entry.type_index == from &&
                rows[i].entry.role == role) {
              CapacityRow copy = rows[i];
              copy.entry.type_index = static_cast<int>(h);
              copy.simulations = 0;
              rows.push_back(copy);
            }
          continue;
        }
        std::vector<int> tps = pc.simulate[w].tensor_parallel;
        for (const auto& g : pc.capacity.given)
          if (g.class_name == c.name && g.sku == ty.sku && g.role == role && g.device == Device::kGpu &&
              std::find(tps.begin(), tps.end(), g.tensor_parallel) == tps.end())
            tps.push_back(g.tensor_parallel);
        for (int tp : tps) {
          CapacityRow row;
          row.entry.class_index = static_cast<int>(w);
          row.entry.type_index = static_cast<int>(h);
          row.entry.gpus = tp;
          row.entry.role = role;
          const std::string what = fmt::format("{} on {} tp{}{}", c.name, ty.sku, tp,
                                               role == Role::kUnified ? "" : fmt::format(" {}", to_string(role)));
          if (auto it = given.find({c.name, ty.sku, tp, role}); it != given.end()) {
            const auto& gpu = catalog.gpu(ty.gpu);
            row.entry.rate = it->second->rate;
            row.entry.active_w = it->second->active_w >= 0
                                     ? it->second->active_w
                                     : tp * std::max(0.0, gpu.power.decode_w - gpu.power.idle_w);
            row.source = "given";
            rows.push_back(row);
            continue;
          }
          if (!base || ty.gpus % tp != 0) continue;
          if (role == Role::kDecode && pool.type < 0) continue;  // nothing can prefill for it
          // The model must fit with room for KV (the experiment loader's rule); otherwise no entry.
          experiment::DeploymentConfig dep = base->deployments[0];
          dep.tensor_parallel = tp;
          const auto& model = catalog.model(c.model);
          if (experiment::kv_cache_bytes(dep, catalog.gpu(ty.gpu), model) <
              model.kv_bytes_per_token() * dep.scheduler.kv_block_size * 64)
            continue;
          RowSetup setup;
          setup.cls = &c;
          setup.sku = ty.sku;
          setup.instances = ty.gpus / tp;
          setup.role = role;
          const std::string& dname = base->deployments[0].name;
          const std::string& site = base->sites[0].name;
          std::string pool_text;
          if (role != Role::kDecode) {
            setup.overrides = {
                fmt::format("fleet=[{{site: {}, sku: {}, count: 1, deployment: {}}}]", site, ty.sku, dname),
                fmt::format("deployments.0.model={}", c.model),
                fmt::format("deployments.0.tensor_parallel={}", tp),
                "workload.synthetic.arrivals=poisson",
            };
            for (const auto& o : pc.simulate[w].set) setup.overrides.push_back(o);
            // Prefill: every request leaves after its first token, judged on TTFT alone.
            if (role == Role::kPrefill)
              setup.overrides.push_back("workload.synthetic.output_tokens={distribution: constant, value: 1}");
          } else {
            // Decode: the server under test (fleet[0], deployment 0) decodes every request a prefill pool
            // (fleet[1], deployment 1, sized per simulation) splits off to it, its KV over the site's network.
            const std::string pool_name = dname + "-prefill";
            setup.pool_rate_per_server = pool.rate_per_server;
            setup.headroom = pc.capacity.prefill_headroom;
            setup.overrides = {
                fmt::format("deployments=[{}, {}]", deployment_yaml(dname, c.model, tp, ""),
                            deployment_yaml(pool_name, c.model, pool.tp, dname)),
                fmt::format(
                    "fleet=[{{site: {}, sku: {}, count: 1, deployment: {}}}, {{site: {}, sku: {}, count: 1, "
                    "deployment: {}}}]",
                    site, ty.sku, dname, site, p.types[static_cast<std::size_t>(pool.type)].sku, pool_name),
                fmt::format("workload.deployment={}", pool_name),
                "mode_router.name=always_disaggregated",
                "mode_router.params={}",
                "workload.synthetic.arrivals=poisson",
            };
            if (!base->network) setup.overrides.push_back("network.tor_switch=greensku-rack");
            for (const auto& o : pc.simulate[w].set) setup.overrides.push_back(o);
            pool_text = fmt::format("prefill pool {} tp{} {:.17g} req/s per server, headroom {:.17g}",
                                    p.types[static_cast<std::size_t>(pool.type)].sku, pool.tp,
                                    pool.rate_per_server, setup.headroom);
          }

          // The cache key: every input of every simulation of this row.
          experiment::LoadOptions lo;
          lo.overrides = setup.overrides;
          lo.data_dir = data_dir;
          const experiment::Experiment variant = load_row(pc, catalog, pc.simulate[w], lo);
          const std::string& resolved = variant.resolved_yaml;
          setup.requests_per_instance = pc.capacity.requests_per_instance;
          setup.warmup_per_instance = pc.capacity.warmup_per_instance;
          if (role == Role::kDecode) {
            const std::int64_t seqs = variant.deployments[0].scheduler.max_num_seqs;
            setup.requests_per_instance = std::max(setup.requests_per_instance, 4 * seqs);
            setup.warmup_per_instance = std::max(setup.warmup_per_instance, seqs);
          }
          const std::string key_text = fmt::format(
              "greenfleet {}\ncatalog {}\nclass {} online {} ttft {} tpot {}\nrequests {} warmup {} steps {} max "
              "{}\n"
              "seeds {}\n{}{}",
              core::kGitRevision, catalog_hash, c.name, c.online, c.ttft, c.tpot, setup.requests_per_instance,
              setup.warmup_per_instance, pc.capacity.bisection_steps, pc.capacity.max_rate,
              fmt::join(pc.capacity.seeds, ","), resolved,
              role == Role::kUnified ? "" : fmt::format("role {}\n{}\n", to_string(role), pool_text));
          const auto [key, cache_path] = cache_file(pc, key_text);
          const auto note_pool = [&] {
            if (role == Role::kPrefill && row.entry.rate * setup.instances > pool.rate_per_server)
              pool = {static_cast<int>(h), tp, row.entry.rate * setup.instances};
          };
          if (!rebuild && !cache_path.empty())
            if (auto cached = read_cache(cache_path, row.entry)) {
              row.entry = *cached;
              row.source = "cached";
              if (row.entry.rate > 0) rows.push_back(row);
              note_pool();
              if (progress) progress(fmt::format("{}: {:.4g} req/s (cached)", what, row.entry.rate));
              continue;
            }

          row.source = "simulated";
          if (!c.online) {
            // Offline: a backlog (requests arriving at capacity.max_rate per instance), the steady throughput.
            int n = 0;
            double rate = 0, watts = 0;
            for (auto seed : pc.capacity.seeds) {
              const Run r = simulate(pc, catalog, data_dir, setup, seed, pc.capacity.max_rate);
              ++n;
              rate += r.throughput / static_cast<double>(pc.capacity.seeds.size());
              watts += r.active_w / static_cast<double>(pc.capacity.seeds.size());
            }
            row.simulations = n;
            row.entry.rate = rate;
            row.entry.active_w = watts;
          } else {
            const Run best = search_rate(pc, catalog, data_dir, setup, row.simulations);
            row.entry.rate = best.throughput;
            row.entry.active_w = best.active_w;
          }
          note_pool();
          if (!cache_path.empty()) write_cache(cache_path, "one instance", key, what, row.entry);
          if (progress)
            progress(fmt::format("{}: {:.4g} req/s per instance, {:.0f} W above idle ({} simulations)", what,
                                 row.entry.rate, row.entry.active_w, row.simulations));
          if (row.entry.rate > 0) rows.push_back(row);
        }
      }
    if (!c.online)
      for (std::size_t h = 0; h < p.types.size(); ++h)
        if (p.types[h].cpu.cores_each > 0) cpu_row(static_cast<int>(w), static_cast<int>(h));
  }
  return rows;
}

}  // namespace greenfleet::planning
