#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "planner_support.hpp"
#include "sim/core/error.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/plan_config.hpp"
#include "test_support.hpp"

// The planner's stopping rule (docs/PLANNING.md, "Solver"): a search stopped by solver.max_nodes gives the same
// plan whatever the time limit and however fast the CPU clock runs, so the same input gives the same plan on any
// machine and load.

using namespace greenfleet;
using planning::CapacityEntry;
using planning::Problem;
using planning::ServerType;
using planning::WorkloadClass;

namespace {

ServerType type(std::string sku, int gpus, double idle_w, double embodied_kg, double tflops) {
  ServerType t;
  t.sku = std::move(sku);
  t.gpus = gpus;
  t.idle_w = idle_w;
  t.embodied_kg = embodied_kg;
  t.gpu_tflops = tflops;
  return t;
}

// A week of hourly slots on four server types, an online class on a daily cycle and a daily offline batch due
// within 24 h (the shape of the EcoServe study's week, experiments/paper/ecoserve/week_code.yaml, with round
// numbers of our own): with continuous instances CBC does not close it within a few hundred nodes at a zero gap.
// With integer instances, two days of it.
Problem week(int days) {
  Problem p;
  p.slots = 24 * days;
  p.pue = 1.12;
  p.ci.assign(p.slots, 261);
  p.types = {type("h100", 8, 1683, 4179, 990), type("a100", 8, 1257, 5449, 312), type("l40s", 4, 666, 1193, 362),
             type("l4", 8, 484, 1096, 121)};
  WorkloadClass online;
  online.name = "online";
  online.model = "llama-3.1-8b";
  for (int t = 0; t < p.slots; ++t)
    online.rate.push_back(202.8 * (1 + 0.5 * std::cos(2 * std::numbers::pi * (t % 24 + 0.5 - 14) / 24.0)));
  WorkloadClass batch;
  batch.name = "offline";
  batch.model = "llama-3.1-8b";
  batch.online = false;
  for (int d = 0; d < days; ++d) batch.batches.push_back({4656993, 24 * d, 24 * (d + 1)});
  p.classes = {online, batch};
  // (class, type, GPUs, requests/s, active W)
  p.capacity = {CapacityEntry{0, 0, 1, 18, 599},    CapacityEntry{0, 1, 1, 4.688, 319},
                CapacityEntry{0, 2, 1, 4.156, 251}, CapacityEntry{1, 0, 1, 18.38, 604},
                CapacityEntry{1, 1, 1, 6.225, 333}, CapacityEntry{1, 2, 1, 6.527, 297},
                CapacityEntry{1, 3, 1, 1.947, 57}};
  return p;
}

void check_same(const planning::Plan& a, const planning::Plan& b) {
  CHECK(a.status == b.status);
  CHECK(a.nodes == b.nodes);
  CHECK(a.objective_value == b.objective_value);
  CHECK(a.bound == b.bound);
  CHECK(a.bought == b.bought);
  CHECK(a.on == b.on);
  CHECK(a.instances == b.instances);
}

}  // namespace

TEST_CASE("planner: a search stopped by the node limit does not depend on the time limit or the clock") {
  for (const bool integer : {false, true}) {
    CAPTURE(integer);
    const Problem p = week(integer ? 2 : 3);
    planning::SolverSettings s = test::exact(integer);
    s.max_nodes = integer ? 40 : 200;
    s.time_limit_s = 20;
    const auto first = planning::solve_plan(p, test::objective("carbon"), s);
    // The node limit stopped it (a program this small that CBC closed would not test the rule), not the time
    // limit (the status would say time_limit).
    REQUIRE(first.status == "node_limit");
    CHECK(first.gap > 0);
    CHECK(first.nodes >= s.max_nodes);
    // Ten times the time, and the process's CPU clock (what CBC's limit counts) running about twice as fast:
    // a thread spinning beside the solve, as on a loaded or slower machine. Same plan.
    s.time_limit_s = 200;
    std::atomic<bool> done{false};
    std::thread spin([&] {
      volatile double x = 0;
      while (!done.load(std::memory_order_relaxed)) x = x + 1;
    });
    const auto again = planning::solve_plan(p, test::objective("carbon"), s);
    done = true;
    spin.join();
    check_same(first, again);
    // The time limit as the safety net: far too short, it stops the search first and the status says so.
    // (Or before any plan: the error names the limit.)
    s.time_limit_s = 0.001;
    s.max_nodes = 1000000;
    try {
      const auto cut = planning::solve_plan(p, test::objective("carbon"), s);
      CHECK(cut.status == "time_limit");
    } catch (const core::InputError& e) {
      CHECK(std::string(e.what()).find("solver.time_limit") != std::string::npos);
    }
  }
}

TEST_CASE("planner: solver.max_nodes is read and validated with file:line and key") {
  test::TempDir dir;
  const std::string base = test::kSmallPlanFile;
  // The defaults: the node count stops a search, the time limit far above what it takes.
  const auto defaults = planning::load_plan_config(dir.write("default.yaml", base), test::catalog());
  CHECK(defaults.solver.max_nodes == 20000);
  CHECK(defaults.solver.time_limit_s == 300);
  const auto pc = planning::load_plan_config(
      dir.write("set.yaml", base + "solver: {max_nodes: 500, time_limit: 90s}\n"), test::catalog());
  CHECK(pc.solver.max_nodes == 500);
  CHECK(pc.solver.time_limit_s == 90);
  const auto error_of = [&](const std::string& value) {
    try {
      planning::load_plan_config(dir.write("bad.yaml", base + "solver: {max_nodes: " + value + "}\n"),
                                 test::catalog());
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const std::string value : {"0", "-3", "1.5", "many", "2147483648"}) {
    CAPTURE(value);
    const std::string e = error_of(value);
    CHECK(e.find("bad.yaml:15:") != std::string::npos);
    CHECK(e.find("solver.max_nodes") != std::string::npos);
  }
  CHECK(error_of("2147483647") == "no error");
}
