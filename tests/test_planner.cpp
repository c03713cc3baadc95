#include <doctest/doctest.h>

#include <string>

#include "planner_support.hpp"
#include "sim/core/error.hpp"
#include "sim/planning/capacity.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/objectives.hpp"
#include "sim/planning/plan_config.hpp"
#include "test_support.hpp"

using namespace greenfleet;
using planning::CapacityEntry;
using planning::Objective;
using planning::Problem;
using planning::ServerType;
using planning::WorkloadClass;
using test::exact;
using test::objective;

namespace {

// A type whose embodied carbon amortises to `emb_kg_per_h` per hour of the horizon (4-year lifetime).
ServerType type(std::string sku, int gpus, double idle_w, double emb_kg_per_h, double usd, double tflops = 1000,
                int max_count = -1) {
  ServerType t;
  t.sku = std::move(sku);
  t.gpus = gpus;
  t.idle_w = idle_w;
  t.embodied_kg = emb_kg_per_h * 4 * 8760;
  t.lifetime_years = 4;
  t.usd_per_hour = usd;
  t.gpu_tflops = tflops;
  t.max_count = max_count;
  return t;
}

WorkloadClass online(std::string name, std::vector<double> rate) {
  WorkloadClass c;
  c.name = std::move(name);
  c.model = "llama-3.1-8b";
  c.rate = std::move(rate);
  return c;
}

}  // namespace

TEST_CASE("planner: a problem solved by hand") {
  // One type of 4 GPUs: 1 kW idle, 1 kg of embodied carbon per hour; an instance is 1 GPU serving 10 req/s at
  // 500 W more. CI 1000 g/kWh, PUE 1: a server on for an hour is 1 kg, an instance 0.5 kg.
  // Slot 0 needs 25 req/s (3 instances, one server), slot 1 45 req/s (5 instances, two servers). By hand: buy 2
  // (2 kg each over the 2 h horizon = 4), on 1 + 2 (3), instances 3 + 5 (4): 11 kg.
  Problem p;
  p.slots = 2;
  p.ci = {1000, 1000};
  p.types = {type("a", 4, 1000, 1, 1)};
  p.classes = {online("chat", {25, 45})};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 500}};
  const auto plan = planning::solve_plan(p, objective("carbon"), exact());
  CHECK(plan.status == "optimal");
  CHECK(plan.objective_value == doctest::Approx(11));
  CHECK(plan.bound == doctest::Approx(11));
  CHECK(plan.gap == doctest::Approx(0));
  CHECK(plan.bought == std::vector<int>{2});
  CHECK(plan.on[0] == std::vector<int>{1, 2});
  CHECK(plan.instances[0] == std::vector<double>{3, 5});
  CHECK(plan.operational_kg == doctest::Approx(7));
  CHECK(plan.embodied_kg == doctest::Approx(4));
  CHECK(plan.energy_kwh == doctest::Approx(7));
  CHECK(plan.gpus_bought == 8);
  CHECK(plan.integer_variables == plan.variables);

  // With tensor parallelism 2 (2 GPUs for 25 req/s), slot 1 needs ceil(45/25) = 2 instances on one server, and
  // slot 0 one instance: buy 1 (2), on 1 + 1 (2), instances 1 + 2 at 1 kW each (3) = 7 kg.
  p.capacity.push_back(CapacityEntry{0, 0, 2, 25, 1000});
  const auto both = planning::solve_plan(p, objective("carbon"), exact());
  CHECK(both.objective_value == doctest::Approx(7));
  CHECK(both.bought == std::vector<int>{1});
  CHECK(both.instances[1] == std::vector<double>{1, 2});
  CHECK(both.instances[0] == std::vector<double>{0, 0});
}

TEST_CASE("planner: offline work moves to the low-carbon slot before its deadline") {
  // 36,000 requests due within 2 h at 10 req/s per instance: one instance-hour. CI 500 then 50: the work goes to
  // slot 1, and the server is on there only (slot 0 has no online demand).
  Problem p;
  p.slots = 2;
  p.ci = {500, 50};
  p.types = {type("a", 1, 100, 0.01, 1)};
  WorkloadClass c;
  c.name = "batch";
  c.online = false;
  c.batches = {{36000, 0, 2}};
  p.classes = {c};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 400}};
  const auto plan = planning::solve_plan(p, objective("carbon"), exact());
  CHECK(plan.instances[0] == std::vector<double>{0, 1});
  CHECK(plan.on[0] == std::vector<int>{0, 1});
  // 0.5 kWh at 50 g/kWh, plus two hours of 0.01 kg.
  CHECK(plan.objective_value == doctest::Approx(0.025 + 0.02));
  // A deadline of one slot forces slot 0.
  p.classes[0].batches = {{36000, 0, 1}};
  CHECK(planning::solve_plan(p, objective("carbon"), exact()).instances[0] == std::vector<double>{1, 0});
}

