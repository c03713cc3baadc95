// EcoServe's Reduce: host configurations (fleet[].host, the planner's host menu) and the rule that sizes them
// (docs/CARBON.md, "Reduce").
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "experiment_text.hpp"
#include "planner_support.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/planning/capacity.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/objectives.hpp"
#include "sim/planning/plan_config.hpp"
#include "sim/planning/plan_execution.hpp"
#include "sim/planning/plan_output.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

using test::load_error;

// One hgx-h100x8 serving Llama-3.1-8B (TP 1: eight instances), with `host` and `extra` keys on its fleet entry.
std::string experiment_yaml(const std::string& host, const std::string& extra = "") {
  return test::experiment_head("r", 1) + test::kGpuCpuDeployments +
         "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu" + (host.empty() ? "" : ", host: " + host) +
         extra +
         "}\n"
         "workload:\n  deployment: gpu\n  source: synthetic\n"
         "  synthetic: {requests: 20, rate: 5, prompt_tokens: {distribution: constant, value: 100}, "
         "output_tokens: {distribution: constant, value: 10}}\n";
}

}  // namespace

TEST_CASE("Reduce: the reduced host lowers host embodied carbon and power by the catalog's per-GB factors") {
  const auto& c = test::catalog();
  const auto& sku = c.server("hgx-h100x8");
  // The catalog's factors (EcoServe's calculator: DDR 0.29 kg/GB, SSD 0.10999 kg/GB; power ours from GreenSKU).
  const double dram_kg = c.memory_kind(sku.dram_kind).embodied_kg_per_gb;
  const double ssd_kg = c.storage_kind("ssd").embodied_kg_per_gb;
  CHECK(dram_kg == 0.29);
  CHECK(ssd_kg == 0.10999);

  // The rule by hand: Llama-3.1-8B's weights (16.06 GB) + swap 4 GB x 8 GPUs + OS 32 GB = 80.06 GB of DRAM:
  // 2 sockets x 8 channels of 16 GB DIMMs = 256 GB. SSD: weights + OS image 200 GB = 216.06 GB: one 480 GB drive.
  const experiment::Experiment x = test::load_text(experiment_yaml("reduced"));
  const auto& e = x.fleet[0];
  CHECK(e.host == "reduced");
  CHECK(e.host_memory.dram_gb == 256);
  CHECK(e.host_memory.ssd_gb == 480);
  const double weights = c.model("llama-3.1-8b").weight_bytes() / 1e9;
  const auto need = experiment::host_need(e, x.deployments[0], x.deployments, c);
  CHECK(need.weights_gb == doctest::Approx(weights));
  CHECK(need.swap_gb == 32);
  const auto least = energy::host_minimum(need, c);
  CHECK(least.dram_gb == doctest::Approx(weights + 32 + 32));
  CHECK(least.ssd_gb == doctest::Approx(weights + 200));

  // Host embodied: the default (2000 GB DRAM, 22720 GB SSD) less the removed GB at the catalog's factors.
  const double removed_kg = (2000 - 256) * 0.29 + (22720 - 480) * 0.10999;  // 505.76 + 2446.18 = 2951.94 kg
  const double full = energy::ecoserve_host(sku, c).total,
               reduced = energy::ecoserve_host(sku, c, e.host_memory).total;
  CHECK(full - reduced == doctest::Approx(removed_kg));
  CHECK(full - reduced == doctest::Approx((2000 - 256) * dram_kg + (22720 - 480) * ssd_kg));
  CHECK(reduced == doctest::Approx(403.5).epsilon(1e-3));  // 3,355 kg -> 403.5 kg: 88% less

  // The simulation charges the configured host: embodied and static power.
  runner::Simulation sim(x, c);
  CHECK(sim.servers()[0].host_kg == doctest::Approx(reduced));
  CHECK(sim.servers()[0].host == "reduced");
  CHECK(sim.servers()[0].host_dram_gb == 256);
  const double removed_w = (2000 - 256) * c.memory_kind(sku.dram_kind).power_w_per_gb +
                           (22720 - 480) * c.storage_kind("ssd").power_w_per_gb;
  CHECK(removed_w == doctest::Approx(1744 * 0.074 + 22240 * 0.00112));
  const experiment::Experiment full_x = test::load_text(experiment_yaml(""));
  runner::Simulation full_sim(full_x, c);
  CHECK(full_x.fleet[0].host == "default");
  CHECK(full_sim.servers()[0].host_kg == doctest::Approx(full));
  CHECK(full_sim.ledger().servers()[0].host_static_w - sim.ledger().servers()[0].host_static_w ==
        doctest::Approx(removed_w));
}

