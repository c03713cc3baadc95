#include "sim/planning/ilp.hpp"

#include <fmt/format.h>
#include <CbcModel.hpp>
#include <CbcSolver.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <vector>

#include "sim/core/error.hpp"

namespace greenfleet::planning {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double slot_hours(const Problem& p) { return core::to_seconds(p.slot) / 3600.0; }

// Whether an entry serves its class in a role the class allows: unified instances unless the class is split
// only, prefill and decode instances only when it may be split.
bool role_allowed(const Problem& p, const CapacityEntry& e) {
  const Split s = p.classes[static_cast<std::size_t>(e.class_index)].split;
  // CPU instances serve whole offline requests only; an offline class may be kept to one kind of device.
  const WorkloadClass& c = p.classes[static_cast<std::size_t>(e.class_index)];
  if (e.device == Device::kCpu) return !c.online && c.on_cpu;
  if (!c.on_gpu) return false;
  return e.role == Role::kUnified ? s != Split::kOnly : s != Split::kNever;
}

// Capacity entries the objective may use: all, or for the performance baseline, per class, those on the types
// with the fastest GPU (dense FP16 TFLOP/s) that can serve the class: EcoServe's "newest GPUs", read as the
// newest flagship (a newer inference card such as the L4 is not what a performance-optimised design buys), on
// default hosts.
std::vector<bool> allowed_entries(const Problem& p, const Objective& o) {
  std::vector<bool> allowed(p.capacity.size(), true);
  for (std::size_t i = 0; i < p.capacity.size(); ++i) allowed[i] = role_allowed(p, p.capacity[i]);
  if (o.kind != ObjectiveKind::kPerformance) return allowed;
  // EcoServe's performance-optimised design puts all work on GPUs; with `cpu_offline` (Reuse on that design) its
  // offline classes may also use the CPU instances of the types it keeps.
  for (std::size_t i = 0; i < p.capacity.size(); ++i)
    allowed[i] = allowed[i] && (p.capacity[i].device == Device::kGpu || o.cpu_offline);
  std::vector<double> fastest(p.classes.size(), 0);
  for (std::size_t i = 0; i < p.capacity.size(); ++i) {
    const auto& e = p.capacity[i];
    if (allowed[i] && e.rate > 0 && e.device == Device::kGpu)
      fastest[e.class_index] = std::max(fastest[e.class_index], p.types[e.type_index].gpu_tflops);
  }
  for (std::size_t i = 0; i < p.capacity.size(); ++i) {
    const auto& e = p.capacity[i];
    allowed[i] = allowed[i] && p.types[e.type_index].gpu_tflops == fastest[e.class_index];
  }
  // EcoServe's performance-optimised design keeps the full default host: where a SKU is offered with its default
  // host, its other host configurations are left out.
  for (std::size_t i = 0; i < p.capacity.size(); ++i) {
    const auto& ty = p.types[p.capacity[i].type_index];
    if (ty.host == "default") continue;
    for (const auto& other : p.types)
      if (other.sku == ty.sku && other.host == "default") allowed[i] = false;
  }
  return allowed;
}

// Types with at least one allowed entry (the others are not bought).
std::vector<bool> allowed_types(const Problem& p, const std::vector<bool>& entries) {
  std::vector<bool> allowed(p.types.size(), false);
  for (std::size_t i = 0; i < p.capacity.size(); ++i)
    if (entries[i]) allowed[p.capacity[i].type_index] = true;
  return allowed;
}

// CPU instances of an entry one server of its type holds: its cores beside the reserved ones, and its DRAM.
double cpu_instances_per_server(const Problem& p, const CapacityEntry& e) {
  const auto& t = p.types[e.type_index];
  const double by_cores = std::floor(static_cast<double>(t.cpu.host_cores - t.cpu.reserved_cores) / e.cores);
  return e.dram_gb > 0 ? std::min(by_cores, std::floor(t.cpu.dram_gb / e.dram_gb + 1e-9)) : by_cores;
}

// The most requests/s a class can get in one slot in one role from the servers the plan may buy (each role
// alone on every GPU: an upper bound); infinite when a type it can use has no purchase limit. The program's own
// bound: its GPU row counts a type's GPUs over all its servers on, so whole instances fill at most
// floor(max_count x gpus / instance GPUs) of them, and continuous ones (a mean over the slot) all of them.
double max_rate(const Problem& p, const std::vector<bool>& allowed, int w, Role role, bool integer_instances) {
  const auto gpu_instances = [&](double fit) { return integer_instances ? std::floor(fit + 1e-9) : fit; };
  std::vector<double> per_type(p.types.size(), 0.0);
  for (std::size_t i = 0; i < p.capacity.size(); ++i) {
    const auto& e = p.capacity[i];
    if (e.class_index != w || e.role != role || !allowed[i] || e.rate <= 0) continue;
    const auto& t = p.types[e.type_index];
    if (t.max_count < 0) return kInf;
    per_type[e.type_index] += e.device == Device::kCpu
                                  ? e.rate * t.max_count * cpu_instances_per_server(p, e)
                                  : e.rate * gpu_instances(static_cast<double>(t.max_count) * t.gpus / e.gpus);
  }
  // A SKU's host configurations share its purchase limit: its servers give at most what the best of them gives
  // with every server of the SKU.
  double total = 0;
  for (std::size_t h = 0; h < p.types.size(); ++h) {
    bool seen = false;
    for (std::size_t g = 0; g < h; ++g) seen = seen || p.types[g].sku == p.types[h].sku;
    if (seen) continue;
    double best = 0;
    for (std::size_t g = h; g < p.types.size(); ++g)
      if (p.types[g].sku == p.types[h].sku) best = std::max(best, per_type[g]);
    total += best;
  }
  return total;
}

// Unified capacity plus the lesser of prefill and decode capacity: an upper bound on what a class can get.
double max_rate(const Problem& p, const std::vector<bool>& allowed, int w, bool integer_instances) {
  return max_rate(p, allowed, w, Role::kUnified, integer_instances) +
         std::min(max_rate(p, allowed, w, Role::kPrefill, integer_instances),
                  max_rate(p, allowed, w, Role::kDecode, integer_instances));
}

// The fewest GPUs per request/s of a class: a unified instance, or a prefill plus a decode instance.
double gpus_per_rate(const Problem& p, const std::vector<bool>& allowed, int w) {
  double best[3] = {kInf, kInf, kInf};
  for (std::size_t i = 0; i < p.capacity.size(); ++i) {
    const auto& e = p.capacity[i];
    if (e.class_index == w && allowed[i] && e.rate > 0) {
      auto& b = best[static_cast<int>(e.role)];
      b = std::min(b, e.gpus / e.rate);
    }
  }
  return std::min(best[0], best[1] + best[2]);
}

// A plan with integer instances from one with continuous instances (columns N[h], n[h,t], y[e,t] as in
// solve_plan): every instance count rounded down, then each demand row's shortfall covered greedily by whole
// instances, each time the one with the least added cost per request/s covered: an instance on a spare GPU of a
// server already on costs its active power, one that needs another server on also that server's slot (and, past
// the servers bought, its purchase). Empty when the limits on servers bought leave a shortfall.
std::vector<double> round_instances(const Problem& p, const Objective& o, const std::vector<double>& relaxed,
                                    const std::vector<double>& cost, const std::vector<double>& upper) {
  const int H = static_cast<int>(p.types.size()), T = p.slots, E = static_cast<int>(p.capacity.size());
  const auto col_N = [](int h) { return h; };
  const auto col_n = [&](int h, int t) { return H + h * T + t; };
  const auto col_y = [&](int e, int t) { return H + H * T + e * T + t; };
  const bool always_on = o.kind == ObjectiveKind::kPerformance;
  std::vector<double> x = relaxed;
  std::vector<std::vector<double>> spare(H, std::vector<double>(T, 0));  // free GPUs of the servers on
  for (int h = 0; h < H; ++h) {
    x[col_N(h)] = std::round(x[col_N(h)]);
    for (int t = 0; t < T; ++t) {
      x[col_n(h, t)] = std::round(x[col_n(h, t)]);
      spare[h][t] = p.types[h].gpus * x[col_n(h, t)];
    }
  }
  for (int e = 0; e < E; ++e)
    for (int t = 0; t < T; ++t) {
      auto& y = x[col_y(e, t)];
      y = std::floor(y + 1e-6);
      spare[p.capacity[e].type_index][t] -= p.capacity[e].gpus * y;
    }
  const double dt_s = core::to_seconds(p.slot);
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto& c = p.classes[w];
    const std::vector<Role> roles = c.split == Split::kNever ? std::vector<Role>{Role::kUnified}
                                                             : std::vector<Role>{Role::kPrefill, Role::kDecode};
    // The demand rows: (first slot, end slot, requests/s x seconds per slot, demand).
    struct Row {
      int first, end;
      double scale, demand;
    };
    std::vector<Row> rows;
    if (c.online) {
      for (int t = 0; t < T; ++t)
        if (c.rate[t] > 0) rows.push_back({t, t + 1, 1, c.rate[t]});
    } else {
      for (const auto& b : c.batches)
        if (b.requests > 0) rows.push_back({b.first_slot, b.end_slot, dt_s, b.requests});
    }
    for (const Role role : roles)
      for (const auto& r : rows) {
        const auto serves = [&](int e) {
          const auto& ce = p.capacity[e];
          return ce.class_index == static_cast<int>(w) && upper[col_y(e, 0)] > 0 && ce.rate > 0 &&
                 (ce.role == Role::kUnified || ce.role == role);
        };
        double deficit = r.demand;
        for (int e = 0; e < E; ++e)
          if (serves(e))
            for (int t = r.first; t < r.end; ++t) deficit -= p.capacity[e].rate * r.scale * x[col_y(e, t)];
        while (deficit > 1e-9 * r.demand) {
          int best_e = -1, best_t = -1;
          double best = std::numeric_limits<double>::infinity();
          for (int e = 0; e < E; ++e) {
            // CPU instances are only rounded down (which keeps the host's core and DRAM rows), never added.
            if (!serves(e) || p.capacity[e].device == Device::kCpu) continue;
            const auto& ce = p.capacity[e];
            const int h = ce.type_index;
            for (int t = r.first; t < r.end; ++t) {
              double added = cost[col_y(e, t)];
              if (spare[h][t] < ce.gpus - 1e-9) {
                const double servers = std::ceil((ce.gpus - spare[h][t]) / p.types[h].gpus - 1e-9);
                if (always_on || x[col_n(h, t)] + servers > x[col_N(h)]) {
                  if (x[col_N(h)] + servers > upper[col_N(h)]) continue;
                  added += servers * cost[col_N(h)];
                  if (always_on)
                    for (int u = 0; u < T; ++u) added += servers * cost[col_n(h, u)];
                  else
                    added += servers * cost[col_n(h, t)];
                } else {
                  added += servers * cost[col_n(h, t)];
                }
              }
              const double score = added / std::min(ce.rate * r.scale, deficit);
              if (score < best) {
                best = score;
                best_e = e;
                best_t = t;
              }
            }
          }
          if (best_e < 0) return {};
          const auto& ce = p.capacity[best_e];
          const int h = ce.type_index;
          if (spare[h][best_t] < ce.gpus - 1e-9) {
            const double servers = std::ceil((ce.gpus - spare[h][best_t]) / p.types[h].gpus - 1e-9);
            if (always_on) {
              x[col_N(h)] += servers;
              for (int u = 0; u < T; ++u) {
                x[col_n(h, u)] += servers;
                spare[h][u] += servers * p.types[h].gpus;
              }
            } else {
              x[col_n(h, best_t)] += servers;
              spare[h][best_t] += servers * p.types[h].gpus;
              x[col_N(h)] = std::max(x[col_N(h)], x[col_n(h, best_t)]);
            }
          }
          x[col_y(best_e, best_t)] += 1;
          spare[h][best_t] -= ce.gpus;
          deficit -= ce.rate * r.scale;
        }
      }
  }
  // Servers on: those the instances need, their GPUs and, for CPU instances, their host cores and DRAM (as the
  // program's rows count them per server: whole instances); bought: the most on at once.
  for (int h = 0; h < H; ++h) {
    const auto& ty = p.types[h];
    double most = 0;
    for (int t = 0; t < T; ++t) {
      const double used = ty.gpus * x[col_n(h, t)] - spare[h][t];
      double need = std::ceil(used / ty.gpus - 1e-9);
      double cores = 0, dram = 0;
      for (int e = 0; e < E; ++e)
        if (p.capacity[e].type_index == h && p.capacity[e].device == Device::kCpu) {
          cores += p.capacity[e].cores * x[col_y(e, t)];
          dram += p.capacity[e].dram_gb * x[col_y(e, t)];
        }
      const auto servers_for = [](double amount, double room, double each) {
        const double per_server = each > 0 ? std::floor(room / each + 1e-9) * each : room;
        return amount <= 0 ? 0.0 : per_server > 0 ? std::ceil(amount / per_server - 1e-9) : kInf;
      };
      need = std::max({need, servers_for(cores, ty.cpu.host_cores - ty.cpu.reserved_cores, ty.cpu.cores_each),
                       servers_for(dram, ty.cpu.dram_gb, ty.cpu.dram_gb_each)});
      x[col_n(h, t)] = need;
      most = std::max(most, x[col_n(h, t)]);
    }
    x[col_N(h)] = most;
    if (always_on)
      for (int t = 0; t < T; ++t) x[col_n(h, t)] = most;
  }
  return x;
}

}  // namespace

