#include <doctest/doctest.h>

#include <string>

#include "planner_support.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/planning/capacity.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/objectives.hpp"
#include "sim/planning/plan_config.hpp"
#include "sim/planning/plan_execution.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

// The planner's role axis (docs/PLANNING.md, "Roles"): prefill and decode instances of a class that may be split,
// their capacity tables, and the program's demand rows per role.

using namespace greenfleet;
using planning::CapacityEntry;
using planning::Problem;
using planning::Role;
using planning::ServerType;
using planning::Split;
using planning::WorkloadClass;
using test::exact;

namespace {

// A type with no embodied carbon (the choice is operational only), `gpus` GPUs, `idle_w` while on.
ServerType type(std::string sku, int gpus, double idle_w) {
  ServerType t;
  t.sku = std::move(sku);
  t.gpus = gpus;
  t.idle_w = idle_w;
  t.embodied_kg = 0;
  t.usd_per_hour = 1;
  t.gpu_tflops = 100;
  return t;
}

WorkloadClass chat(double rate, Split split) {
  WorkloadClass c;
  c.name = "chat";
  c.model = "llama-3.1-8b";
  c.rate = {rate};
  c.split = split;
  return c;
}

planning::Objective carbon() { return test::objective("carbon"); }

// One slot of an hour at 1000 g/kWh (PUE 1): a server on with one instance busy costs (idle + active) W / 1000 kg.
// Two 1-GPU types, idle 100 W each. A prefills well (unified 5, prefill 20, decode 4 req/s at 400 W), B decodes
// well (unified 2, prefill 2, decode `b_decode` req/s at 200 W). 10 req/s of chat.
Problem two_types(double b_decode, Split split) {
  Problem p;
  p.slots = 1;
  p.ci = {1000};
  p.types = {type("a", 1, 100), type("b", 1, 100)};
  p.classes = {chat(10, split)};
  p.capacity = {
      CapacityEntry{0, 0, 1, 5, 400, Role::kUnified},  CapacityEntry{0, 1, 1, 2, 200, Role::kUnified},
      CapacityEntry{0, 0, 1, 20, 400, Role::kPrefill}, CapacityEntry{0, 1, 1, 2, 200, Role::kPrefill},
      CapacityEntry{0, 0, 1, 4, 400, Role::kDecode},   CapacityEntry{0, 1, 1, b_decode, 200, Role::kDecode},
  };
  return p;
}

}  // namespace

TEST_CASE("planner roles: splitting prefill onto one type and decode onto another is optimal by hand") {
  // Unified only: 500 W per A instance for 5 req/s (100 W per req/s) beats B's 300 W for 2: two A servers,
  // 1,000 W, 1 kg. Split: one A prefill instance (20 >= 10, 500 W) and one B decode instance (10 >= 10, 300 W):
  // 800 W, 0.8 kg; no cheaper mix exists (prefill costs at least 500 W: A's, or five B's; decode at least 300 W).
  const auto never = planning::solve_plan(two_types(10, Split::kNever), carbon(), exact());
  CHECK(never.objective_value == doctest::Approx(1.0));
  CHECK(never.bought == std::vector<int>{2, 0});
  CHECK(never.instances[0] == std::vector<double>{2});
  for (int e = 1; e < 6; ++e) CHECK(never.instances[e] == std::vector<double>{0});

  for (const Split split : {Split::kAllowed, Split::kOnly}) {
    const auto plan = planning::solve_plan(two_types(10, split), carbon(), exact());
    CHECK(plan.status == "optimal");
    CHECK(plan.objective_value == doctest::Approx(0.8));
    CHECK(plan.bought == std::vector<int>{1, 1});
    CHECK(plan.instances[2] == std::vector<double>{1});  // prefill on A
    CHECK(plan.instances[5] == std::vector<double>{1});  // decode on B
    CHECK(plan.instances[0] == std::vector<double>{0});
    CHECK(plan.energy_kwh == doctest::Approx(0.8));
  }
}