TEST_CASE("planner: infeasible demand names the slot and the class") {
  Problem p;
  p.slots = 3;
  p.ci = {100, 100, 100};
  p.types = {type("a", 4, 1000, 1, 1, 1000, 1)};  // at most one server: 4 instances, 40 req/s
  p.classes = {online("chat", {30, 40, 45})};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 500}};
  const auto fails = [&](const std::string& a, const std::string& b) {
    try {
      planning::solve_plan(p, objective("carbon"), exact());
      FAIL("expected an InputError");
    } catch (const core::InputError& e) {
      const std::string m = e.what();
      CHECK_MESSAGE(m.find(a) != std::string::npos, m);
      CHECK_MESSAGE(m.find(b) != std::string::npos, m);
    }
  };
  fails("slot 2 [0d 02:00, 0d 03:00)", "class 'chat'");
  // Each class alone fits, both together do not: the message names the slot and both classes.
  p.classes = {online("chat", {30, 20, 10}), online("code", {0, 25, 5})};
  p.capacity.push_back(CapacityEntry{1, 0, 1, 10, 500});
  fails("slot 1 [0d 01:00, 0d 02:00)", "'chat', 'code'");
  // A class no server type can serve.
  p.classes = {online("chat", {1, 1, 1}), online("rare", {0, 1, 0})};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 500}};
  fails("slot 1", "class 'rare'");
  // Offline volume beyond the window's capacity: 10 req/s x 4 instances x 3 h = 432,000.
  WorkloadClass batch;
  batch.name = "batch";
  batch.online = false;
  batch.batches = {{500000, 0, 3}};
  p.classes = {batch};
  fails("offline class 'batch'", "500000");
}

TEST_CASE("planner: the baselines differ as expected on a toy case") {
  // New: 1 GPU, 10 req/s, 200 W busy, 1 kg/h embodied, $10/h, 1000 TFLOP/s. Old: 5 req/s, 300 W busy, 0.01
  // kg/h, $1/h, 100 TFLOP/s. 10 req/s for one hour. Energy: new 0.3 kWh, old 2 x 0.4. Carbon at 10 g/kWh:
  // new 1.003 kg, old 0.028 kg; at 5000 g/kWh: new 2.5 kg, old 4.02 kg. Cost: new $10, old $2.
  Problem p;
  p.slots = 1;
  p.ci = {10};
  p.types = {type("new", 1, 100, 1, 10, 1000), type("old", 1, 100, 0.01, 1, 100)};
  p.classes = {online("chat", {10})};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 200}, CapacityEntry{0, 1, 1, 5, 300}};
  const auto bought = [&](const std::string& name) {
    return planning::solve_plan(p, objective(name), exact()).bought;
  };
  CHECK(bought("carbon") == std::vector<int>{0, 2});
  CHECK(bought("energy") == std::vector<int>{1, 0});
  CHECK(bought("performance") == std::vector<int>{1, 0});
  CHECK(bought("cost") == std::vector<int>{0, 2});
  const auto carbon = planning::solve_plan(p, objective("carbon"), exact());
  CHECK(carbon.objective_value == doctest::Approx(0.028));
  CHECK(carbon.cost_usd == doctest::Approx(2));
  p.ci = {5000};
  CHECK(bought("carbon") == std::vector<int>{1, 0});
  // Operational carbon only (embodied_weight 0) picks the lower-energy type even at low CI.
  p.ci = {10};
  auto values = core::default_values(planning::objectives().info("carbon").params);
  values.set("embodied_weight", core::ParamType::kNumber, 0.0);
  CHECK(planning::solve_plan(p, planning::objectives().create("carbon", values), exact()).bought ==
        std::vector<int>{1, 0});
}

TEST_CASE("planner: continuous instances are a declared relaxation, servers stay integer") {
  Problem p;
  p.slots = 1;
  p.ci = {1000};
  p.types = {type("a", 4, 1000, 1, 1)};
  p.classes = {online("chat", {25})};
  p.capacity = {CapacityEntry{0, 0, 1, 10, 500}};
  auto s = exact();
  s.integer_instances = false;
  const auto plan = planning::solve_plan(p, objective("carbon"), s);
  CHECK(plan.instances[0][0] == doctest::Approx(2.5));
  CHECK(plan.bought == std::vector<int>{1});
  CHECK(plan.integer_variables == 2);  // N and n
}

