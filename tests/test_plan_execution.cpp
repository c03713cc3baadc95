#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/planning/plan_execution.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {
constexpr core::SimTime kMin = 60 * core::kSecond;
}

namespace {

// Two classes on their own deployments: chat online (5 req/s for 40 minutes), batch offline (200 requests
// released at the start, due within the hour). fleet[0] is the template of the plan's servers.
const char* kExperiment = R"(
name: plan_exec
seed: 3
horizon: 40min
sites: [{name: here, carbon_intensity: 100}]
deployments:
  - {name: chat, model: llama-3.1-8b, scheduler: {max_num_seqs: 64, max_batched_tokens: 2048}}
  - {name: batch, model: llama-3.1-8b, scheduler: {max_num_seqs: 64, max_batched_tokens: 2048}}
fleet:
  - {site: here, sku: hgx-h100x8, deployment: chat, power: {policy: follow_plan, boot_time: 60s}}
workload:
  classes:
    - name: chat
      deployment: chat
      trace:
        source: synthetic
        synthetic:
          requests: 1000000
          rate: 5
          prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.5, max: 4096}
          output_tokens: {distribution: lognormal, mean: 100, sigma: 0.5, max: 1024}
    - name: batch
      deployment: batch
      kind: offline
      deadline: 1h
      trace:
        source: synthetic
        synthetic:
          requests: 200
          rate: 1000
          prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.5, max: 4096}
          output_tokens: {distribution: lognormal, mean: 100, sigma: 0.5, max: 1024}
slo: {ttft: 1s, tpot: 200ms}
)";

// A plan of four 10-minute slots: chat on 4-GPU L40S servers (1, 2, 2, 1 on), the batch on an 8-GPU H100 server
// (on in slots 1 and 2 only). `shared` puts the batch on the L40S servers too.
std::string plan_text(const std::string& sku = "pcie-l40sx4", const std::string& chat = "chat",
                      bool shared = false) {
  const std::string batch_sku = shared ? sku : "hgx-h100x8";
  return R"(# greenfleet plan
name: "plan_exec"
slot_s: 600
slots: 4
server_types:
  - {sku: )" +
         sku + R"(, gpus: 4, idle_w: 900}
  - {sku: hgx-h100x8, gpus: 8, idle_w: 2000}
classes:
  - name: ")" +
         chat + R"("
    model: llama-3.1-8b
    online: true
    ttft_s: 1
    tpot_s: 0.2
    rate: [5, 5, 5, 5]
  - name: "batch"
    model: llama-3.1-8b
    online: false
    batches:
      - {requests: 200, first_slot: 0, end_slot: 4}
plans:
  - objective: carbon
    status: optimal
    servers:
      - {sku: )" +
         sku + R"(, bought: 2, on: [1, 2, 2, 1]}
      - {sku: hgx-h100x8, bought: 1, on: [0, 1, 1, 0]}
    instances:
      - {class: ")" +
         chat + R"(", sku: )" + sku + R"(, tensor_parallel: 1, per_slot: [4, 6, 8, 2]}
      - {class: "batch", sku: )" +
         batch_sku + R"(, tensor_parallel: 1, per_slot: [0, 8, 8, 0]}
)";
}

}  // namespace

TEST_CASE("plan execution: servers on per slot follow the plan and draining drops nothing") {
  test::TempDir dir;
  const auto& catalog = test::catalog();
  experiment::Experiment x = experiment::load_experiment(dir.write("exp.yaml", kExperiment), catalog, {});
  const auto plan = planning::apply_plan(x, catalog, dir.write("p.plan.yaml", plan_text()), "");
  CHECK(plan.objective == "carbon");
  REQUIRE(x.fleet.size() == 3);
  CHECK(plan.built == std::vector<int>{2, 1});
  CHECK(x.fleet[0].deployment == "chat");
  CHECK(x.fleet[2].deployment == "batch");
  CHECK(x.fleet[0].powered);
  CHECK_FALSE(x.fleet[2].powered);
  using I = std::vector<std::pair<core::SimTime, core::SimTime>>;
  CHECK(x.fleet[0].power.plan_on == I{{0, 40 * kMin}});
  CHECK(x.fleet[1].power.plan_on == I{{10 * kMin, 30 * kMin}});
  CHECK(x.fleet[2].power.plan_on == I{{10 * kMin, 30 * kMin}});
  CHECK(x.fleet[1].power.boot_time == 60 * core::kSecond);

  runner::Simulation sim(x, catalog);
  sim.run();
  REQUIRE(sim.provisioner() != nullptr);
  const auto rows = planning::compare_slots(plan, sim.provisioner()->transitions(), sim.end_time());
  REQUIRE(rows.size() == 8);  // 4 slots x 2 types
  for (const auto& r : rows) {
    INFO("slot " << r.slot);
    CHECK(r.on_at_start == r.planned);
  }
  CHECK(rows[2].planned == 2);
  // Booted 60 s ahead: the servers that come on in slot 1 draw power for the last minute of slot 0.
  CHECK(rows[0].mean_powered == doctest::Approx(1 + 1.0 / 10));
  CHECK(rows[1].mean_powered == doctest::Approx(1.0 / 10));
  CHECK(sim.provisioner()->unplanned_boots() == 0);
  // Draining never drops a request: everything that arrived completed.
  const auto& m = sim.metrics();
  CHECK(m.rejected() == 0);
  CHECK(m.unfinished() == 0);
  CHECK(m.completed() == sim.arrived());
  CHECK(m.classes()[1].completed == 200);
  // The batch waited for its planned slots (from 10 minutes on) and met its 1-hour deadline.
  CHECK(m.classes()[1].slo_met == 200);
  CHECK(sim.provisioner()->boots() == 2);
}