TEST_CASE("planner roles: a split that does not pay stays unified unless the class must split") {
  // B decodes only 3 req/s: a split needs an A prefill (500 W) and decode for 10 req/s, at best one A (4 req/s,
  // 500 W) and two B decodes (6 req/s, 600 W): 1.6 kg against unified's 1 kg (four B decodes are 1,200 W, three
  // A decodes 1,500 W). Allowed: unified; split only: the best split, 1.6 kg.
  const auto allowed = planning::solve_plan(two_types(3, Split::kAllowed), carbon(), exact());
  CHECK(allowed.objective_value == doctest::Approx(1.0));
  CHECK(allowed.bought == std::vector<int>{2, 0});
  CHECK(allowed.instances[0] == std::vector<double>{2});
  for (int e = 1; e < 6; ++e) CHECK(allowed.instances[e] == std::vector<double>{0});

  const auto only = planning::solve_plan(two_types(3, Split::kOnly), carbon(), exact());
  CHECK(only.objective_value == doctest::Approx(1.6));
  CHECK(only.bought == std::vector<int>{2, 2});
  CHECK(only.instances[0] == std::vector<double>{0});  // unified instances are not offered
  CHECK(only.instances[2] == std::vector<double>{1});
  CHECK(only.instances[4] == std::vector<double>{1});
  CHECK(only.instances[5] == std::vector<double>{2});
}

TEST_CASE("planner roles: prefill and decode instances share a server's GPUs") {
  // One 2-GPU type (idle 100 W): unified 3 req/s, prefill 10, decode 10, each at 100 W. 10 req/s: split, one
  // server holds a prefill and a decode instance (300 W); unified needs four instances on two servers (600 W).
  Problem p;
  p.slots = 1;
  p.ci = {1000};
  p.types = {type("c", 2, 100)};
  p.classes = {chat(10, Split::kAllowed)};
  p.capacity = {CapacityEntry{0, 0, 1, 3, 100, Role::kUnified}, CapacityEntry{0, 0, 1, 10, 100, Role::kPrefill},
                CapacityEntry{0, 0, 1, 10, 100, Role::kDecode}};
  const auto plan = planning::solve_plan(p, carbon(), exact());
  CHECK(plan.objective_value == doctest::Approx(0.3));
  CHECK(plan.on[0] == std::vector<int>{1});
  CHECK(plan.instances[1] == std::vector<double>{1});
  CHECK(plan.instances[2] == std::vector<double>{1});
  p.classes[0].split = Split::kNever;
  const auto unified = planning::solve_plan(p, carbon(), exact());
  CHECK(unified.objective_value == doctest::Approx(0.6));
  CHECK(unified.on[0] == std::vector<int>{2});

  // Split only, with no decode entry: an input error saying what is missing.
  p.classes[0].split = Split::kOnly;
  p.capacity.pop_back();
  try {
    planning::solve_plan(p, carbon(), exact());
    FAIL("no error");
  } catch (const core::InputError& e) {
    CHECK(std::string(e.what()).find("both a prefill and a decode capacity entry") != std::string::npos);
  }
}

TEST_CASE("planner roles: the planning file's split and role keys") {
  test::TempDir dir;
  const std::string good = R"(name: t
horizon: 1h
carbon_intensity: {kind: constant, value: 100}
servers: [{sku: pcie-l40sx4}, {sku: pcie-l4x8}]
classes:
  - {name: chat, model: llama-3.1-8b, online: {kind: constant, value: 4}, slo: {ttft: 1s, tpot: 100ms}, split: allowed}
capacity:
  entries:
    - {class: chat, sku: pcie-l40sx4, rate: 2}
    - {class: chat, sku: pcie-l40sx4, role: prefill, rate: 8}
    - {class: chat, sku: pcie-l4x8, role: decode, rate: 4}
objective: {name: carbon}
)";
  const auto pc = planning::load_plan_config(dir.write("good.yaml", good), test::catalog());
  CHECK(pc.problem.classes[0].split == Split::kAllowed);
  const auto rows = planning::build_capacity(pc, test::catalog(), "", false);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].entry.role == Role::kUnified);
  CHECK(rows[1].entry.role == Role::kPrefill);
  CHECK(rows[1].entry.rate == 8);
  CHECK(rows[2].entry.role == Role::kDecode);
  CHECK(rows[2].entry.type_index == 1);

  const auto error_of = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    try {
      const auto bad = planning::load_plan_config(dir.write("bad.yaml", text), test::catalog());
      planning::build_capacity(bad, test::catalog(), "", false);
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("split: allowed", "split: sometimes").find("classes[0].split") != std::string::npos);
  CHECK(error_of("role: prefill", "role: verify").find("capacity.entries[1].role") != std::string::npos);
  CHECK(error_of("sku: pcie-l4x8, role: decode", "sku: pcie-l40sx4, role: prefill").find("given twice") !=
        std::string::npos);
  CHECK(error_of("online: {kind: constant, value: 4}, slo: {ttft: 1s, tpot: 100ms}", "offline: {requests: 10}")
            .find("only an online class can be split") != std::string::npos);
}

