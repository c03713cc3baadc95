// The planner's program against brute force (docs/PLANNING.md, "The program"): on tiny problems (two server
// types, two slots, a few capacity entries) every integer plan is enumerated and the cheapest one's objective is
// compared with solve_plan's; and every plan solve_plan returns is checked against each constraint of the
// program, recomputed here from the Problem rather than from the solver's rows.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "planner_support.hpp"
#include "sim/core/error.hpp"
#include "sim/planning/ilp.hpp"
#include "test_support.hpp"

using namespace greenfleet;
using planning::CapacityEntry;
using planning::Device;
using planning::ObjectiveKind;
using planning::Plan;
using planning::Problem;
using planning::ServerType;
using planning::WorkloadClass;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

ServerType type(std::string sku, int gpus, double idle_w, double embodied_kg, double usd, int max_count) {
  ServerType t;
  t.sku = std::move(sku);
  t.gpus = gpus;
  t.idle_w = idle_w;
  t.embodied_kg = embodied_kg;
  t.lifetime_years = 4;
  t.usd_per_hour = usd;
  t.gpu_tflops = 100;
  t.max_count = max_count;
  return t;
}

// What a plan costs by the objective, from its servers bought, servers on and instances (slots of one hour).
double cost_of(const Problem& p, ObjectiveKind kind, const std::vector<int>& bought,
               const std::vector<std::vector<int>>& on, const std::vector<std::vector<double>>& y) {
  const double dt_h = core::to_seconds(p.slot) / 3600.0;
  double total = 0;
  const auto energy = [&](double watts, int t) {
    const double kwh = p.pue * watts * dt_h / 1000;
    return kind == ObjectiveKind::kCarbon ? kwh * p.ci[static_cast<std::size_t>(t)] / 1000
           : kind == ObjectiveKind::kCost ? 0.0
                                          : kwh;
  };
  for (std::size_t h = 0; h < p.types.size(); ++h) {
    const auto& ty = p.types[h];
    if (kind == ObjectiveKind::kCarbon)
      total += bought[h] * ty.embodied_kg * dt_h * p.slots / (ty.lifetime_years * 8760.0);
    for (int t = 0; t < p.slots; ++t)
      total += on[h][static_cast<std::size_t>(t)] *
               (energy(ty.idle_w, t) + (kind == ObjectiveKind::kCost ? ty.usd_per_hour * dt_h : 0.0));
  }
  for (std::size_t e = 0; e < p.capacity.size(); ++e)
    for (int t = 0; t < p.slots; ++t)
      total += y[e][static_cast<std::size_t>(t)] * energy(p.capacity[e].active_w, t);
  return total;
}