TEST_CASE("Reduce: custom hosts are checked against the rule, and CPU instances need their DRAM") {
  // A custom host at or above the rule's minimum loads; below it is an error naming file:line and the key.
  const auto x = test::load_text(experiment_yaml("{dram_gb: 96, ssd_gb: 960}"));
  CHECK(x.fleet[0].host == "custom");
  CHECK(x.fleet[0].host_memory.dram_gb == 96);
  CHECK(x.fleet[0].host_memory.ssd_gb == 960);
  const std::string low = load_error(experiment_yaml("{dram_gb: 64}"));
  CHECK_MESSAGE(low.find(":8:") != std::string::npos, low);
  CHECK_MESSAGE(
      low.find("fleet[0].host.dram_gb: 64 GB is less than the Reduce rule's minimum") != std::string::npos, low);
  const std::string ssd = load_error(experiment_yaml("{ssd_gb: 100}"));
  CHECK_MESSAGE(
      ssd.find("fleet[0].host.ssd_gb: 100 GB is less than the Reduce rule's minimum") != std::string::npos, ssd);
  const std::string unknown = load_error(experiment_yaml("smaller"));
  CHECK_MESSAGE(unknown.find("fleet[0].host") != std::string::npos, unknown);
  const std::string key = load_error(experiment_yaml("{dram: 96}"));
  CHECK_MESSAGE(key.find("fleet[0].host.dram") != std::string::npos, key);

  // Three CPU instances of 64 GB each add 192 GB of DRAM and their 4.85-bit weights (4.9 GB) to the SSD:
  // 80.06 + 192 = 272.06 GB -> 16 channels x 32 GB = 512 GB; SSD 221 GB -> 480 GB.
  const std::string cpu = ", cpu_instances: {count: 3, deployment: cpu}";
  const auto with_cpu = test::load_text(experiment_yaml("reduced", cpu));
  CHECK(with_cpu.fleet[0].host_memory.dram_gb == 512);
  CHECK(with_cpu.fleet[0].host_memory.ssd_gb == 480);
  const auto need =
      experiment::host_need(with_cpu.fleet[0], with_cpu.deployments[0], with_cpu.deployments, test::catalog());
  CHECK(need.cpu_dram_gb == 192);
  CHECK(need.cpu_weights_gb ==
        doctest::Approx(test::catalog().model("llama-3.1-8b").parameters() * 4.85 / 8 / 1e9));
  const std::string cpu_low = load_error(experiment_yaml("{dram_gb: 256}", cpu));
  CHECK_MESSAGE(cpu_low.find("CPU instances 192") != std::string::npos, cpu_low);

  // A cloud VM keeps its own size where that holds the minimum and is below the rounded size: Llama-3.2-1B-sized
  // weights (2.5 GB) on the NC24ads A100 (220 GB DRAM, 64 GB SSD, one 8-channel socket): DRAM 2.5 + 4 + 32 =
  // 38.5 GB -> 8 x 16 GB = 128 GB; its 64 GB SSD is below the 202.5 GB minimum, so the SSD is one 480 GB drive.
  const auto& c = test::catalog();
  energy::HostNeed small;
  small.weights_gb = 2.5;
  small.swap_gb = 4;
  const auto nc = energy::reduced_host(c.server("azure-nc24ads-a100-v4"), c, small);
  REQUIRE(nc);
  CHECK(nc->dram_gb == 128);
  CHECK(nc->ssd_gb == 480);
  // The T4 VM's 28 GB of DRAM is below the 38.5 GB minimum: its reduced host is larger than its default.
  const auto t4 = energy::reduced_host(c.server("azure-nc4as-t4-v3"), c, small);
  REQUIRE(t4);
  CHECK(t4->dram_gb == 128);
  // A need above 16 channels of the largest DIMM (4,096 GB) has no reduced host.
  energy::HostNeed huge;
  huge.weights_gb = 5000;
  CHECK_FALSE(energy::reduced_host(c.server("hgx-h100x8"), c, huge));
}