TEST_CASE("planner roles: capacity per role from simulations is monotone in GPUs and SLO") {
  // Llama-3.1-8B on a 4 x L40S server, split only: prefill rows (requests leave after their first token) and
  // decode rows (fed by a prefill pool) at TP 1 and 2; short runs (max_num_seqs 16 keeps decode runs short).
  test::TempDir dir;
  const auto rows_for = [&](const std::string& ttft, const std::string& tpot) {
    const std::string file =
        dir.write("roles.yaml",
                  "name: roles\nhorizon: 1h\ncarbon_intensity: {kind: constant, value: 100}\n"
                  "servers: [{sku: pcie-l40sx4}]\n"
                  "classes:\n"
                  "  - {name: chat, model: llama-3.1-8b, online: {kind: constant, value: 10}, split: only,\n"
                  "     tensor_parallel: [1, 2], slo: {ttft: " +
                      ttft + ", tpot: " + tpot +
                      "},\n"
                      "     set: [\"deployments.0.scheduler.max_num_seqs=16\"]}\n"
                      "capacity: {experiment: " +
                      std::string(GREENFLEET_SOURCE_DIR) +
                      "/experiments/quickstart.yaml, requests_per_instance: 60, warmup_per_instance: 10, "
                      "bisection_steps: 5}\n"
                      "objective: {name: carbon}\n");
    const auto pc = planning::load_plan_config(file, test::catalog());
    return planning::build_capacity(pc, test::catalog(), "", false);
  };
  const auto rate = [](const std::vector<planning::CapacityRow>& rows, Role role, int tp) {
    for (const auto& r : rows)
      if (r.entry.role == role && r.entry.gpus == tp) return r.entry.rate;
    return 0.0;
  };
  // A looser TTFT target for the prefill rows, a looser TPOT target for the decode rows (the decode rows' prefill
  // pool is sized from the prefill rows, so the TTFT target changes their simulations too).
  const auto strict = rows_for("300ms", "50ms");
  const auto loose_ttft = rows_for("2s", "50ms");
  const auto loose_tpot = rows_for("300ms", "200ms");
  for (const Role role : {Role::kPrefill, Role::kDecode}) {
    INFO("role " << planning::to_string(role));
    const auto& loose = role == Role::kPrefill ? loose_ttft : loose_tpot;
    CHECK(rate(strict, role, 1) > 0);
    CHECK(rate(strict, role, 2) >= rate(strict, role, 1));  // more GPUs per instance
    CHECK(rate(loose, role, 2) >= rate(loose, role, 1));
    CHECK(rate(loose, role, 1) >= rate(strict, role, 1));  // a looser SLO
    CHECK(rate(loose, role, 2) >= rate(strict, role, 2));
  }
  CHECK(rate(loose_ttft, Role::kPrefill, 1) > rate(strict, Role::kPrefill, 1));
  for (const auto& r : strict) {
    CHECK(r.entry.role != Role::kUnified);  // split only: no unified rows
    CHECK(r.entry.active_w > 0);
    CHECK(r.entry.active_w < r.entry.gpus * test::catalog().gpu("l40s").tdp_w);
  }
}