// Every constraint of the program (docs/PLANNING.md), checked on a returned plan: "" when it holds them all.
std::string violations(const Problem& p, const Plan& plan, bool integer_instances) {
  const std::size_t H = p.types.size(), E = p.capacity.size();
  const auto T = static_cast<std::size_t>(p.slots);
  const double dt_s = core::to_seconds(p.slot);
  std::string out;
  const auto fail = [&](const std::string& what) { out += what + "; "; };
  // Purchase limits, per SKU (its host configurations share them).
  for (std::size_t h = 0; h < H; ++h) {
    if (p.types[h].max_count < 0) continue;
    int of_sku = 0;
    for (std::size_t g = 0; g < H; ++g)
      if (p.types[g].sku == p.types[h].sku) of_sku += plan.bought[g];
    if (of_sku > p.types[h].max_count) fail("SKU " + p.types[h].sku + " bought past its max_count");
  }
  for (std::size_t h = 0; h < H; ++h)
    for (std::size_t t = 0; t < T; ++t) {
      if (plan.on[h][t] > plan.bought[h] || plan.on[h][t] < 0) fail("type " + std::to_string(h) + " on > bought");
      double gpus = 0, cores = 0, dram = 0;
      for (std::size_t e = 0; e < E; ++e) {
        const auto& ce = p.capacity[e];
        if (static_cast<std::size_t>(ce.type_index) != h) continue;
        const double v = plan.instances[e][t];
        if (v < -1e-9) fail("negative instances");
        if (integer_instances && std::abs(v - std::round(v)) > 1e-9) fail("fractional instances");
        if (ce.device == Device::kGpu) {
          gpus += ce.gpus * v;
        } else {
          cores += ce.cores * v;
          dram += ce.dram_gb * v;
        }
      }
      const auto& ty = p.types[h];
      if (gpus > ty.gpus * plan.on[h][t] + 1e-6)
        fail("type " + std::to_string(h) + " slot " + std::to_string(t) + ": more GPUs than its servers on");
      const double each_core = ty.cpu.cores_each, each_dram = ty.cpu.dram_gb_each;
      if (cores > 0 && cores > std::floor((ty.cpu.host_cores - ty.cpu.reserved_cores) / each_core + 1e-9) *
                                       each_core * plan.on[h][t] +
                                   1e-6)
        fail("type " + std::to_string(h) + " slot " + std::to_string(t) + ": more host cores than its servers on");
      if (dram > 0 && dram > std::floor(ty.cpu.dram_gb / each_dram + 1e-9) * each_dram * plan.on[h][t] + 1e-6)
        fail("type " + std::to_string(h) + " slot " + std::to_string(t) + ": more host DRAM than its servers on");
    }
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto& c = p.classes[w];
    const auto served = [&](std::size_t t) {
      double r = 0;
      for (std::size_t e = 0; e < E; ++e)
        if (static_cast<std::size_t>(p.capacity[e].class_index) == w)
          r += p.capacity[e].rate * plan.instances[e][t];
      return r;
    };
    if (c.online) {
      for (std::size_t t = 0; t < T; ++t)
        if (served(t) < c.rate[t] * (1 - 1e-9) - 1e-9) fail(c.name + ": slot " + std::to_string(t) + " short");
    } else {
      for (const auto& b : c.batches) {
        double done = 0;
        for (int t = b.first_slot; t < b.end_slot; ++t) done += served(static_cast<std::size_t>(t)) * dt_s;
        if (done < b.requests * (1 - 1e-9)) fail(c.name + ": batch short");
      }
    }
  }
  return out;
}

// The cheapest integer plan of an online-only problem by enumeration (kInf when none meets the demand). Given the
// servers bought, the slots are independent: each slot's servers on and instances are enumerated on their own.
double brute_force(const Problem& p, ObjectiveKind kind, int most_per_type) {
  const std::size_t H = p.types.size(), E = p.capacity.size();
  const auto T = static_cast<std::size_t>(p.slots);
  double best = kInf;
  std::vector<int> bought(H, 0);
  const std::vector<std::vector<double>> no_y(E, std::vector<double>(T, 0));
  for (;;) {
    bool within = true;
    for (std::size_t h = 0; h < H; ++h)
      if (p.types[h].max_count >= 0) {
        int of_sku = 0;
        for (std::size_t g = 0; g < H; ++g)
          if (p.types[g].sku == p.types[h].sku) of_sku += bought[g];
        within = within && of_sku <= p.types[h].max_count;
      }
    if (within) {
      // The embodied part (servers bought): a plan with nothing on and no instances.
      double total = cost_of(p, kind, bought, std::vector<std::vector<int>>(H, std::vector<int>(T, 0)), no_y);
      for (std::size_t t = 0; t < T && total < kInf; ++t) {
        double slot_best = kInf;
        std::vector<int> on(H, 0);
        for (;;) {
          // Instances per entry: at most what the servers on hold alone.
          std::vector<int> most(E), y(E, 0);
          for (std::size_t e = 0; e < E; ++e)
            most[e] = p.types[static_cast<std::size_t>(p.capacity[e].type_index)].gpus *
                      on[static_cast<std::size_t>(p.capacity[e].type_index)] / p.capacity[e].gpus;
          for (;;) {
            bool fits = true;
            for (std::size_t h = 0; h < H; ++h) {
              int used = 0;
              for (std::size_t e = 0; e < E; ++e)
                if (static_cast<std::size_t>(p.capacity[e].type_index) == h) used += p.capacity[e].gpus * y[e];
              fits = fits && used <= p.types[h].gpus * on[h];
            }
            bool meets = true;
            for (std::size_t w = 0; w < p.classes.size(); ++w) {
              double r = 0;
              for (std::size_t e = 0; e < E; ++e)
                if (static_cast<std::size_t>(p.capacity[e].class_index) == w) r += p.capacity[e].rate * y[e];
              meets = meets && r >= p.classes[w].rate[t] * (1 - 1e-12);
            }
            if (fits && meets) {
              std::vector<std::vector<int>> on_t(H, std::vector<int>(T, 0));
              std::vector<std::vector<double>> y_t(E, std::vector<double>(T, 0));
              for (std::size_t h = 0; h < H; ++h) on_t[h][t] = on[h];
              for (std::size_t e = 0; e < E; ++e) y_t[e][t] = y[e];
              slot_best = std::min(slot_best, cost_of(p, kind, std::vector<int>(H, 0), on_t, y_t));
            }
            std::size_t e = 0;
            while (e < E && ++y[e] > most[e]) y[e++] = 0;
            if (e == E) break;
          }
          std::size_t h = 0;
          while (h < H && ++on[h] > bought[h]) on[h++] = 0;
          if (h == H) break;
        }
        total += slot_best;
      }
      best = std::min(best, total);
    }
    std::size_t h = 0;
    while (h < H && ++bought[h] > most_per_type) bought[h++] = 0;
    if (h == H) break;
  }
  return best;
}