TEST_CASE("planner: the planning file is validated with file:line and key") {
  test::TempDir dir;
  const std::string good = test::kSmallPlanFile + "baselines: [{name: energy}]\n";
  const auto pc = planning::load_plan_config(dir.write("good.yaml", good), test::catalog());
  CHECK(pc.problem.slots == 2);
  CHECK(pc.problem.types[0].gpus == 4);
  CHECK(pc.problem.types[0].usd_per_hour == doctest::Approx(3.912));
  CHECK(pc.problem.types[0].embodied_kg > 0);
  CHECK(pc.baselines.size() == 1);
  const auto rows = planning::build_capacity(pc, test::catalog(), "", false);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].entry.rate == 2);
  // Default active power: the GPU's decode minus idle power.
  const auto& t4 = test::catalog().gpu("t4");
  CHECK(rows[0].entry.active_w == doctest::Approx(t4.power.decode_w - t4.power.idle_w));

  const auto error_of = [&](std::vector<std::pair<std::string, std::string>> edits) {
    std::string text = good;
    for (const auto& [from, to] : edits) {
      const auto at = text.find(from);
      REQUIRE(at != std::string::npos);
      text.replace(at, from.size(), to);
    }
    try {
      planning::load_plan_config(dir.write("bad.yaml", text), test::catalog());
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const auto has = [](const std::string& text, const std::string& part) {
    INFO(text);
    return text.find(part) != std::string::npos;
  };
  CHECK(has(error_of({{"sku: pcie-t4x4\n", "sku: pcie-t4x9\n"}}), "bad.yaml:5:"));
  CHECK(has(error_of({{"sku: pcie-t4x4\n", "sku: pcie-t4x9\n"}}), "did you mean 'pcie-t4x4'"));
  CHECK(has(error_of({{"{name: carbon}", "{name: carbn}"}}), "objective.name"));
  CHECK(has(error_of({{"horizon: 2h", "horizon: 90m"}}), "horizon"));
  CHECK(has(error_of({{"    slo:", "    sol:"}}), "classes[0].slo"));
  CHECK(has(error_of({{"[{name: energy}]", "[{name: cost, electricity_usd_per_kwh: -1}]"}}),
            "electricity_usd_per_kwh"));
  CHECK(has(error_of({{"rate: 2}", "rate: 2, tensor_parallel: 3}"}}), "does not divide"));
  // A degree to simulate that no server's GPU count divides is refused where it is written, not at the solve.
  CHECK(has(error_of({{"    slo: {ttft", "    tensor_parallel: [3]\n    slo: {ttft"}}),
            "classes[0].tensor_parallel: 3 divides the GPU count of none"));
  CHECK(has(error_of({{"    slo: {ttft", "    tensor_parallel: [1, 4]\n    slo: {ttft"}}), "no error"));
  // A degree that would split the model's heads unevenly (Llama-68M: 12 heads) is refused at its own line too.
  CHECK(has(error_of({{"sku: pcie-t4x4\n", "sku: pcie-v100x8\n"},
                      {"model: llama-3.1-8b", "model: llama-68m"},
                      {"    slo: {ttft", "    tensor_parallel: [1, 8]\n    slo: {ttft"}}),
            "bad.yaml:10:22: classes[0].tensor_parallel: 8 does not split the 12 attention heads"));
  CHECK(has(error_of({{"{class: chat,", "{class: chat2,"}}), "no class 'chat2'"));
  // One plan per objective in the plan file (run --plan-objective picks by name).
  CHECK(has(error_of({{"[{name: energy}]", "[{name: carbon}]"}}),
            "baselines[0].name: objective 'carbon' is planned"));
  CHECK(has(error_of({{"[{name: energy}]", "[{name: energy}, {name: energy}]"}}), "baselines[1].name"));
  // The cost objective needs a price for every type offered: pcie-v100x8 has none in the catalog.
  const std::vector<std::pair<std::string, std::string>> v100 = {
      {"- sku: pcie-t4x4\n", "- sku: pcie-v100x8\n"}, {"sku: pcie-t4x4, rate", "sku: pcie-v100x8, rate"}};
  CHECK(has(error_of(v100), "no error"));
  auto priced = v100;
  priced.push_back({"[{name: energy}]", "[{name: cost}]"});
  CHECK(has(error_of(priced), "usd_per_hour"));
}

TEST_CASE("planner: capacity tables from simulations follow the SLO, and are cached") {
  test::TempDir dir;
  const auto plan = [&](const std::string& ttft) {
    return dir.write("cap.yaml",
                     "name: cap\nhorizon: 1h\ncarbon_intensity: {kind: constant, value: 100}\n"
                     "servers: [{sku: hgx-h100x8}, {sku: pcie-t4x4}]\n"
                     "classes:\n"
                     "  - {name: chat, model: llama-3.1-8b, online: {kind: constant, value: 10},\n"
                     "     slo: {ttft: " +
                         ttft +
                         ", tpot: 100ms}}\n"
                         "  - {name: batch, model: llama-3.1-8b, offline: {requests: 1000}}\n"
                         "capacity: {experiment: " +
                         std::string(GREENFLEET_SOURCE_DIR) +
                         "/experiments/quickstart.yaml, cache: " + dir.path("cache") +
                         ", requests_per_instance: 100, warmup_per_instance: 10}\n"
                         "objective: {name: carbon}\n");
  };
  const auto rows_for = [&](const std::string& ttft, bool rebuild) {
    const auto pc = planning::load_plan_config(plan(ttft), test::catalog());
    return planning::build_capacity(pc, test::catalog(), "", rebuild);
  };
  const auto strict = rows_for("200ms", false);
  // Llama-3.1-8B does not fit a 16 GB T4: entries on the H100 server only, one per class.
  REQUIRE(strict.size() == 2);
  CHECK(strict[0].source == "simulated");
  CHECK(strict[0].entry.type_index == 0);
  CHECK(strict[0].entry.rate > 0);
  CHECK(strict[0].entry.active_w > 0);
  CHECK(strict[0].entry.active_w < test::catalog().gpu("h100-sxm").tdp_w);
  CHECK(strict[1].entry.rate > 0);  // offline throughput
  const auto loose = rows_for("2s", false);
  REQUIRE(loose.size() == 2);
  CHECK(loose[0].source == "simulated");  // another SLO is another cache key
  CHECK(loose[0].entry.rate > strict[0].entry.rate);
  const auto again = rows_for("200ms", false);
  CHECK(again[0].source == "cached");
  CHECK(again[0].entry.rate == strict[0].entry.rate);
  CHECK(rows_for("200ms", true)[0].source == "simulated");
}

TEST_CASE("planner: the demand check uses the program's bound on instances, continuous or whole") {
  // One server of 8 GPUs at most; an instance takes 3 GPUs and serves 10 req/s. Continuous instances may fill all
  // 8 GPUs (2.67 instances, 26.7 req/s): 25 req/s is met with 2.5 instances. Whole instances fill 6 GPUs (2
  // instances, 20 req/s): the same demand is infeasible, and the message says so.
  Problem p;
  p.slots = 1;
  p.ci = {100};
  p.types = {type("a", 8, 1000, 1, 1, 1000, 1)};
  p.classes = {online("chat", {25})};
  p.capacity = {CapacityEntry{0, 0, 3, 10, 500}};
  const auto continuous = planning::solve_plan(p, objective("carbon"), exact(false));
  CHECK(continuous.bought == std::vector<int>{1});
  CHECK(continuous.instances[0][0] == doctest::Approx(2.5));
  CHECK_NOTHROW(planning::check_feasible(p, objective("carbon"), false));
  const auto refused = [&](const std::string& most) {
    try {
      planning::solve_plan(p, objective("carbon"), exact(true));
      FAIL("expected an InputError");
    } catch (const core::InputError& e) {
      const std::string m = e.what();
      CHECK_MESSAGE(m.find("class 'chat'") != std::string::npos, m);
      CHECK_MESSAGE(m.find(most) != std::string::npos, m);
    }
  };
  refused("at most 20 requests/s");
  // Beyond what even continuous instances reach (26.67 req/s), both are refused before any solve.
  p.classes = {online("chat", {27})};
  CHECK_THROWS_AS(planning::check_feasible(p, objective("carbon"), false), core::InputError);
  refused("at most 20 requests/s");
  // Offline: 90,000 requests in one hour need 25 req/s, the same bound (continuous 96,000, whole 72,000).
  WorkloadClass batch;
  batch.name = "batch";
  batch.online = false;
  batch.batches = {{90000, 0, 1}};
  p.classes = {batch};
  const auto offline = planning::solve_plan(p, objective("carbon"), exact(false));
  CHECK(offline.instances[0][0] == doctest::Approx(2.5));
  CHECK_THROWS_AS(planning::solve_plan(p, objective("carbon"), exact(true)), core::InputError);
}