TEST_CASE("planner roles: --plan runs prefill and decode instances on their deployments") {
  test::TempDir dir;
  const auto& catalog = test::catalog();
  // Chat prefills on its own deployment and decodes on `dec` (its decode pool); fleet[0] is the servers' template
  // (the plan replaces the fleet).
  const std::string exp_text = R"(name: x
seed: 2
horizon: 20min
sites: [{name: here, carbon_intensity: 100}]
deployments:
  - {name: chat, model: llama-3.1-8b, modes: {disaggregated: {decode: dec}}}
  - {name: dec, model: llama-3.1-8b}
fleet:
  - {site: here, sku: pcie-l40sx4, deployment: chat, power: {policy: follow_plan, boot_time: 30s}}
  - {site: here, sku: hgx-h100x8, deployment: dec}
network: {tor_switch: greensku-rack}
mode_router: {name: always_disaggregated}
workload:
  source: synthetic
  deployment: chat
  synthetic:
    requests: 100000
    rate: 2
    prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.5, max: 4096}
    output_tokens: {distribution: lognormal, mean: 100, sigma: 0.5, max: 1024}
)";
  const std::string exp = dir.write("exp.yaml", exp_text);
  const auto plan_text = [](const std::string& decode_sku) {
    return R"(name: "p"
slot_s: 600
slots: 2
server_types: [{sku: pcie-l40sx4, gpus: 4, idle_w: 900}, {sku: hgx-h100x8, gpus: 8, idle_w: 2000}]
classes:
  - {name: "chat", model: llama-3.1-8b, online: true, split: only, ttft_s: 1, tpot_s: 0.1, rate: [2, 2]}
plans:
  - objective: carbon
    servers: [{sku: pcie-l40sx4, bought: 1, on: [1, 1]}, {sku: hgx-h100x8, bought: 2, on: [1, 2]}]
    instances:
      - {class: "chat", sku: pcie-l40sx4, tensor_parallel: 1, role: prefill, per_slot: [2, 2]}
      - {class: "chat", sku: )" +
           decode_sku + R"(, tensor_parallel: 1, role: decode, per_slot: [4, 12]}
)";
  };
  experiment::Experiment x = experiment::load_experiment(exp, catalog, {});
  const auto plan = planning::apply_plan(x, catalog, dir.write("p.plan.yaml", plan_text("hgx-h100x8")), "");
  REQUIRE(x.fleet.size() == 3);
  CHECK(x.fleet[0].deployment == "chat");  // the prefill type
  CHECK(x.fleet[1].deployment == "dec");   // the decode type
  CHECK(x.fleet[2].deployment == "dec");
  runner::Simulation sim(x, catalog);
  sim.run();
  REQUIRE(sim.provisioner() != nullptr);
  for (const auto& r : planning::compare_slots(plan, sim.provisioner()->transitions(), sim.end_time())) {
    INFO("slot " << r.slot);
    CHECK(r.on_at_start == r.planned);
  }
  CHECK(sim.split_requests() > 1000);
  CHECK(sim.split_requests() == sim.arrived());
  CHECK(sim.metrics().completed() == sim.arrived());
  CHECK(sim.ledger().conservation_error() < 1e-9);

  // Decode and prefill instances on one type cannot run: a simulated server holds one deployment.
  experiment::Experiment y = experiment::load_experiment(exp, catalog, {});
  try {
    planning::apply_plan(y, catalog, dir.write("q.plan.yaml", plan_text("pcie-l40sx4")), "");
    FAIL("no error");
  } catch (const core::InputError& e) {
    const std::string m = e.what();
    CHECK(m.find("q.plan.yaml:") != std::string::npos);
    CHECK(m.find("decode instances and other instances on server type 'pcie-l40sx4'") != std::string::npos);
  }
  // A class whose deployment names no decode pool cannot decode on instances of its own.
  std::string no_pool = exp_text;
  no_pool.replace(no_pool.find(", modes: {disaggregated: {decode: dec}}"), 39, "");
  no_pool.replace(no_pool.find("mode_router: {name: always_disaggregated}\n"), 42, "");
  experiment::Experiment z = experiment::load_experiment(dir.write("z.yaml", no_pool), catalog, {});
  try {
    planning::apply_plan(z, catalog, dir.write("r.plan.yaml", plan_text("hgx-h100x8")), "");
    FAIL("no error");
  } catch (const core::InputError& e) {
    const std::string m = e.what();
    CHECK(m.find("r.plan.yaml:") != std::string::npos);
    CHECK(m.find("instances[1].role") != std::string::npos);
    CHECK(m.find("names no decode pool") != std::string::npos);
  }
}