// A small deterministic generator (the same draws on every platform).
struct Draws {
  std::uint64_t s;
  std::uint64_t next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  }
  int pick(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
};

}  // namespace

TEST_CASE("planner bruteforce: the integer program's optimum equals enumeration on tiny problems") {
  const ObjectiveKind kinds[] = {ObjectiveKind::kCarbon, ObjectiveKind::kEnergy, ObjectiveKind::kCost};
  const char* names[] = {"carbon", "energy", "cost"};
  int solved = 0, infeasible = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Draws d{seed};
    Problem p;
    p.slots = 2;
    p.ci = {static_cast<double>(d.pick(10, 600)), static_cast<double>(d.pick(10, 600))};
    p.pue = 1 + d.pick(0, 3) * 0.1;
    // Two types with 2 or 4 GPUs, at most 2 servers each; embodied carbon large enough to matter over 2 h.
    p.types = {type("a", d.pick(1, 2) * 2, d.pick(100, 2000), d.pick(0, 20000), d.pick(1, 30), 2),
               type("b", d.pick(1, 2) * 2, d.pick(100, 2000), d.pick(0, 20000), d.pick(1, 30), 2)};
    WorkloadClass chat;
    chat.name = "chat";
    chat.model = "m";
    chat.rate = {static_cast<double>(d.pick(1, 40)), static_cast<double>(d.pick(0, 40))};
    p.classes = {chat};
    if (d.pick(0, 1) == 1) {
      WorkloadClass code = chat;
      code.name = "code";
      code.rate = {static_cast<double>(d.pick(0, 15)), static_cast<double>(d.pick(1, 15))};
      p.classes.push_back(code);
    }
    // Entries: per class and type, TP 1, and on type a also TP 2.
    for (int w = 0; w < static_cast<int>(p.classes.size()); ++w)
      for (int h = 0; h < 2; ++h) {
        p.capacity.push_back(
            CapacityEntry{w, h, 1, static_cast<double>(d.pick(2, 12)), static_cast<double>(d.pick(50, 600))});
        if (h == 0)
          p.capacity.push_back(
              CapacityEntry{w, h, 2, static_cast<double>(d.pick(5, 30)), static_cast<double>(d.pick(100, 1200))});
      }
    for (int k = 0; k < 3; ++k) {
      CAPTURE(seed);
      const std::string name = names[k];
      CAPTURE(name);
      const double expected = brute_force(p, kinds[k], 2);
      const auto objective = test::objective(names[k]);
      if (!std::isfinite(expected)) {
        CHECK_THROWS_AS(planning::solve_plan(p, objective, test::exact()), core::InputError);
        ++infeasible;
        continue;
      }
      const Plan plan = planning::solve_plan(p, objective, test::exact());
      ++solved;
      CHECK(plan.status == "optimal");
      CHECK(plan.objective_value == doctest::Approx(expected).epsilon(1e-7));
      CHECK(violations(p, plan, true) == "");
      // The plan's own numbers price it as the objective does.
      std::vector<std::vector<int>> on = plan.on;
      CHECK(cost_of(p, kinds[k], plan.bought, on, plan.instances) == doctest::Approx(expected).epsilon(1e-7));
      // Continuous instances relax the program: never above the integer optimum, and still a valid plan.
      const Plan relaxed = planning::solve_plan(p, objective, test::exact(false));
      CHECK(relaxed.objective_value <= expected * (1 + 1e-9) + 1e-12);
      CHECK(violations(p, relaxed, false) == "");
    }
  }
  // The draws cover both outcomes.
  CHECK(solved > 60);
  CHECK(infeasible > 0);
}