TEST_CASE("Reduce: the planner picks the reduced host where the rule holds") {
  test::TempDir dir;
  const std::string plan = R"(name: t
horizon: 2h
carbon_intensity: {kind: constant, value: 100}
servers:
  - sku: hgx-h100x8
    hosts: [default, reduced]
    max_count: 1
classes:
  - name: chat
    model: llama-3.1-8b
    online: {kind: values, values: [4, 8]}
    slo: {ttft: 1s, tpot: 100ms}
capacity:
  entries:
    - {class: chat, sku: hgx-h100x8, rate: 2}
objective: {name: carbon}
)";
  const auto pc = planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
  REQUIRE(pc.problem.types.size() == 2);
  const auto& full = pc.problem.types[0];
  const auto& reduced = pc.problem.types[1];
  CHECK(full.host == "default");
  CHECK(reduced.host == "reduced");
  CHECK(reduced.dram_gb == 256);
  CHECK(reduced.ssd_gb == 480);
  CHECK(full.embodied_kg - reduced.embodied_kg == doctest::Approx((2000 - 256) * 0.29 + (22720 - 480) * 0.10999));
  CHECK(full.idle_w > reduced.idle_w);
  // The given capacity applies to both hosts of the SKU (the host does not change what the GPUs serve).
  planning::Problem p = pc.problem;
  const auto rows = planning::build_capacity(pc, test::catalog(), "", false);
  for (const auto& r : rows) p.capacity.push_back(r.entry);
  REQUIRE(p.capacity.size() == 2);
  CHECK(p.capacity[0].type_index == 0);
  CHECK(p.capacity[1].type_index == 1);
  const auto plan_of = [&](const planning::Problem& problem, const std::string& objective = "carbon") {
    return planning::solve_plan(problem, test::objective(objective), test::exact());
  };
  const auto chosen = plan_of(p);
  CHECK(chosen.bought == std::vector<int>{0, 1});
  // Same servers, less host: the saving is the reduced host's embodied carbon over the 2 h horizon and its power.
  const auto& types = p.types;
  CHECK(chosen.embodied_kg == doctest::Approx(types[1].embodied_kg * 2 / (4 * 8760)));
  // The performance baseline keeps EcoServe's "full default host".
  CHECK(plan_of(p, "performance").bought == std::vector<int>{1, 0});
  planning::PlanConfig solved = pc;
  solved.problem = p;
  const std::string yaml = planning::plan_yaml(solved, rows, {chosen});
  CHECK_MESSAGE(yaml.find("- {sku: hgx-h100x8, bought: 1, on: [1, 1], host: reduced}") != std::string::npos, yaml);
  CHECK(planning::plan_table(p, chosen).find("hgx-h100x8 (reduced)") != std::string::npos);

  // The purchase limit is the SKU's: 8 + 16 req/s need two servers of 8 instances at 2 req/s, and only one may
  // be bought whatever its host.
  p.classes[0].rate = {16, 24};
  CHECK_THROWS_AS(plan_of(p), core::InputError);

  // Where the rule does not reduce (the T4 VM's 28 GB DRAM and 180 GB SSD hold less than Llama-3.1-8B's host
  // minimum: its reduced host, 128 GB and 480 GB, has more embodied carbon), the menu is refused.
  std::string t4 = plan;
  t4.replace(t4.find("sku: hgx-h100x8\n"), 16, "sku: azure-nc4as-t4-v3\n");
  t4.replace(t4.find("sku: hgx-h100x8,"), 16, "sku: azure-nc4as-t4-v3,");
  try {
    planning::load_plan_config(dir.write("t4.yaml", t4), test::catalog());
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    const std::string m = e.what();
    CHECK_MESSAGE(m.find("servers[0].hosts") != std::string::npos, m);
    CHECK_MESSAGE(m.find("would not lower its host's embodied carbon") != std::string::npos, m);
  }
  std::string bad = plan;
  bad.replace(bad.find("[default, reduced]"), 18, "[default, tiny]");
  CHECK_THROWS_WITH_AS(planning::load_plan_config(dir.write("bad.yaml", bad), test::catalog()),
                       doctest::Contains("unknown host configuration 'tiny'"), core::InputError);
}