TEST_CASE("plan execution: a bad plan file is an input error naming the file, line and key") {
  test::TempDir dir;
  const auto& catalog = test::catalog();
  const std::string exp = dir.write("exp.yaml", kExperiment);
  const auto message = [&](const std::string& text, const std::string& objective = "") {
    experiment::Experiment x = experiment::load_experiment(exp, catalog, {});
    try {
      planning::apply_plan(x, catalog, dir.write("bad.plan.yaml", text), objective);
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string sku = message(plan_text("no-such-server"));
  CHECK(sku.find("bad.plan.yaml:6:") != std::string::npos);
  CHECK(sku.find("server_types[0].sku") != std::string::npos);
  CHECK(sku.find("no-such-server") != std::string::npos);
  const std::string other = message(plan_text("pcie-l40sx4", "conv"));
  CHECK(other.find("bad.plan.yaml:9:") != std::string::npos);
  CHECK(other.find("classes[0].name") != std::string::npos);
  CHECK(other.find("another experiment") != std::string::npos);
  const std::string objective = message(plan_text(), "cost");
  CHECK(objective.find("no plan for objective 'cost'") != std::string::npos);
  // An experiment class the plan does not have: its requests would have no servers.
  std::string three = kExperiment;
  three.insert(three.find("slo: {ttft: 1s"), R"(    - name: extra
      deployment: chat
      trace:
        source: synthetic
        synthetic:
          requests: 10
          rate: 1
          prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.5, max: 4096}
          output_tokens: {distribution: lognormal, mean: 100, sigma: 0.5, max: 1024}
)");
  experiment::Experiment x = experiment::load_experiment(dir.write("three.yaml", three), catalog, {});
  try {
    planning::apply_plan(x, catalog, dir.write("p.plan.yaml", plan_text()), "");
    FAIL("no error");
  } catch (const core::InputError& e) {
    CHECK(std::string(e.what()).find("workload.classes[2].name: class 'extra' is not in plan") !=
          std::string::npos);
  }
}

TEST_CASE("plan execution: classes the plan puts on the same servers share a deployment") {
  test::TempDir dir;
  const auto& catalog = test::catalog();
  experiment::Experiment x = experiment::load_experiment(dir.write("exp.yaml", kExperiment), catalog, {});
  const auto plan =
      planning::apply_plan(x, catalog, dir.write("p.plan.yaml", plan_text("pcie-l40sx4", "chat", true)), "");
  CHECK(x.workload.classes[1].deployment == "chat");
  CHECK(plan.classes[1].deployment == "chat");
  REQUIRE(x.fleet.size() == 3);
  // The H100 server has no instances planned: it goes to the first class's deployment.
  for (const auto& e : x.fleet) CHECK(e.deployment == "chat");
}

TEST_CASE("plan execution: a SKU bought with both hosts keeps each type's instances on its own servers") {
  test::TempDir dir;
  const auto& catalog = test::catalog();
  experiment::Experiment x = experiment::load_experiment(dir.write("exp.yaml", kExperiment), catalog, {});
  // chat on default H100 hosts, the batch on a reduced one: before instance rows were matched by SKU and host,
  // the batch's row landed on the default type and the reduced server fell back to the first class's deployment.
  std::string text = plan_text("hgx-h100x8");
  const auto sub = [&](const std::string& from, const std::string& to) {
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
  };
  sub("  - {sku: hgx-h100x8, gpus: 8, idle_w: 2000}\n", "");
  sub("{sku: hgx-h100x8, bought: 1, on: [0, 1, 1, 0]}",
      "{sku: hgx-h100x8, bought: 1, on: [0, 1, 1, 0], host: reduced}");
  sub("per_slot: [0, 8, 8, 0]}", "per_slot: [0, 8, 8, 0], host: reduced}");
  const auto plan = planning::apply_plan(x, catalog, dir.write("p.plan.yaml", text), "");
  CHECK(plan.classes[1].deployment == "batch");
  REQUIRE(x.fleet.size() == 3);
  for (const auto& e : x.fleet) CHECK(e.deployment == (e.host == "reduced" ? "batch" : "chat"));
  CHECK(std::count_if(x.fleet.begin(), x.fleet.end(), [](const auto& e) { return e.host == "reduced"; }) == 1);
}
