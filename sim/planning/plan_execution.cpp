#include "sim/planning/plan_execution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "sim/catalog/coefficient_files.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"

namespace greenfleet::planning {

using config::ConfigNode;

namespace {

struct PlanInstances {
  std::string class_name;
  std::string sku;
  int tensor_parallel = 1;
  std::vector<double> per_slot;
  std::string where;
  bool decode = false;  // decode instances of a class served disaggregated (prefill ones run on its deployment)
  bool cpu = false;     // CPU instances on the type's host cores (EcoServe's Reuse, offline classes)
  std::string host = "default";
  double rate = 0;       // requests/s of one instance (the plan's capacity entry)
  std::size_t type = 0;  // the plan's server type (SKU and host) it runs on
};

// A server type's CPU instances as the plan file's server_types describe them (cores_each 0: none).
struct CpuOffer {
  int cores_each = 0, reserved_cores = 16;
  double dram_gb_each = 64, amx_speedup = 3.67;
  int max_num_seqs = 32;
  std::map<std::string, double> dram_gb;  // per host configuration: the DRAM beside the GPU serving stack's
  std::string where;
};

std::vector<int> int_list(ConfigNode& n, const std::string& key, int size) {
  const auto values = n.get_double_list(key, std::nullopt, 0, 1e9);
  if (static_cast<int>(values.size()) != size)
    n.fail(key, fmt::format("{} values for {} slots", values.size(), size));
  std::vector<int> out;
  for (double v : values) {
    if (v != std::floor(v)) n.fail(key, fmt::format("{} is not a whole number of servers", v));
    out.push_back(static_cast<int>(v));
  }
  return out;
}

}  // namespace

PlanExecution apply_plan(experiment::Experiment& x, const catalog::Catalog& catalog, const std::string& plan_file,
                         const std::string& objective) {
  ConfigNode root = ConfigNode::open_file(plan_file);
  PlanExecution out;
  out.file = plan_file;
  out.slots = static_cast<int>(root.get_int("slots", std::nullopt, 1, 1000000));
  out.slot = root.get_duration("slot_s", std::nullopt, 60 * core::kSecond);
  if (x.fleet.empty())
    throw core::InputError(
        fmt::format("{}: fleet: empty; --plan needs fleet[0] as the "
                    "template of the plan's servers",
                    x.file));
  const experiment::FleetEntry tmpl = x.fleet.front();
  // A plan places whole-request, prefill and decode instances; it has no draft pools to place.
  for (const auto& d : x.deployments)
    if (!d.speculative_draft.empty())
      throw core::InputError(
          fmt::format("{}: deployment '{}' lets its requests run speculatively; --plan cannot "
                      "place its draft pool (the plan replaces the fleet): drop "
                      "modes.speculative to run a plan",
                      d.speculative_where, d.name));

  // Server types: each must be in the catalog.
  std::map<std::string, int> gpus_of;
  std::map<std::string, CpuOffer> cpu_offer;
  for (auto& t : root.child_list("server_types")) {
    const std::string sku = t.get_string("sku");
    if (!catalog.servers().count(sku))
      t.fail("sku", fmt::format("server type '{}' is not in hardware_catalog/servers.yaml", sku));
    gpus_of[sku] = catalog.server(sku).gpu_count;
    if (t.has("cpu_instances")) {
      ConfigNode c = t.child("cpu_instances");
      CpuOffer& o = cpu_offer[sku];
      o.where = c.where("cores_each");
      o.cores_each = static_cast<int>(c.get_int("cores_each", std::nullopt, 1, 100000));
      o.reserved_cores = static_cast<int>(c.get_int("reserved_cores", std::nullopt, 0, 100000));
      o.dram_gb_each = c.get_double("dram_gb_each", std::nullopt, 0.001, 1e7);
      o.amx_speedup = c.get_double("amx_speedup", std::nullopt, 1, 100);
      o.max_num_seqs = static_cast<int>(c.get_int("max_num_seqs", 32, 1, 100000));
      // Plans written before host menus offered CPU instances have no dram_gb: the SKU's whole DRAM.
      o.dram_gb[t.get_choice("host", {"default", "reduced"}, std::string("default"))] =
          c.get_double("dram_gb", catalog.server(sku).dram_gb, 0, 1e7);
      c.note_optional("host_cores");  // written for the reader; the catalog's cores are used
      c.finish();
    }
  }

  // Classes: each must be a workload class of the experiment.
  std::map<std::string, std::size_t> class_index;
  std::vector<std::string> class_where;  // "file:line:col: classes[i].name", for messages about a class
  for (auto& c : root.child_list("classes")) {
    PlannedClass pc;
    class_where.push_back(c.where("name"));
    pc.name = c.get_string("name");
    if (class_index.count(pc.name)) c.fail("name", fmt::format("class '{}' is listed twice in the plan", pc.name));
    pc.online = c.get_bool("online");
    if (x.workload.classes.empty()) {
      if (!out.classes.empty())
        c.fail("name",
               fmt::format("the plan has several classes but experiment {} has no workload.classes", x.file));
      pc.deployment = x.workload.deployment;
    } else {
      const auto it = std::find_if(x.workload.classes.begin(), x.workload.classes.end(),
                                   [&](const auto& wc) { return wc.name == pc.name; });
      if (it == x.workload.classes.end())
        c.fail("name", fmt::format("class '{}' is not a workload class of experiment {}: was the plan made for "
                                   "another experiment?",
                                   pc.name, x.file));
      pc.experiment_class = static_cast<int>(it - x.workload.classes.begin());
      pc.deployment = it->deployment;
    }
    const std::string model = c.get_string("model");
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == pc.deployment; });
    if (dep.model != model)
      c.fail("model", fmt::format("the plan serves class '{}' with model '{}', its deployment '{}' runs '{}'",
                                  pc.name, model, dep.name, dep.model));
    if (pc.online) {
      pc.ttft_s = c.get_double("ttft_s", std::nullopt, 1e-3, 1e6);  // at least 1 ms, as in the planning file
      pc.tpot_s = c.get_double("tpot_s", std::nullopt, 1e-3, 1e6);
      const auto rate = c.get_double_list("rate", std::nullopt, 0);
      for (double r : rate) pc.mean_rate += r / static_cast<double>(std::max<std::size_t>(1, rate.size()));
    } else {
      for (auto& b : c.child_list("batches", false))
        pc.requests += b.get_double("requests", std::nullopt, 0, 1e12);
    }
    class_index[pc.name] = out.classes.size();
    out.classes.push_back(pc);
  }

  for (std::size_t i = 0; i < x.workload.classes.size(); ++i)
    if (!class_index.count(x.workload.classes[i].name))
      throw core::InputError(fmt::format(
          "{}: workload.classes[{}].name: class '{}' is not in plan {}: its requests would have no servers; was "
          "the plan made for another experiment?",
          x.file, i, x.workload.classes[i].name, plan_file));

  // Capacity entries' rates, by (class, sku, tensor parallelism, role, device, host): the proportions of a class
  // split between CPU instances and GPUs.
  std::map<std::string, double> rate_of;
  const auto entry_key = [](ConfigNode& n) {
    return fmt::format("{}|{}|{}|{}|{}|{}", n.get_string("class"), n.get_string("sku"),
                       n.get_int("tensor_parallel", 1, 0, 64), n.get_string("role", std::string("unified")),
                       n.get_string("device", std::string("gpu")), n.get_string("host", std::string("default")));
  };
  for (auto& c : root.child_list("capacity", false)) rate_of[entry_key(c)] = c.get_double("rate", std::nullopt, 0);

  // The chosen plan.
  std::vector<ConfigNode> plans = root.child_list("plans");
  ConfigNode* chosen = nullptr;
  std::vector<std::string> names;
  for (auto& p : plans) {
    names.push_back(p.get_string("objective"));
    if (std::count(names.begin(), names.end(), names.back()) > 1)
      p.fail("objective",
             fmt::format("a second plan for objective '{}'; --plan-objective could not tell them apart",
                         names.back()));
    if (!chosen && (objective.empty() || names.back() == objective)) chosen = &p;
  }
  if (!chosen)
    root.fail("plans",
              fmt::format("no plan for objective '{}' (the file has: {})", objective, fmt::join(names, ", ")));
  ConfigNode& plan = *chosen;
  out.objective = plan.get_string("objective");
  std::vector<std::string> host_of, host_where;  // per server type
  for (auto& s : plan.child_list("servers")) {
    const std::string sku = s.get_string("sku");
    if (!gpus_of.count(sku))
      s.fail("sku", fmt::format("server type '{}' is not among the plan's server_types", sku));
    // The host the plan bought: the SKU's default, or the Reduce rule's least host for what runs on it.
    host_of.push_back(s.get_choice("host", {"default", "reduced"}, std::string("default")));
    host_where.push_back(s.where("host"));
    for (std::size_t k = 0; k < out.skus.size(); ++k)
      if (out.skus[k] == sku && host_of[k] == host_of.back())
        s.fail("sku", fmt::format("server type '{}' ({} host) is listed twice in this plan", sku, host_of.back()));
    out.skus.push_back(sku);
    out.bought.push_back(static_cast<int>(s.get_int("bought", std::nullopt, 0, 1000000)));
    out.planned.push_back(int_list(s, "on", out.slots));
    for (int v : out.planned.back())
      if (v > out.bought.back())
        s.fail("on", fmt::format("{} servers on, more than the {} bought", v, out.bought.back()));
    s.finish();  // a misspelled key (`hots: reduced`) is an error, not a default host
  }
  std::vector<PlanInstances> instances;
  for (auto& i : plan.child_list("instances", false)) {
    PlanInstances pi;
    pi.where = i.where("class");
    pi.class_name = i.get_string("class");
    if (!class_index.count(pi.class_name))
      i.fail("class", fmt::format("class '{}' is not among the plan's classes", pi.class_name));
    pi.sku = i.get_string("sku");
    if (std::find(out.skus.begin(), out.skus.end(), pi.sku) == out.skus.end())
      i.fail("sku", fmt::format("server type '{}' has no servers bought in this plan", pi.sku));
    pi.cpu = i.get_choice("device", {"gpu", "cpu"}, std::string("gpu")) == "cpu";
    pi.host = i.get_choice("host", {"default", "reduced"}, std::string("default"));
    if (const auto r = rate_of.find(entry_key(i)); r != rate_of.end()) pi.rate = r->second;
    pi.per_slot = i.get_double_list("per_slot", std::nullopt, 0);
    if (static_cast<int>(pi.per_slot.size()) != out.slots)
      i.fail("per_slot", fmt::format("{} values for {} slots", pi.per_slot.size(), out.slots));
    // Instances need servers on: the servers bought of the row's type (of its host, where the row names one) and
    // on in each slot.
    // A row without `host` is on the default host (the plan writer omits it there); plans written before host
    // menus may name only a reduced type of the SKU, so such a row falls back to the SKU's one type.
    const auto type_of = [&](const std::string& host) {
      std::size_t k = 0;
      while (k < out.skus.size() && !(out.skus[k] == pi.sku && (host.empty() || host_of[k] == host))) ++k;
      return k;
    };
    std::size_t type = type_of(pi.host);
    if (type == out.skus.size() && !i.has("host")) type = type_of("");
    const std::string host = pi.host;
    if (type == out.skus.size())
      i.fail("host", fmt::format("server type '{}' ({} host) has no servers bought in this plan", pi.sku, host));
    for (int t = 0; t < out.slots; ++t)
      if (pi.per_slot[static_cast<std::size_t>(t)] > 1e-6 && out.planned[type][static_cast<std::size_t>(t)] == 0)
        i.fail("per_slot",
               fmt::format("{:g} instances in slot {} on server type '{}', which has no server on then",
                           pi.per_slot[static_cast<std::size_t>(t)], t, pi.sku));
    pi.type = type;
    if (pi.cpu) {  // CPU instances: checked against the type's offer below, once the deployments are grouped
      if (!cpu_offer.count(pi.sku))
        i.fail("device", fmt::format("server type '{}' has no cpu_instances in the plan's server_types", pi.sku));
      if (out.classes[class_index[pi.class_name]].online)
        i.fail("device", fmt::format("class '{}' is online: CPU instances serve offline classes", pi.class_name));
      for (const char* k : {"tensor_parallel", "role", "cores", "dram_gb"})
        i.note_optional(k);  // the type's offer
      i.finish();
      instances.push_back(std::move(pi));
      continue;
    }
    pi.tensor_parallel = static_cast<int>(i.get_int("tensor_parallel", 1, 1, 64));
    // Instances in a role: prefill instances run on the class's deployment like unified ones; decode instances on
    // its decode pool (`modes.disaggregated.decode`), which the experiment must name (docs/PLANNING.md, "Roles").
    const std::string role = i.get_choice("role", {"unified", "prefill", "decode"}, std::string("unified"));
    const auto& pc = out.classes[class_index[pi.class_name]];
    const auto dep_of = [&](const std::string& name) {
      return std::find_if(x.deployments.begin(), x.deployments.end(),
                          [&](const auto& d) { return d.name == name; });
    };
    pi.decode = role == "decode";
    if (pi.decode && dep_of(pc.deployment)->disaggregated_decode.empty())
      i.fail("role", fmt::format("the plan decodes class '{}' on instances of their own, but its deployment '{}' "
                                 "names no decode pool: add deployments[].modes.disaggregated.decode to {}",
                                 pi.class_name, pc.deployment, x.file));
    const auto& dep = *dep_of(pi.decode ? dep_of(pc.deployment)->disaggregated_decode : pc.deployment);
    if (dep.tensor_parallel != pi.tensor_parallel)
      i.fail("tensor_parallel",
             fmt::format("the plan runs class '{}' at tensor parallelism {}, its deployment '{}' at {}",
                         pi.class_name, pi.tensor_parallel, dep.name, dep.tensor_parallel));
    i.finish();  // a misspelled key (`rol: decode`) is an error, not a unified instance
    instances.push_back(std::move(pi));
  }

  // Classes that the plan puts on a common server type share its servers, so they share a deployment: the
  // classes are grouped by the types they use (connected components), and each group runs on the deployment of
  // its first class, which must match the others' model and tensor parallelism.
  std::vector<std::size_t> group(out.classes.size());
  for (std::size_t c = 0; c < group.size(); ++c) group[c] = c;
  const auto find = [&](std::size_t c) {
    while (group[c] != c) c = group[c] = group[group[c]];
    return c;
  };
  std::vector<int> type_class(out.skus.size(), -1);   // a class placed on the type (unified or prefill), or -1
  std::vector<int> type_decode(out.skus.size(), -1);  // a class whose decode instances the type runs, or -1
  std::vector<std::string> type_where(out.skus.size());
  for (const auto& pi : instances) {
    if (pi.cpu || std::all_of(pi.per_slot.begin(), pi.per_slot.end(), [](double v) { return v <= 0; })) continue;
    const std::size_t h = pi.type;
    const std::size_t c = class_index[pi.class_name];
    if ((pi.decode ? type_class : type_decode)[h] >= 0)
      throw core::InputError(fmt::format(
          "{}: the plan runs decode instances and other instances on server type '{}'; a simulated server holds "
          "one deployment, so --plan cannot execute it (the other entry: {})",
          pi.where, pi.sku, type_where[h]));
    type_where[h] = pi.where;
    if (pi.decode) {
      type_decode[h] = static_cast<int>(c);
      continue;
    }
    if (type_class[h] < 0) {
      type_class[h] = static_cast<int>(c);
    } else {
      const std::size_t a = find(static_cast<std::size_t>(type_class[h])), b = find(c);
      if (a != b) group[std::max(a, b)] = std::min(a, b);  // the first class of a group is its root
    }
  }
  for (std::size_t c = 0; c < out.classes.size(); ++c) {
    auto& pc = out.classes[c];
    const auto& root_class = out.classes[find(c)];
    if (root_class.deployment == pc.deployment) continue;
    const auto dep_of = [&](const std::string& name) {
      return *std::find_if(x.deployments.begin(), x.deployments.end(),
                           [&](const auto& d) { return d.name == name; });
    };
    const auto& mine = dep_of(pc.deployment);
    const auto& shared = dep_of(root_class.deployment);
    if (mine.model != shared.model || mine.tensor_parallel != shared.tensor_parallel)
      throw core::InputError(
          fmt::format("{}: the plan puts classes '{}' and '{}' on the same servers, but their deployments '{}' "
                      "and '{}' differ "
                      "in model or tensor parallelism",
                      plan_file, root_class.name, pc.name, shared.name, mine.name));
    pc.deployment = root_class.deployment;
    if (!x.workload.classes.empty())
      x.workload.classes[static_cast<std::size_t>(pc.experiment_class)].deployment = pc.deployment;
  }

  // Every server bought, each its own fleet entry with the slots the plan keeps it on: server k of a type is on
  // in slot t when k < the plan's servers on, so the lowest-numbered servers are the most used.
  x.fleet.clear();
  out.built.assign(out.skus.size(), 0);
  // A type that runs decode instances serves its class's decode pool; the pools of classes sharing it must agree.
  std::vector<std::string> decode_pool(out.skus.size());
  for (std::size_t h = 0; h < out.skus.size(); ++h) {
    if (type_decode[h] < 0) continue;
    const std::string& front = out.classes[find(static_cast<std::size_t>(type_decode[h]))].deployment;
    decode_pool[h] = std::find_if(x.deployments.begin(), x.deployments.end(), [&](const auto& d) {
                       return d.name == front;
                     })->disaggregated_decode;
  }
  for (const auto& pi : instances) {
    if (!pi.decode || pi.cpu) continue;
    const std::size_t h = pi.type;
    const std::string& front = out.classes[find(class_index[pi.class_name])].deployment;
    const std::string& mine = std::find_if(x.deployments.begin(), x.deployments.end(), [&](const auto& d) {
                                return d.name == front;
                              })->disaggregated_decode;
    if (!decode_pool[h].empty() && mine != decode_pool[h])
      throw core::InputError(
          fmt::format("{}: classes decode on server type '{}' in different decode pools ('{}', "
                      "'{}'); a simulated server holds one deployment",
                      pi.where, pi.sku, decode_pool[h], mine));
  }
  // Offline classes with both CPU and GPU instances (split): their CPU instances serve a deployment of their own,
  // `CLASS@cpu`, a copy of the class's deployment with the plan's CPU max_num_seqs, and the class's requests are
  // sent to it in the proportion of the planned capacity, planned requests/s x instances summed over the slots
  // (one share over the horizon; runner::Simulation picks the requests deterministically, in arrival order).
  {
    std::vector<double> cpu_cap(out.classes.size()), gpu_cap(out.classes.size());
    std::vector<int> cpu_rows(out.classes.size()), gpu_rows(out.classes.size());
    std::vector<std::string> unrated(out.classes.size());  // a row whose rate the plan's capacity lacks
    for (const auto& pi : instances) {
      double sum = 0;
      for (double v : pi.per_slot) sum += v;
      if (sum <= 0) continue;
      const std::size_t c = class_index[pi.class_name];
      ++(pi.cpu ? cpu_rows : gpu_rows)[c];
      if (pi.rate <= 0) unrated[c] = pi.where;
      (pi.cpu ? cpu_cap : gpu_cap)[c] += pi.rate * sum;
    }
    for (std::size_t c = 0; c < out.classes.size(); ++c) {
      auto& pc = out.classes[c];
      if (pc.online || cpu_rows[c] == 0 || gpu_rows[c] == 0) continue;
      if (!unrated[c].empty())
        throw core::InputError(
            fmt::format("{}: no capacity entry of the plan gives this row's rate (needed to "
                        "split class '{}' between CPU instances and GPUs)",
                        unrated[c], pc.name));
      if (x.workload.classes.empty())
        throw core::InputError(fmt::format(
            "{}: the plan splits class '{}' between CPU instances and GPUs; experiment {} needs workload.classes "
            "to route it",
            class_where[c], pc.name, x.file));
      pc.cpu_share = cpu_cap[c] / (cpu_cap[c] + gpu_cap[c]);
      pc.cpu_deployment = pc.name + "@cpu";
      auto copy = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                [&](const auto& d) { return d.name == pc.deployment; });
      if (std::any_of(x.deployments.begin(), x.deployments.end(),
                      [&](const auto& d) { return d.name == pc.cpu_deployment; }))
        throw core::InputError(fmt::format(
            "{}: the plan splits class '{}' between CPU instances and GPUs, and --plan names the "
            "CPU instances' deployment '{}', but experiment {} already has a deployment of that name: rename it",
            class_where[c], pc.name, pc.cpu_deployment, x.file));
      copy.name = pc.cpu_deployment;
      copy.disaggregated_decode.clear();  // CPU instances serve whole requests
      for (const auto& pi : instances)
        if (pi.cpu && pi.class_name == pc.name) copy.scheduler.max_num_seqs = cpu_offer[pi.sku].max_num_seqs;
      x.deployments.push_back(std::move(copy));
      auto& wc = x.workload.classes[static_cast<std::size_t>(pc.experiment_class)];
      wc.cpu_deployment = pc.cpu_deployment;
      wc.cpu_share = pc.cpu_share;
    }
  }

  // CPU instances (EcoServe's Reuse): each server of a type gets as many as the plan's busiest slot needs per
  // server on, serving the offline class's deployment, which no online class may share (its requests would reach
  // the CPU instances), or for a split class its CPU deployment.
  std::vector<experiment::CpuInstancesConfig> cpu_of(out.skus.size());
  std::vector<std::string> cpu_where(out.skus.size());
  for (const auto& pi : instances) {
    if (!pi.cpu) continue;
    const std::size_t h = pi.type;
    const auto& pc = out.classes[class_index[pi.class_name]];
    const std::string& cpu_deployment = pc.cpu_deployment.empty() ? pc.deployment : pc.cpu_deployment;
    for (const auto& other : out.classes)
      if (other.online && other.deployment == cpu_deployment)
        throw core::InputError(fmt::format(
            "{}: the plan runs offline class '{}' on CPU instances, but its deployment '{}' also serves online "
            "class '{}' (the plan puts them on common servers, or the experiment gives them one deployment): "
            "online requests would reach the CPU instances; give the offline class GPU servers of its own or a "
            "deployment of its own",
            pi.where, pc.name, pc.deployment, other.name));
    auto& cfg = cpu_of[h];
    if (cfg.count > 0 && cfg.deployment != cpu_deployment)
      throw core::InputError(
          fmt::format("{}: CPU instances on server type '{}' for deployments '{}' and '{}'; a "
                      "server's CPU instances serve one deployment (the other entry: {})",
                      pi.where, pi.sku, cfg.deployment, cpu_deployment, cpu_where[h]));
    cpu_where[h] = pi.where;
    const CpuOffer& offer = cpu_offer[pi.sku];
    const auto& sku = catalog.server(pi.sku);
    const auto& cpu = catalog.cpu(sku.cpu);
    const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [&](const auto& d) { return d.name == cpu_deployment; });
    if (dep.has_modes())
      throw core::InputError(
          fmt::format("{}: deployment '{}' of offline class '{}' has modes, which CPU "
                      "instances cannot serve",
                      pi.where, dep.name, pc.name));
    cfg.deployment = cpu_deployment;
    cfg.cores_each = offer.cores_each;
    cfg.reserved_cores = offer.reserved_cores;
    cfg.dram_gb_each = offer.dram_gb_each;
    cfg.amx_speedup = offer.amx_speedup;
    cfg.interference_slowdown = tmpl.cpu.count > 0 ? tmpl.cpu.interference_slowdown : cfg.interference_slowdown;
    cfg.host_cores = sku.cpu_sockets * cpu.cores;
    const std::string file = catalog::cpu_coefficients_path(catalog.root(), cpu.id, dep.model);
    if (!std::filesystem::exists(file))
      throw core::InputError(fmt::format("{}: no CPU model for '{}' on {} ({}; docs/CPU_MODEL.md)", pi.where,
                                         dep.model, cpu.id, file));
    cfg.coefficients = catalog::load_cpu_coefficients(file);
    const auto& model = catalog.model(dep.model);
    cfg.kv_bytes = cfg.dram_gb_each * 1e9 - model.parameters() * cfg.weight_bits / 8;
    if (cfg.kv_bytes < model.kv_bytes_per_token() * dep.scheduler.kv_block_size)
      throw core::InputError(fmt::format("{}: model '{}' does not fit in dram_gb_each {:g} GB", offer.where,
                                         dep.model, cfg.dram_gb_each));
    // The most per server on in any slot (all CPU instance rows of the type together).
    double most = 0;
    for (int t = 0; t < out.slots; ++t) {
      double sum = 0;
      for (const auto& other : instances)
        if (other.cpu && other.type == pi.type) sum += other.per_slot[static_cast<std::size_t>(t)];
      const int on = out.planned[h][static_cast<std::size_t>(t)];
      if (sum > 0 && on == 0)
        throw core::InputError(fmt::format(
            "{}: CPU instances in slot {} on server type '{}', which has no server on", pi.where, t, pi.sku));
      if (on > 0) most = std::max(most, sum / on);
    }
    const auto free = offer.dram_gb.find(host_of[h]);
    const double dram = free == offer.dram_gb.end() ? sku.dram_gb : free->second;
    const int fit = std::min((cfg.host_cores - cfg.reserved_cores) / cfg.cores_each,
                             static_cast<int>(std::floor(dram / cfg.dram_gb_each + 1e-9)));
    cfg.count = std::min(fit, static_cast<int>(std::ceil(most - 1e-6)));
  }
  for (std::size_t h = 0; h < out.skus.size(); ++h) {
    const std::string& deployment =
        type_decode[h] >= 0
            ? decode_pool[h]
            : out.classes[type_class[h] < 0 ? 0 : find(static_cast<std::size_t>(type_class[h]))].deployment;
    for (int k = 0; k < out.bought[h]; ++k) {
      experiment::FleetEntry e = tmpl;
      e.sku = out.skus[h];
      // The plan's servers have the host it bought for them, whatever the template's `host`.
      e.count = 1;
      e.deployment = deployment;
      e.cpu = cpu_of[h];  // the plan's CPU instances, or none (the template's are not copied)
      e.host = host_of[h];
      e.host_memory = energy::default_host(catalog.server(e.sku));
      if (e.host == "reduced") {
        const auto& dep = *std::find_if(x.deployments.begin(), x.deployments.end(),
                                        [&](const auto& d) { return d.name == deployment; });
        // The planner's reduced host is sized for the GPU serving stack; its CPU instances use the DRAM its
        // rounding leaves (docs/PLANNING.md, "CPU instances"), so they are not added to the need.
        experiment::FleetEntry gpus_only = e;
        gpus_only.cpu = {};
        const auto reduced = energy::reduced_host(catalog.server(e.sku), catalog,
                                                  experiment::host_need(gpus_only, dep, x.deployments, catalog));
        if (!reduced)
          throw core::InputError(
              fmt::format("{}: no host of server '{}' holds what the plan runs on it (the Reduce "
                          "rule, docs/CARBON.md)",
                          host_where[h], e.sku));
        e.host_memory = *reduced;
      }
      e.power_policy = "follow_plan";
      e.power.follow_plan = true;
      e.power.off_when_idle = false;
      e.power.plan_on.clear();
      for (int t = 0; t < out.slots; ++t) {
        if (out.planned[h][static_cast<std::size_t>(t)] <= k) continue;
        const core::SimTime start = t * out.slot, end = (t + 1) * out.slot;
        if (!e.power.plan_on.empty() && e.power.plan_on.back().second == start)
          e.power.plan_on.back().second = end;
        else
          e.power.plan_on.push_back({start, end});
      }
      e.powered = !e.power.plan_on.empty() && e.power.plan_on.front().first == 0;
      x.fleet.push_back(std::move(e));
      out.server_type.push_back(static_cast<int>(h));
      ++out.built[h];
    }
  }
  return out;
}