std::string slot_text(const Problem& p, int slot) {
  const auto at = [&](int s) {
    const core::SimTime t = p.slot * s;
    const auto day = t / (24 * core::kHour);
    const auto rest = t % (24 * core::kHour);
    return fmt::format("{}d {:02}:{:02}", day, rest / core::kHour, (rest % core::kHour) / (60 * core::kSecond));
  };
  return fmt::format("slot {} [{}, {})", slot, at(slot), at(slot + 1));
}

void check_feasible(const Problem& p, const Objective& o, bool integer_instances) {
  const auto allowed = allowed_entries(p, o);
  const auto types = allowed_types(p, allowed);
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto& c = p.classes[w];
    const double most = max_rate(p, allowed, static_cast<int>(w), integer_instances);
    const bool served = std::isfinite(gpus_per_rate(p, allowed, static_cast<int>(w)));
    const std::string why =
        served ? ""
        : c.split == Split::kOnly
            ? " (no server type can serve it split: it needs both a prefill and a decode capacity entry)"
            : " (no server type can serve it: no capacity entry for its model on the types offered)";
    if (c.online) {
      for (int t = 0; t < p.slots; ++t)
        if (c.rate[t] > 0 && c.rate[t] > most * (1 + 1e-9))
          throw core::InputError(fmt::format(
              "plan ({}): infeasible demand in {} for class '{}': {:.4g} requests/s, at most {:.4g} requests/s "
              "with the servers that may be bought{}",
              o.name, slot_text(p, t), c.name, c.rate[t], most, why));
    } else {
      for (const auto& b : c.batches) {
        const double window_s = core::to_seconds(p.slot) * (b.end_slot - b.first_slot);
        if (b.requests > 0 && b.requests > most * window_s * (1 + 1e-9))
          throw core::InputError(fmt::format(
              "plan ({}): infeasible demand for offline class '{}': {:.10g} requests due by {} (released at {}), "
              "at most {:.10g} with the servers that may be bought{}",
              o.name, c.name, b.requests, slot_text(p, b.end_slot - 1), slot_text(p, b.first_slot),
              most * window_s, why));
      }
    }
  }
  // All online classes together in one slot: GPUs needed at the least GPUs per request/s of each class against
  // every GPU that may be bought (a necessary condition only).
  double gpus_available = 0;
  for (std::size_t h = 0; h < p.types.size(); ++h) {
    if (!types[h]) continue;
    if (p.types[h].max_count < 0) return;
    // A SKU's host configurations share its purchase limit: count it once.
    bool seen = false;
    for (std::size_t g = 0; g < h; ++g) seen = seen || (types[g] && p.types[g].sku == p.types[h].sku);
    if (!seen) gpus_available += static_cast<double>(p.types[h].max_count) * p.types[h].gpus;
  }
  for (int t = 0; t < p.slots; ++t) {
    double needed = 0;
    std::string names;
    for (std::size_t w = 0; w < p.classes.size(); ++w) {
      const auto& c = p.classes[w];
      if (!c.online || c.rate[t] <= 0) continue;
      needed += c.rate[t] * gpus_per_rate(p, allowed, static_cast<int>(w));
      names += fmt::format("{}'{}'", names.empty() ? "" : ", ", c.name);
    }
    if (needed > gpus_available * (1 + 1e-9))
      throw core::InputError(fmt::format(
          "plan ({}): infeasible demand in {}: classes {} together need at least {:.4g} GPUs, at most {:.4g} may "
          "be bought",
          o.name, slot_text(p, t), names, needed, gpus_available));
  }
}