TEST_CASE("planner bruteforce: integer instances never break a SKU's purchase limit shared by its hosts") {
  // One SKU of 8 GPUs offered with two hosts and at most one server; one GPU serves 1 req/s of either class.
  // Chat needs 2.5 req/s and code 5.5: the continuous program fills the server's 8 GPUs exactly, whole instances
  // need 9. The rounding of the continuous plan (2 + 5 instances, a third chat instance on the spare GPU) needs a
  // sixth code instance, which only a second server of the SKU, on its other host, can hold.
  Problem p;
  p.slots = 1;
  p.ci = {100};
  p.types = {type("a", 8, 1000, 1000, 1, 1), type("a", 8, 900, 900, 1, 1)};
  p.types[1].host = "reduced";
  WorkloadClass chat;
  chat.name = "chat";
  chat.model = "m";
  chat.rate = {2.5};
  WorkloadClass code = chat;
  code.name = "code";
  code.rate = {5.5};
  p.classes = {chat, code};
  p.capacity = {CapacityEntry{0, 0, 1, 1, 300}, CapacityEntry{0, 1, 1, 1, 300}, CapacityEntry{1, 0, 1, 1, 300},
                CapacityEntry{1, 1, 1, 1, 300}};
  CHECK(std::isinf(brute_force(p, ObjectiveKind::kCarbon, 1)));
  CHECK(violations(p, planning::solve_plan(p, test::objective("carbon"), test::exact(false)), false) == "");
  for (const std::string name : {"carbon", "energy", "cost"}) {
    CAPTURE(name);
    try {
      const Plan plan = planning::solve_plan(p, test::objective(name), test::exact());
      FAIL("expected no plan, got one with violations: " << violations(p, plan, true));
    } catch (const core::InputError&) {
    }
  }
  // With 2 + 5 req/s the one server suffices, on the cheaper host.
  p.classes[0].rate = {2};
  p.classes[1].rate = {5};
  const Plan two = planning::solve_plan(p, test::objective("carbon"), test::exact());
  CHECK(violations(p, two, true) == "");
  CHECK(two.bought == std::vector<int>{0, 1});
}

TEST_CASE("planner bruteforce: integer instances keep the servers their CPU instances run on") {
  // One type whose host holds three CPU instances of 32 cores (112 cores, 16 reserved) and an offline class kept
  // on CPUs: 10,800 requests over two hours at 0.5 req/s per instance is three instances in each slot, on one
  // server on in both. The rounded plan of the continuous program is already integral; its servers on must
  // still count the CPU instances' cores, not only the GPUs (none here).
  Problem p;
  p.slots = 2;
  p.ci = {300, 300};
  p.types = {type("hgx", 8, 1500, 4000, 10, -1)};
  p.types[0].cpu.cores_each = 32;
  p.types[0].cpu.reserved_cores = 16;
  p.types[0].cpu.host_cores = 112;
  p.types[0].cpu.dram_gb = 1900;
  WorkloadClass batch;
  batch.name = "batch";
  batch.model = "m";
  batch.online = false;
  batch.on_gpu = false;
  batch.batches = {{10800, 0, 2}};
  p.classes = {batch};
  CapacityEntry cpu{0, 0, 0, 0.5, 45};
  cpu.device = Device::kCpu;
  cpu.cores = 32;
  cpu.dram_gb = 64;
  p.capacity = {cpu};
  for (const bool integer : {false, true}) {
    CAPTURE(integer);
    const Plan plan = planning::solve_plan(p, test::objective("carbon"), test::exact(integer));
    CHECK(violations(p, plan, integer) == "");
    CHECK(plan.bought == std::vector<int>{1});
    CHECK(plan.on[0] == std::vector<int>{1, 1});
    CHECK(plan.cpu_instances[0][0] == doctest::Approx(3));
    // One server for two hours, its idle power and three CPU instances' in both slots.
    const double expected = 4000 * 2 / (4 * 8760.0) + (1500 * 2 + 45 * 3 * 2) / 1000.0 * 300 / 1000;
    CHECK(plan.objective_value == doctest::Approx(expected));
  }
}