std::vector<SlotComparison> compare_slots(const PlanExecution& plan,
                                          const std::vector<serving::PowerTransition>& transitions,
                                          core::SimTime end) {
  const std::size_t servers = plan.server_type.size();
  struct State {
    bool powered = false, accepting = false;
    core::SimTime since = 0;
  };
  std::vector<State> state(servers);
  std::vector<SlotComparison> rows;
  std::vector<double> powered_ns(plan.skus.size());
  std::size_t next = 0;
  for (int t = 0; t < plan.slots; ++t) {
    const core::SimTime start = t * plan.slot, stop = (t + 1) * plan.slot;
    if (start >= end) break;
    // The state at the slot's start: every change up to and including it.
    std::fill(powered_ns.begin(), powered_ns.end(), 0.0);
    const auto book = [&](std::size_t s, core::SimTime until) {
      if (state[s].powered)
        powered_ns[static_cast<std::size_t>(plan.server_type[s])] +=
            static_cast<double>(until - std::max(state[s].since, start));
    };
    while (next < transitions.size() && transitions[next].time <= start) {
      const auto& tr = transitions[next++];
      state[tr.server] = {tr.powered, tr.accepting, tr.time};
    }
    std::vector<int> on_at_start(plan.skus.size(), 0);
    for (std::size_t s = 0; s < servers; ++s)
      if (state[s].accepting) ++on_at_start[static_cast<std::size_t>(plan.server_type[s])];
    const core::SimTime slot_end = std::min(stop, end);
    while (next < transitions.size() && transitions[next].time < slot_end) {
      const auto& tr = transitions[next++];
      book(tr.server, tr.time);
      state[tr.server] = {tr.powered, tr.accepting, tr.time};
    }
    for (std::size_t s = 0; s < servers; ++s) book(s, slot_end);
    for (std::size_t s = 0; s < servers; ++s) state[s].since = slot_end;
    for (std::size_t h = 0; h < plan.skus.size(); ++h)
      rows.push_back({t, static_cast<int>(h), plan.planned[h][static_cast<std::size_t>(t)], on_at_start[h],
                      powered_ns[h] / static_cast<double>(slot_end - start)});
  }
  return rows;
}

}  // namespace greenfleet::planning