TEST_CASE("Reduce: plan execution builds the hosts the plan bought") {
  test::TempDir dir;
  const auto& c = test::catalog();
  // The template (fleet[0]) asks for a reduced host on an L40S server; the plan buys an H100 server.
  const std::string exp =
      "horizon: 20min\n" + test::experiment_head("r", 1) +
      "deployments: [{name: chat, model: llama-3.1-8b}]\n"
      "fleet: [{site: s, sku: pcie-l40sx4, host: reduced, power: {policy: follow_plan}}]\n"
      "workload:\n  source: synthetic\n"
      "  synthetic: {requests: 20, rate: 1, prompt_tokens: {distribution: constant, value: 100}, "
      "output_tokens: {distribution: constant, value: 10}}\n";
  const auto plan = [](const std::string& host) {
    return "name: \"r\"\nslot_s: 600\nslots: 2\nserver_types:\n  - {sku: hgx-h100x8, gpus: 8, idle_w: 2000}\n"
           "classes:\n  - name: \"chat\"\n    model: llama-3.1-8b\n    online: true\n    ttft_s: 1\n"
           "    tpot_s: 0.2\n    rate: [1, 1]\nplans:\n  - objective: carbon\n    status: optimal\n    servers:\n"
           "      - {sku: hgx-h100x8, bought: 1, on: [1, 1]" +
           host +
           "}\n    instances:\n      - {class: \"chat\", sku: hgx-h100x8, tensor_parallel: 1, per_slot: [1, 1]}\n";
  };
  experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", exp), c, {});
  CHECK(x.fleet[0].host == "reduced");
  planning::apply_plan(x, c, dir.write("p.yaml", plan("")), "");
  REQUIRE(x.fleet.size() == 1);
  CHECK(x.fleet[0].sku == "hgx-h100x8");
  CHECK(x.fleet[0].host == "default");
  CHECK(x.fleet[0].host_memory.dram_gb == 2000);
  CHECK(x.fleet[0].host_memory.ssd_gb == 22720);
  // A plan that bought the reduced host gets the Reduce rule's least host for what runs there.
  experiment::Experiment y = experiment::load_experiment(dir.write("y.yaml", exp), c, {});
  planning::apply_plan(y, c, dir.write("q.yaml", plan(", host: reduced")), "");
  REQUIRE(y.fleet.size() == 1);
  CHECK(y.fleet[0].host == "reduced");
  const auto least = energy::reduced_host(c.server("hgx-h100x8"), c,
                                          experiment::host_need(y.fleet[0], y.deployments[0], y.deployments, c));
  REQUIRE(least.has_value());
  CHECK(y.fleet[0].host_memory.dram_gb == least->dram_gb);
  CHECK(y.fleet[0].host_memory.ssd_gb == least->ssd_gb);
  CHECK(y.fleet[0].host_memory.dram_gb < 2000);
  runner::Simulation sim(y, c);  // and it runs
  sim.run();
  CHECK(sim.metrics().completed() == sim.arrived());
}