namespace {

// Whether whole servers and instances meet every constraint (one SKU per type, GPU entries only).
bool feasible(const Problem& p, const std::vector<int>& bought, const std::vector<std::vector<int>>& on,
              const std::vector<std::vector<double>>& y) {
  const double dt_s = core::to_seconds(p.slot);
  for (std::size_t h = 0; h < p.types.size(); ++h) {
    if (p.types[h].max_count >= 0 && bought[h] > p.types[h].max_count) return false;
    for (int t = 0; t < p.slots; ++t) {
      if (on[h][static_cast<std::size_t>(t)] > bought[h]) return false;
      double gpus = 0;
      for (std::size_t e = 0; e < p.capacity.size(); ++e)
        if (static_cast<std::size_t>(p.capacity[e].type_index) == h)
          gpus += p.capacity[e].gpus * y[e][static_cast<std::size_t>(t)];
      if (gpus > p.types[h].gpus * on[h][static_cast<std::size_t>(t)]) return false;
    }
  }
  for (std::size_t w = 0; w < p.classes.size(); ++w) {
    const auto served = [&](int t) {
      double r = 0;
      for (std::size_t e = 0; e < p.capacity.size(); ++e)
        if (static_cast<std::size_t>(p.capacity[e].class_index) == w)
          r += p.capacity[e].rate * y[e][static_cast<std::size_t>(t)];
      return r;
    };
    const auto& c = p.classes[w];
    if (c.online) {
      for (int t = 0; t < p.slots; ++t)
        if (served(t) < c.rate[static_cast<std::size_t>(t)] * (1 - 1e-12)) return false;
    } else {
      for (const auto& b : c.batches) {
        double done = 0;
        for (int t = b.first_slot; t < b.end_slot; ++t) done += served(t) * dt_s;
        if (done < b.requests * (1 - 1e-12)) return false;
      }
    }
  }
  return true;
}

// The cheapest integer plan by enumerating every variable jointly (offline batches couple the slots).
double brute_force_joint(const Problem& p, ObjectiveKind kind, int most_per_type) {
  const std::size_t H = p.types.size(), E = p.capacity.size();
  const auto T = static_cast<std::size_t>(p.slots);
  std::vector<int> bought(H, 0);
  std::vector<std::vector<int>> on(H, std::vector<int>(T, 0));
  std::vector<std::vector<double>> y(E, std::vector<double>(T, 0));
  double best = kInf;
  // Variables in order: servers bought, then servers on, then instances; each from 0 to its largest value.
  std::vector<std::pair<int*, int>> ints;  // servers
  for (std::size_t h = 0; h < H; ++h) ints.push_back({&bought[h], most_per_type});
  for (std::size_t h = 0; h < H; ++h)
    for (std::size_t t = 0; t < T; ++t) ints.push_back({&on[h][t], most_per_type});
  std::vector<std::pair<double*, int>> inst;
  for (std::size_t e = 0; e < E; ++e)
    for (std::size_t t = 0; t < T; ++t)
      inst.push_back({&y[e][t], p.types[static_cast<std::size_t>(p.capacity[e].type_index)].gpus * most_per_type /
                                    p.capacity[e].gpus});
  for (;;) {
    for (;;) {
      if (feasible(p, bought, on, y)) best = std::min(best, cost_of(p, kind, bought, on, y));
      std::size_t k = 0;
      while (k < inst.size() && ++*inst[k].first > inst[k].second) *inst[k++].first = 0;
      if (k == inst.size()) break;
    }
    std::size_t k = 0;
    while (k < ints.size() && ++*ints[k].first > ints[k].second) *ints[k++].first = 0;
    if (k == ints.size()) break;
  }
  return best;
}

}  // namespace