Plan solve_plan(const Problem& p, const Objective& o, const SolverSettings& s) {
  check_feasible(p, o, s.integer_instances);
  const auto entries = allowed_entries(p, o);
  const auto allowed = allowed_types(p, entries);
  const int H = static_cast<int>(p.types.size());
  const int T = p.slots;
  const int E = static_cast<int>(p.capacity.size());
  const double dt_h = slot_hours(p);
  const double dt_s = core::to_seconds(p.slot);
  const double horizon_h = dt_h * T;

  // Columns: N[h], then n[h,t], then y[e,t].
  const auto col_N = [](int h) { return h; };
  const auto col_n = [&](int h, int t) { return H + h * T + t; };
  const auto col_y = [&](int e, int t) { return H + H * T + e * T + t; };
  const int columns = H + H * T + E * T;
  std::vector<double> lower(columns, 0), upper(columns, kInf), cost(columns, 0);
  for (int h = 0; h < H; ++h) {
    const auto& ty = p.types[h];
    const double cap = !allowed[h] ? 0 : ty.max_count < 0 ? kInf : ty.max_count;
    upper[col_N(h)] = cap;
    for (int t = 0; t < T; ++t) upper[col_n(h, t)] = cap;
  }
  for (int e = 0; e < E; ++e)
    if (!entries[e] || p.capacity[e].rate <= 0)
      for (int t = 0; t < T; ++t) upper[col_y(e, t)] = 0;

  // The objective. kWh of one server on for a slot, of one instance busy for a slot, priced by the objective
  // (servers on also pay their $/h under the cost objective).
  const auto energy_cost = [&](double watts, int t, double usd_per_hour) {
    const double kwh = p.pue * watts * dt_h / 1000;
    switch (o.kind) {
      case ObjectiveKind::kCarbon:
        return kwh * p.ci[t] / 1000;
      case ObjectiveKind::kPerformance:
      case ObjectiveKind::kEnergy:
        return kwh;
      case ObjectiveKind::kCost:
        return usd_per_hour * dt_h + o.electricity_usd_per_kwh * kwh;
    }
    return 0.0;
  };
  for (int h = 0; h < H; ++h) {
    const auto& ty = p.types[h];
    for (int t = 0; t < T; ++t) cost[col_n(h, t)] = energy_cost(ty.idle_w, t, ty.usd_per_hour);
    if (o.kind == ObjectiveKind::kCarbon)
      cost[col_N(h)] = o.embodied_weight * ty.embodied_kg * horizon_h / (ty.lifetime_years * 8760.0);
  }
  for (int e = 0; e < E; ++e)
    for (int t = 0; t < T; ++t) cost[col_y(e, t)] = energy_cost(p.capacity[e].active_w, t, 0);

  // Rows, as triplets.
  std::vector<int> rows, cols;
  std::vector<double> values, row_lower, row_upper;
  int row = 0;
  const auto add = [&](int c, double v) {
    rows.push_back(row);
    cols.push_back(c);
    values.push_back(v);
  };
  const auto close_row = [&](double lo, double hi) {
    row_lower.push_back(lo);
    row_upper.push_back(hi);
    ++row;
  };
  // Servers on at most those bought (the performance baseline keeps every bought server on).
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) {
      add(col_n(h, t), 1);
      add(col_N(h), -1);
      close_row(o.kind == ObjectiveKind::kPerformance ? 0 : -kInf, 0);
    }
  // A SKU offered with several host configurations: its purchase limit covers them all.
  for (int h = 0; h < H; ++h) {
    if (p.types[h].max_count < 0) continue;
    bool first = true, shared = false;
    for (int g = 0; g < H; ++g)
      if (p.types[g].sku == p.types[h].sku && g != h) {
        shared = true;
        first = first && g > h;
      }
    if (!shared || !first) continue;
    for (int g = 0; g < H; ++g)
      if (p.types[g].sku == p.types[h].sku) add(col_N(g), 1);
    close_row(-kInf, p.types[h].max_count);
  }
  // GPUs: the instances on a type fit in the GPUs of its servers on.
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) {
      bool any = false;
      for (int e = 0; e < E; ++e)
        if (p.capacity[e].type_index == h && upper[col_y(e, 0)] > 0 && p.capacity[e].device == Device::kGpu) {
          add(col_y(e, t), p.capacity[e].gpus);
          any = true;
        }
      if (!any) continue;
      add(col_n(h, t), -p.types[h].gpus);
      close_row(-kInf, 0);
    }
  // Host cores and DRAM (EcoServe's Reuse): the CPU instances on a type, with the cores kept for the GPU serving
  // stack on every server on, fit in the cores and the DRAM of its servers on (the DRAM its host configuration has
  // beside the GPU serving stack's: docs/PLANNING.md, "CPU instances").
  for (int h = 0; h < H; ++h) {
    const auto& ty = p.types[h];
    const auto cpu_row = [&](int t, bool cores) {
      bool any = false;
      for (int e = 0; e < E; ++e) {
        const auto& ce = p.capacity[e];
        if (ce.type_index == h && upper[col_y(e, 0)] > 0 && ce.device == Device::kCpu) {
          add(col_y(e, t), cores ? ce.cores : ce.dram_gb);
          any = true;
        }
      }
      if (!any) return;
      // Each side holds whole instances of the type's size: a mean over the slot cannot exceed what one server
      // holds at once (cores and DRAM rounded down to whole instances).
      const double room = cores ? ty.cpu.host_cores - ty.cpu.reserved_cores : ty.cpu.dram_gb;
      const double each = cores ? ty.cpu.cores_each : ty.cpu.dram_gb_each;
      add(col_n(h, t), -(each > 0 ? std::floor(room / each + 1e-9) * each : room));
      close_row(-kInf, 0);
    };
    for (int t = 0; t < T; ++t) {
      cpu_row(t, true);
      cpu_row(t, false);
    }
  }
  // Demand: online capacity per slot, offline volume within each batch's window. A class that may be split needs
  // prefill capacity and decode capacity each to cover its demand, unified instances counting in both.
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto& c = p.classes[w];
    const auto serving = [&](int t, double scale, Role role) {
      for (int e = 0; e < E; ++e) {
        const auto& ce = p.capacity[e];
        if (ce.class_index == static_cast<int>(w) && upper[col_y(e, 0)] > 0 &&
            (ce.role == Role::kUnified || ce.role == role))
          add(col_y(e, t), ce.rate * scale);
      }
    };
    const std::vector<Role> roles = c.split == Split::kNever ? std::vector<Role>{Role::kUnified}
                                                             : std::vector<Role>{Role::kPrefill, Role::kDecode};
    for (const Role role : roles) {
      if (c.online) {
        for (int t = 0; t < T; ++t) {
          if (c.rate[t] <= 0) continue;
          serving(t, 1, role);
          close_row(c.rate[t], kInf);
        }
      } else {
        for (const auto& b : c.batches) {
          if (b.requests <= 0) continue;
          for (int t = b.first_slot; t < b.end_slot; ++t) serving(t, dt_s, role);
          close_row(b.requests, kInf);
        }
      }
    }
  }

  // Whether an integer plan (servers and instances whole) holds every row and every bound of the program.
  const auto satisfies = [&](const std::vector<double>& x) {
    std::vector<double> activity(static_cast<std::size_t>(row), 0.0);
    for (std::size_t k = 0; k < values.size(); ++k)
      activity[static_cast<std::size_t>(rows[k])] += values[k] * x[static_cast<std::size_t>(cols[k])];
    const auto near = [](double a, double b) { return std::abs(a - b) <= 1e-7 * std::max(1.0, std::abs(b)); };
    for (std::size_t r = 0; r < activity.size(); ++r)
      if ((activity[r] < row_lower[r] && !near(activity[r], row_lower[r])) ||
          (activity[r] > row_upper[r] && !near(activity[r], row_upper[r])))
        return false;
    for (int c = 0; c < columns; ++c)
      if (x[c] < lower[c] - 1e-9 || x[c] > upper[c] + 1e-9 || std::abs(x[c] - std::round(x[c])) > 1e-9)
        return false;
    return true;
  };
  CoinPackedMatrix matrix(false, rows.data(), cols.data(), values.data(),
                          static_cast<CoinBigIndex>(values.size()));
  matrix.setDimensions(row, columns);
  // One CBC search (one thread, at most `nodes` branch-and-bound nodes, a time limit in CPU seconds as a safety
  // net, the relative gap as its stopping ratio) of the program with integer servers and, if `integer_y`, integer
  // instances.
  enum class Stop { kDone, kNodes, kTime };
  struct Search {
    bool infeasible = false;
    std::vector<double> x;  // empty: no integer solution found
    double objective = 0, bound = 0;
    std::int64_t nodes = 0;
    Stop stop = Stop::kDone;
  };
  const auto search = [&](bool integer_y, double seconds, std::int64_t nodes) {
    OsiClpSolverInterface solver;
    solver.messageHandler()->setLogLevel(0);
    solver.loadProblem(matrix, lower.data(), upper.data(), cost.data(), row_lower.data(), row_upper.data());
    for (int c = 0; c < columns; ++c)
      if (c < H + H * T || integer_y) solver.setInteger(c);
    CbcModel model(solver);
    CbcSolverUsefulData data;
    data.noPrinting_ = true;
    CbcMain0(model, data);
    model.setLogLevel(0);
    model.messageHandler()->setLogLevel(0);
    const std::string limit = fmt::format("{}", seconds), ratio = fmt::format("{}", s.relative_gap),
                      most = fmt::format("{}", nodes);
    // CBC's default search plus the RENS heuristic, which on bench/planner_week.yaml brings every objective's
    // gap below 1% in seconds where the defaults stall near 2% (carbon) or 16% (cost) (docs/PERFORMANCE.md).
    // One thread. With one thread nothing in this search depends on the clock but the time limit (CBC 2.10's
    // heuristics with time limits of their own, the dives' 600 s and the pump's, are off or unset here), so a
    // search stopped by the node limit or the gap is the same on any machine (docs/PLANNING.md, "Solver").
    // GREENFLEET_CBC_LOG=1 shows CBC's log on standard output.
    const char* log = std::getenv("GREENFLEET_CBC_LOG") ? std::getenv("GREENFLEET_CBC_LOG") : "0";
    std::vector<std::string> words = {"greenfleet", "-log", log,      "-threads", "0",     "-sec", limit,
                                      "-maxNodes",  most,   "-ratio", ratio,      "-rens", "on"};
    words.push_back("-solve");
    words.push_back("-quit");
    std::vector<const char*> argv;
    for (const auto& w : words) argv.push_back(w.c_str());
    CbcMain1(
        static_cast<int>(argv.size()), argv.data(), model, [](CbcModel*, int) { return 0; }, data);
    Search out;
    out.infeasible = model.isProvenInfeasible();
    out.bound = model.getBestPossibleObjValue();
    out.nodes = model.getNodeCount();
    // CBC's secondary status: 3 stopped on the node limit, 4 on the time limit (CbcModel::secondaryStatus).
    out.stop = model.secondaryStatus() == 4   ? Stop::kTime
               : model.secondaryStatus() == 3 ? Stop::kNodes
                                              : Stop::kDone;
    if (const double* x = model.bestSolution(); x != nullptr && !out.infeasible) {
      out.x.assign(x, x + columns);
      out.objective = model.getObjValue();
      out.bound = std::min(out.bound, out.objective);
    }
    return out;
  };

  int integers = H + H * T + (s.integer_instances ? E * T : 0);
  Plan plan;
  plan.objective = o.name;
  plan.variables = columns;
  plan.integer_variables = integers;
  plan.constraints = row;
  const auto start = std::chrono::steady_clock::now();
  const auto cpu_start = std::clock();
  // Integer instances: a fallback plan from the program with continuous instances (a third of the node and the
  // time limits), rounded; CBC's own search gets the nodes and the time left, and the better of the two plans is
  // kept (docs/PLANNING.md, "Solver"). The continuous program is a relaxation of the integer one: its bound holds
  // for both.
  std::vector<double> first;
  double first_bound = -kInf;
  bool timed_out = false;
  std::int64_t nodes_left = s.max_nodes;
  if (s.integer_instances) {
    const Search relaxed = search(false, s.time_limit_s / 3, std::max<std::int64_t>(1, s.max_nodes / 3));
    timed_out = relaxed.stop == Stop::kTime;
    plan.nodes += relaxed.nodes;
    nodes_left = std::max<std::int64_t>(1, s.max_nodes - relaxed.nodes);
    if (!relaxed.x.empty()) {
      first = round_instances(p, o, relaxed.x, cost, upper);
      // The rounding is a heuristic: a plan it makes that breaks any row of the program (a purchase limit shared
      // by a SKU's host configurations, say) is dropped, and CBC's search decides alone.
      if (!first.empty() && !satisfies(first)) first.clear();
      first_bound = relaxed.bound;
    }
  }
  const double spent = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  Search found = search(s.integer_instances, std::max(0.1, s.time_limit_s - spent), nodes_left);
  plan.nodes += found.nodes;
  timed_out = timed_out || found.stop == Stop::kTime;
  if (!first.empty()) {
    double value = 0;
    for (int c = 0; c < columns; ++c) value += cost[c] * first[c];
    const double bound = std::isfinite(found.bound) && std::abs(found.bound) < 1e50
                             ? std::max(found.bound, first_bound)
                             : first_bound;
    if (found.x.empty() || value < found.objective) {
      found.x = first;
      found.objective = value;
    }
    found.bound = std::min(bound, found.objective);
  }
  plan.solve_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (found.x.empty()) {
    throw core::InputError(fmt::format(
        "plan ({}): {} (the servers that may be bought cannot meet every class's demand in every slot at once, "
        "or solver.max_nodes ({}) or solver.time_limit ({:g}s) stopped the search before a first plan): no plan "
        "written",
        o.name, found.infeasible ? "the demand is infeasible" : "no integer solution was found", s.max_nodes,
        s.time_limit_s));
  }
  const double* x = found.x.data();
  plan.objective_value = found.objective;
  plan.bound = found.bound;
  plan.gap = std::abs(plan.objective_value) > 1e-12
                 ? (plan.objective_value - plan.bound) / std::abs(plan.objective_value)
                 : 0.0;
  // time_limit: a search ran out of CPU time (the plan depends on the machine and its load, whatever its gap);
  // optimal: the bound meets the objective; within_gap: within solver.relative_gap; node_limit: stopped by
  // solver.max_nodes with a larger gap; feasible: CBC ended the search (its own gap test) with a larger gap.
  plan.status = timed_out                           ? "time_limit"
                : plan.gap <= 1e-9                  ? "optimal"
                : plan.gap <= s.relative_gap + 1e-9 ? "within_gap"
                : found.stop == Stop::kNodes        ? "node_limit"
                                                    : "feasible";

  // The solution, rounded where integral; servers bought are the most on at once when the objective does not
  // price them (energy, cost).
  plan.bought.assign(H, 0);
  plan.on.assign(H, std::vector<int>(T, 0));
  plan.instances.assign(E, std::vector<double>(T, 0));
  for (int h = 0; h < H; ++h) {
    int most_on = 0;
    for (int t = 0; t < T; ++t) {
      plan.on[h][t] = static_cast<int>(std::lround(x[col_n(h, t)]));
      most_on = std::max(most_on, plan.on[h][t]);
    }
    plan.bought[h] = o.kind == ObjectiveKind::kCarbon || o.kind == ObjectiveKind::kPerformance
                         ? static_cast<int>(std::lround(x[col_N(h)]))
                         : most_on;
  }
  for (int e = 0; e < E; ++e)
    for (int t = 0; t < T; ++t) {
      const double v = x[col_y(e, t)];
      plan.instances[e][t] = s.integer_instances ? std::round(v) : std::max(0.0, v);
    }
  for (int h = 0; h < H; ++h) {
    const auto& ty = p.types[h];
    plan.gpus_bought += plan.bought[h] * ty.gpus;
    plan.embodied_kg += plan.bought[h] * ty.embodied_kg * horizon_h / (ty.lifetime_years * 8760.0);
    for (int t = 0; t < T; ++t) {
      const double kwh = p.pue * ty.idle_w * dt_h / 1000 * plan.on[h][t];
      plan.energy_kwh += kwh;
      plan.operational_kg += kwh * p.ci[t] / 1000;
      plan.cost_usd += ty.usd_per_hour * dt_h * plan.on[h][t];
    }
  }
  plan.short_slots.assign(p.classes.size(), {});
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto& c = p.classes[w];
    if (!c.online || c.actual.empty()) continue;
    for (int t = 0; t < T; ++t) {
      double served[3] = {0, 0, 0};  // unified, prefill, decode
      for (int e = 0; e < E; ++e)
        if (p.capacity[e].class_index == static_cast<int>(w))
          served[static_cast<int>(p.capacity[e].role)] += p.capacity[e].rate * plan.instances[e][t];
      const double most = served[0] + (c.split == Split::kNever ? 0 : std::min(served[1], served[2]));
      if (c.actual[t] > most * (1 + 1e-9)) plan.short_slots[w].push_back(t);
    }
  }
  plan.cpu_rate.assign(H, std::vector<double>(T, 0));
  plan.cpu_instances.assign(H, std::vector<double>(T, 0));
  for (int e = 0; e < E; ++e)
    for (int t = 0; t < T; ++t) {
      const double kwh = p.pue * p.capacity[e].active_w * dt_h / 1000 * plan.instances[e][t];
      plan.energy_kwh += kwh;
      plan.operational_kg += kwh * p.ci[t] / 1000;
      if (p.capacity[e].device == Device::kCpu) {
        plan.cpu_kwh += kwh;
        plan.cpu_instances[p.capacity[e].type_index][t] += plan.instances[e][t];
        plan.cpu_rate[p.capacity[e].type_index][t] += p.capacity[e].rate * plan.instances[e][t];
        plan.cpu_requests += p.capacity[e].rate * plan.instances[e][t] * dt_s;
      } else if (!p.classes[p.capacity[e].class_index].online) {
        plan.gpu_offline_requests += p.capacity[e].rate * plan.instances[e][t] * dt_s;
      }
    }
  return plan;
}

}  // namespace greenfleet::planning
