#include "sim/planning/plan_output.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "greenfleet/version.hpp"

namespace greenfleet::planning {

namespace {

double total_kg(const Plan& p) { return p.operational_kg + p.embodied_kg; }

// Numbers in the YAML file: shortest round-trip text.
std::string num(double v) { return fmt::format("{}", v); }

// A server type as the tables name it: its SKU, and its host configuration unless the default.
std::string type_name(const ServerType& t) {
  return t.host == "default" ? t.sku : fmt::format("{} ({})", t.sku, t.host);
}

// The YAML key of a non-default host configuration, appended to a flow mapping ("" for the default host).
std::string host_key(const ServerType& t) { return t.host == "default" ? "" : fmt::format(", host: {}", t.host); }

// The role column of tables: a CPU instance (docs/PLANNING.md, "CPU instances") shows `cpu`.
const char* role_text(const CapacityEntry& e) { return e.device == Device::kCpu ? "cpu" : to_string(e.role); }

// The YAML keys of a CPU entry, appended to a flow mapping ("" for a GPU entry).
std::string device_key(const CapacityEntry& e) {
  return e.device == Device::kCpu ? fmt::format(", device: cpu, cores: {}, dram_gb: {}", e.cores, num(e.dram_gb))
                                  : "";
}

}  // namespace

std::string capacity_table(const Problem& p, const std::vector<CapacityRow>& rows) {
  std::string out = fmt::format("{:<16} {:<24} {:>3} {:<8} {:>12} {:>10} {:<10}\n", "class", "server", "tp",
                                "role", "req/s/inst", "active W", "source");
  for (const auto& r : rows)
    out += fmt::format("{:<16} {:<24} {:>3} {:<8} {:>12.4g} {:>10.0f} {:<10}\n",
                       p.classes[r.entry.class_index].name, type_name(p.types[r.entry.type_index]), r.entry.gpus,
                       role_text(r.entry), r.entry.rate, r.entry.active_w, r.source);
  return out;
}

std::string plan_table(const Problem& p, const Plan& plan) {
  std::string out = fmt::format(
      "plan '{}': {} | objective {:.6g} | bound {:.6g} | gap {:.3f}% | {} nodes | {:.2f} s | {} variables ({} "
      "integer), {} constraints\n",
      plan.objective, plan.status, plan.objective_value, plan.bound, 100 * plan.gap, plan.nodes,
      plan.solve_seconds, plan.variables, plan.integer_variables, plan.constraints);
  out += fmt::format("  {:<24} {:>6} {:>9} {:>8} {:>8}\n", "server", "bought", "on mean", "on min", "on max");
  for (std::size_t h = 0; h < p.types.size(); ++h) {
    if (plan.bought[h] == 0) continue;
    const auto& on = plan.on[h];
    double mean = 0;
    for (int v : on) mean += v;
    mean /= std::max<std::size_t>(1, on.size());
    out += fmt::format("  {:<24} {:>6} {:>9.2f} {:>8} {:>8}\n", type_name(p.types[h]), plan.bought[h], mean,
                       *std::min_element(on.begin(), on.end()), *std::max_element(on.begin(), on.end()));
  }
  out += fmt::format("  {:<16} {:<24} {:>3} {:<8} {:>10} {:>10}\n", "class", "on server", "tp", "role",
                     "inst mean", "inst max");
  for (std::size_t e = 0; e < p.capacity.size(); ++e) {
    const auto& y = plan.instances[e];
    double mean = 0, most = 0;
    for (double v : y) {
      mean += v;
      most = std::max(most, v);
    }
    if (most <= 0) continue;
    mean /= std::max<std::size_t>(1, y.size());
    const auto& c = p.capacity[e];
    out += fmt::format("  {:<16} {:<24} {:>3} {:<8} {:>10.2f} {:>10.4g}\n", p.classes[c.class_index].name,
                       type_name(p.types[c.type_index]), c.gpus, role_text(c), mean, most);
  }
  for (std::size_t w = 0; w < plan.short_slots.size(); ++w)
    if (!plan.short_slots[w].empty())
      out += fmt::format(
          "  class '{}': actual demand above the planned capacity in {} of {} slots (forecast error)\n",
          p.classes[w].name, plan.short_slots[w].size(), p.slots);
  if (plan.cpu_requests > 0)
    out += fmt::format(
        "  offline on CPU instances: {:.6g} requests ({:.1f}% of the offline capacity planned), {:.4g} "
        "kWh\n",
        plan.cpu_requests, 100 * plan.cpu_requests / (plan.cpu_requests + plan.gpu_offline_requests),
        plan.cpu_kwh);
  out += fmt::format(
      "  energy {:.6g} kWh | operational {:.6g} kgCO2e | embodied {:.6g} kgCO2e | total {:.6g} kgCO2e "
      "| {} GPUs | ${:.6g}\n",
      plan.energy_kwh, plan.operational_kg, plan.embodied_kg, total_kg(plan), plan.gpus_bought, plan.cost_usd);
  return out;
}

std::string comparison_table(const std::vector<Plan>& plans) {
  std::string out =
      fmt::format("{:<12} {:<10} {:>6} {:>12} {:>12} {:>12} {:>12} {:>8} {:>12} {:>9}\n", "plan", "status", "GPUs",
                  "energy kWh", "op kg", "emb kg", "total kg", "vs first", "cost $", "gap %");
  for (const auto& p : plans)
    out += fmt::format(
        "{:<12} {:<10} {:>6} {:>12.6g} {:>12.6g} {:>12.6g} {:>12.6g} {:>7.1f}% {:>12.6g} {:>9.3f}\n", p.objective,
        p.status, p.gpus_bought, p.energy_kwh, p.operational_kg, p.embodied_kg, total_kg(p),
        total_kg(plans[0]) > 0 ? 100 * (total_kg(p) / total_kg(plans[0]) - 1) : 0.0, p.cost_usd, 100 * p.gap);
  return out;
}

std::string plan_yaml(const PlanConfig& pc, const std::vector<CapacityRow>& rows, const std::vector<Plan>& plans) {
  const Problem& p = pc.problem;
  std::string out = fmt::format(
      "# greenfleet plan (docs/PLANNING.md)\ngreenfleet: \"{}\"\nplanning_file: \"{}\"\n"
      "name: \"{}\"\nslot_s: {}\nslots: {}\npue: {}\n",
      core::kGitRevision, pc.file, pc.name, core::to_seconds(p.slot), p.slots, num(p.pue));
  out += "server_types:\n";
  for (const auto& t : p.types)
    out += fmt::format(
        "  - {{sku: {}, gpus: {}, idle_w: {}, embodied_kg: {}, lifetime_years: {}, usd_per_hour: {}, "
        "max_count: {}{}}}\n",
        t.sku, t.gpus, num(t.idle_w), num(t.embodied_kg), num(t.lifetime_years), num(t.usd_per_hour), t.max_count,
        (t.host == "default"
             ? std::string()
             : fmt::format(", host: {}, dram_gb: {}, ssd_gb: {}", t.host, num(t.dram_gb), num(t.ssd_gb))) +
            (t.cpu.cores_each == 0
                 ? std::string()
                 : fmt::format(", cpu_instances: {{cores_each: {}, reserved_cores: {}, host_cores: {}, "
                               "dram_gb_each: {}, amx_speedup: {}, max_num_seqs: {}, dram_gb: {}}}",
                               t.cpu.cores_each, t.cpu.reserved_cores, t.cpu.host_cores, num(t.cpu.dram_gb_each),
                               num(t.cpu.amx_speedup), t.cpu.max_num_seqs, num(t.cpu.dram_gb))));
  out += "classes:\n";
  for (const auto& c : p.classes) {
    out +=
        fmt::format("  - name: \"{}\"\n    model: {}\n    online: {}\n    split: {}\n", c.name, c.model, c.online,
                    c.split == Split::kNever     ? "never"
                    : c.split == Split::kAllowed ? "allowed"
                                                 : "only");
    if (c.online)
      out += fmt::format("    ttft_s: {}\n    tpot_s: {}\n    rate: [{}]\n", core::to_seconds(c.ttft),
                         core::to_seconds(c.tpot), fmt::join(c.rate, ", "));
    if (!c.actual.empty()) out += fmt::format("    actual_rate: [{}]\n", fmt::join(c.actual, ", "));
    if (!c.batches.empty()) out += "    batches:\n";
    for (const auto& b : c.batches)
      out += fmt::format("      - {{requests: {}, first_slot: {}, end_slot: {}}}\n", num(b.requests), b.first_slot,
                         b.end_slot);
  }
  out += fmt::format("carbon_intensity: [{}]\ncapacity:\n", fmt::join(p.ci, ", "));
  for (const auto& r : rows)
    out += fmt::format(
        "  - {{class: \"{}\", sku: {}, tensor_parallel: {}, role: {}, rate: {}, active_w: {}, source: {}{}}}\n",
        p.classes[r.entry.class_index].name, p.types[r.entry.type_index].sku, r.entry.gpus,
        to_string(r.entry.role), num(r.entry.rate), num(r.entry.active_w), r.source,
        host_key(p.types[r.entry.type_index]) + device_key(r.entry));
  out += "plans:\n";
  for (const auto& plan : plans) {
    out += fmt::format(
        "  - objective: {}\n    status: {}\n    objective_value: {}\n    bound: {}\n    gap: {}\n    nodes: {}\n"
        "    solve_seconds: {}\n    variables: {}\n    integer_variables: {}\n    constraints: {}\n    "
        "energy_kwh: "
        "{}\n"
        "    operational_kg: {}\n    embodied_kg: {}\n    cost_usd: {}\n    gpus_bought: {}\n",
        plan.objective, plan.status, num(plan.objective_value), num(plan.bound), num(plan.gap), plan.nodes,
        num(plan.solve_seconds), plan.variables, plan.integer_variables, plan.constraints, num(plan.energy_kwh),
        num(plan.operational_kg), num(plan.embodied_kg), num(plan.cost_usd), plan.gpus_bought);
    for (std::size_t w = 0; w < plan.short_slots.size(); ++w)
      if (!plan.short_slots[w].empty())
        out +=
            fmt::format("    \"short_slots {}\": [{}]\n", p.classes[w].name, fmt::join(plan.short_slots[w], ", "));
    out += "    servers:\n";
    for (std::size_t h = 0; h < p.types.size(); ++h)
      if (plan.bought[h] > 0)
        out += fmt::format("      - {{sku: {}, bought: {}, on: [{}]{}}}\n", p.types[h].sku, plan.bought[h],
                           fmt::join(plan.on[h], ", "), host_key(p.types[h]));
    out += "    instances:\n";
    for (std::size_t e = 0; e < p.capacity.size(); ++e) {
      const auto& y = plan.instances[e];
      if (std::all_of(y.begin(), y.end(), [](double v) { return v <= 0; })) continue;
      const auto& c = p.capacity[e];
      out += fmt::format("      - {{class: \"{}\", sku: {}, tensor_parallel: {}, role: {}, per_slot: [{}]{}}}\n",
                         p.classes[c.class_index].name, p.types[c.type_index].sku, c.gpus, to_string(c.role),
                         fmt::join(y, ", "), host_key(p.types[c.type_index]) + device_key(c));
    }
    // EcoServe's Reuse: the offline work each slot puts on CPU instances, per server type.
    if (plan.cpu_requests > 0) {
      out += fmt::format(
          "    cpu_offline_requests: {}\n    gpu_offline_requests: {}\n    cpu_kwh: {}\n"
          "    cpu_offline:\n",
          num(plan.cpu_requests), num(plan.gpu_offline_requests), num(plan.cpu_kwh));
      for (std::size_t h = 0; h < p.types.size(); ++h)
        if (std::any_of(plan.cpu_rate[h].begin(), plan.cpu_rate[h].end(), [](double v) { return v > 0; }))
          out += fmt::format("      - {{sku: {}, instances: [{}], requests_per_s: [{}]}}\n", p.types[h].sku,
                             fmt::join(plan.cpu_instances[h], ", "), fmt::join(plan.cpu_rate[h], ", "));
    }
  }
  return out;
}

}  // namespace greenfleet::planning