TEST_CASE("planner bruteforce: offline batches and online demand together, against joint enumeration") {
  const ObjectiveKind kinds[] = {ObjectiveKind::kCarbon, ObjectiveKind::kEnergy, ObjectiveKind::kCost};
  const char* names[] = {"carbon", "energy", "cost"};
  int solved = 0;
  for (std::uint64_t seed = 101; seed <= 112; ++seed) {
    Draws d{seed};
    Problem p;
    p.slots = 2;
    p.ci = {static_cast<double>(d.pick(10, 600)), static_cast<double>(d.pick(10, 600))};
    p.types = {type("a", 2, d.pick(100, 1500), d.pick(0, 20000), d.pick(1, 30), 2)};
    WorkloadClass chat;
    chat.name = "chat";
    chat.model = "m";
    chat.rate = {static_cast<double>(d.pick(0, 12)), static_cast<double>(d.pick(0, 12))};
    WorkloadClass batch;
    batch.name = "batch";
    batch.model = "m";
    batch.online = false;
    // 1/3600 req/s per instance makes an instance-slot one request: volumes in whole instance-slots.
    batch.batches = {{static_cast<double>(d.pick(1, 5)), 0, d.pick(1, 2)}};
    p.classes = {chat, batch};
    p.capacity = {CapacityEntry{0, 0, 1, static_cast<double>(d.pick(3, 8)), static_cast<double>(d.pick(50, 500))},
                  CapacityEntry{1, 0, 1, 1.0 / 3600, static_cast<double>(d.pick(50, 500))},
                  CapacityEntry{1, 0, 2, 2.5 / 3600, static_cast<double>(d.pick(100, 900))}};
    for (int k = 0; k < 3; ++k) {
      CAPTURE(seed);
      const std::string name = names[k];
      CAPTURE(name);
      const double expected = brute_force_joint(p, kinds[k], 2);
      const auto objective = test::objective(names[k]);
      if (!std::isfinite(expected)) {
        CHECK_THROWS_AS(planning::solve_plan(p, objective, test::exact()), core::InputError);
        continue;
      }
      const Plan plan = planning::solve_plan(p, objective, test::exact());
      ++solved;
      CHECK(plan.objective_value == doctest::Approx(expected).epsilon(1e-7));
      CHECK(violations(p, plan, true) == "");
    }
  }
  CHECK(solved > 20);
}

TEST_CASE("planner bruteforce: infeasible demand on a SKU offered with two hosts names the slot and the class") {
  // At most one 2-GPU server of SKU a, on either host; 1 req/s per GPU: 2 req/s at most. 3 req/s in slot 1, or an
  // offline batch needing 3 req/s over its window, is refused before any solve, naming the slot or the batch and
  // the class, with the SKU's real capacity (not both hosts' summed).
  Problem p;
  p.slots = 2;
  p.ci = {100, 100};
  p.types = {type("a", 2, 500, 1000, 1, 1), type("a", 2, 400, 800, 1, 1)};
  p.types[1].host = "reduced";
  WorkloadClass chat;
  chat.name = "chat";
  chat.model = "m";
  chat.rate = {2, 3};
  p.classes = {chat};
  p.capacity = {CapacityEntry{0, 0, 1, 1, 100}, CapacityEntry{0, 1, 1, 1, 100}};
  for (const bool integer : {false, true}) {
    CAPTURE(integer);
    CHECK_THROWS_WITH_AS(planning::solve_plan(p, test::objective("carbon"), test::exact(integer)),
                         doctest::Contains("infeasible demand in slot 1 [0d 01:00, 0d 02:00) for class 'chat': 3 "
                                           "requests/s, at most 2 requests/s"),
                         core::InputError);
    // The GPU count of the SKU is counted once as well.
    p.capacity = {CapacityEntry{0, 0, 1, 2, 100}, CapacityEntry{0, 1, 1, 2, 100}};
    p.classes[0].rate = {2, 5};
    CHECK_THROWS_WITH_AS(planning::solve_plan(p, test::objective("carbon"), test::exact(integer)),
                         doctest::Contains("for class 'chat': 5 requests/s, at most 4 requests/s"),
                         core::InputError);
    p.capacity = {CapacityEntry{0, 0, 1, 1, 100}, CapacityEntry{0, 1, 1, 1, 100}};
    p.classes[0].rate = {2, 3};
  }
  // Offline: 3 requests per hour-slot of capacity needed, 2 per slot available over a one-slot window.
  WorkloadClass batch;
  batch.name = "batch";
  batch.model = "m";
  batch.online = false;
  batch.batches = {{3 * 3600, 0, 1}};
  p.classes = {batch};
  CHECK_THROWS_WITH_AS(planning::solve_plan(p, test::objective("carbon"), test::exact()),
                       doctest::Contains("infeasible demand for offline class 'batch'"), core::InputError);
  // 2 req/s fits: one server.
  p.classes = {chat};
  p.classes[0].rate = {2, 2};
  CHECK(planning::solve_plan(p, test::objective("carbon"), test::exact()).bought == std::vector<int>{0, 1});
}
