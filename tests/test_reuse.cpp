// EcoServe's Reuse in the planner (docs/PLANNING.md, "CPU instances"): offline work on the hosts' CPU cores, the
// core constraint per host, and --plan building the CPU instances a plan chose.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "planner_support.hpp"
#include "sim/core/error.hpp"
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

// One HGX H100 type (8 GPUs, 2 x 56 cores) for two hours: chat needs 7 GPU instances (14 req/s at 2 each), a
// batch of 14,400 requests needs 2 req/s over the horizon: 1 req/s per GPU instance, or `cpu_rate` per CPU
// instance of 32 cores. `extra` goes into the type's cpu_instances.
std::string plan_yaml(const std::string& cpu_rate, const std::string& extra = "", const std::string& device = "") {
  return "name: t\nhorizon: 2h\ncarbon_intensity: {kind: constant, value: 300}\n"
         "servers:\n  - sku: hgx-h100x8\n    cpu_instances: {cores_each: 32" +
         extra +
         "}\n"
         "classes:\n  - name: chat\n    model: llama-3.1-8b\n    online: {kind: values, values: [14, 14]}\n"
         "    slo: {ttft: 1s, tpot: 100ms}\n"
         "  - name: batch\n    model: llama-3.1-8b\n    offline: {requests: 14400}\n" +
         device +
         "capacity:\n  entries:\n    - {class: chat, sku: hgx-h100x8, rate: 2}\n"
         "    - {class: batch, sku: hgx-h100x8, rate: 1}\n"
         "    - {class: batch, sku: hgx-h100x8, device: cpu, rate: " +
         cpu_rate + ", active_w: 45}\nobjective: {name: carbon}\nbaselines: [{name: performance}]\n";
}

struct Solved {
  planning::PlanConfig pc;
  std::vector<planning::CapacityRow> rows;
  planning::Plan carbon, performance;
};

// The carbon plan and, unless the batch is kept off the GPUs (`performance` false), the performance baseline.
Solved solve(const std::string& yaml, bool performance = true) {
  test::TempDir dir;
  Solved s;
  s.pc = planning::load_plan_config(dir.write("p.yaml", yaml), test::catalog());
  s.rows = planning::build_capacity(s.pc, test::catalog(), "", false);
  for (const auto& r : s.rows) s.pc.problem.capacity.push_back(r.entry);
  const auto settings = test::exact(false);
  s.carbon = planning::solve_plan(s.pc.problem, test::objective("carbon"), settings);
  if (performance) s.performance = planning::solve_plan(s.pc.problem, test::objective("performance"), settings);
  return s;
}

}  // namespace

TEST_CASE("Reuse: cheap CPU capacity takes offline work and saves a GPU server at peak; the core row binds") {
  // 112 cores - 16 reserved = 96: three CPU instances of 32 cores per server, 1.5 req/s at 0.5 each; with the
  // one GPU chat leaves free, 2.5 req/s >= 2: one server. Without CPUs, 7 + 2 GPUs: two servers.
  const Solved s = solve(plan_yaml("0.5"));
  const auto& p = s.pc.problem;
  REQUIRE(p.capacity.size() == 3);
  CHECK(p.capacity[2].device == planning::Device::kCpu);
  CHECK(p.capacity[2].cores == 32);
  CHECK(p.types[0].cpu.host_cores == 112);
  CHECK(p.types[0].cpu.reserved_cores == 16);
  CHECK(s.carbon.bought == std::vector<int>{1});
  CHECK(s.carbon.gpus_bought == 8);
  // The performance baseline puts all work on GPUs (EcoServe's "all work on GPUs").
  CHECK(s.performance.bought == std::vector<int>{2});
  CHECK(s.performance.cpu_requests == 0);
  // CPU instances are cheaper per request (90 W per req/s against the H100's GPU power): the core row is full in
  // every slot, and the spare GPU takes the rest.
  for (int t = 0; t < 2; ++t) {
    CHECK(s.carbon.cpu_instances[0][t] == doctest::Approx(3));
    CHECK(s.carbon.cpu_rate[0][t] == doctest::Approx(1.5));
  }
  CHECK(s.carbon.cpu_requests == doctest::Approx(1.5 * 7200));
  CHECK(s.carbon.gpu_offline_requests == doctest::Approx(0.5 * 7200));
  // Their energy is in the plan (45 W x 3 instances x 2 h), and no embodied carbon: the host is bought anyway.
  CHECK(s.carbon.cpu_kwh == doctest::Approx(45.0 * 3 * 2 / 1000));
  CHECK(s.carbon.embodied_kg == doctest::Approx(p.types[0].embodied_kg * 2 / (4 * 8760)));

  // More cores for the GPU stack: 48 reserved leave two CPU instances (1 req/s) and the spare GPU does the rest;
  // 64 reserved leave one (0.5 req/s), too little: a second server.
  const Solved two = solve(plan_yaml("0.5", ", reserved_cores: 48"));
  CHECK(two.carbon.bought == std::vector<int>{1});
  CHECK(two.carbon.cpu_instances[0][0] == doctest::Approx(2));
  const Solved one = solve(plan_yaml("0.5", ", reserved_cores: 64"));
  CHECK(one.carbon.bought == std::vector<int>{2});

  // The table and the plan file say what goes on CPUs.
  CHECK(planning::plan_table(p, s.carbon).find("offline on CPU instances: 10800 requests (75.0%") !=
        std::string::npos);
  const std::string yaml = planning::plan_yaml(s.pc, s.rows, {s.carbon});
  CHECK_MESSAGE(
      yaml.find("cpu_instances: {cores_each: 32, reserved_cores: 16, host_cores: 112") != std::string::npos, yaml);
  CHECK_MESSAGE(yaml.find("tensor_parallel: 0, role: unified, per_slot: [3, 3], device: cpu, cores: 32") !=
                    std::string::npos,
                yaml);
  CHECK(yaml.find("cpu_offline_requests: 10800") != std::string::npos);
  CHECK(yaml.find("- {sku: hgx-h100x8, instances: [3, 3], requests_per_s: [1.5, 1.5]}") != std::string::npos);

  // `device: cpu` keeps the batch off the GPUs: 2 req/s on CPUs would need 4 instances, 3 fit per server.
  const Solved cpu_only = solve(plan_yaml("0.5", "", "    device: cpu\n"), false);
  CHECK(cpu_only.carbon.bought == std::vector<int>{2});
  CHECK(cpu_only.carbon.gpu_offline_requests == 0);
}

TEST_CASE("Reuse: the planning file's CPU keys are checked") {
  test::TempDir dir;
  const auto error = [&](const std::string& yaml) {
    try {
      planning::load_plan_config(dir.write("p.yaml", yaml), test::catalog());
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    FAIL("expected an InputError");
    return std::string();
  };
  CHECK(error(plan_yaml("0.5", ", reserved_cores: 100")).find("cpu_instances.cores_each") != std::string::npos);
  std::string online_cpu = plan_yaml("0.5");
  online_cpu.replace(online_cpu.find("{class: chat, sku: hgx-h100x8, rate: 2}"), 39,
                     "{class: chat, sku: hgx-h100x8, device: cpu, rate: 2}");
  CHECK(error(online_cpu).find("only offline classes run on CPU instances") != std::string::npos);
  std::string no_offer = plan_yaml("0.5");
  no_offer.replace(no_offer.find("    cpu_instances: {cores_each: 32}\n"), 36, "");
  CHECK(error(no_offer).find("offers no CPU instances") != std::string::npos);
}

TEST_CASE("Reuse: --plan builds the CPU instances a plan chose and routes offline work to them") {
  // The batch on CPU instances only (device: cpu); chat on the GPUs.
  test::TempDir dir;
  Solved s = solve(plan_yaml("0.5", ", reserved_cores: 16", "    device: cpu\n"), false);
  const std::string plan_file = dir.write("plan.yaml", planning::plan_yaml(s.pc, s.rows, {s.carbon}));
  const std::string exp =
      "name: r\nseed: 2\nhorizon: 2min\nsites: [{name: s, carbon_intensity: 300}]\n"
      "deployments:\n  - {name: chat, model: llama-3.1-8b}\n"
      "  - {name: reuse, model: llama-3.1-8b, scheduler: {max_num_seqs: 8}}\n"
      "fleet: [{site: s, sku: hgx-h100x8, deployment: chat, power: {policy: follow_plan}}]\n"
      "workload:\n  source: synthetic\n"
      "  synthetic: {requests: 200, rate: 4, prompt_tokens: {distribution: constant, value: 200}, "
      "output_tokens: {distribution: constant, value: 20}}\n"
      "  classes:\n    - {name: chat, deployment: chat, share: 0.8}\n"
      "    - {name: batch, deployment: reuse, kind: offline, deadline: 1h, share: 0.2}\n";
  experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", exp), test::catalog(), {});
  planning::apply_plan(x, test::catalog(), plan_file, "");
  // 2 req/s on CPU instances of 0.5: four per slot on average, three per server at most: two servers.
  REQUIRE(s.carbon.bought == std::vector<int>{2});
  REQUIRE(x.fleet.size() == 2);
  // Each server gets the busiest slot's CPU instances per server on.
  double most = 0;
  for (int t = 0; t < 2; ++t) most = std::max(most, s.carbon.cpu_instances[0][t] / s.carbon.on[0][t]);
  CHECK(s.carbon.cpu_requests == doctest::Approx(14400));
  for (const auto& e : x.fleet) {
    CHECK(e.cpu.count == static_cast<int>(std::ceil(most - 1e-6)));
    CHECK(e.cpu.count <= 3);
    CHECK(e.cpu.deployment == "reuse");
    CHECK(e.cpu.cores_each == 32);
    CHECK(e.cpu.reserved_cores == 16);
  }
  runner::Simulation sim(x, test::catalog());
  sim.run();
  CHECK(sim.metrics().completed() == sim.arrived());
  // Offline requests ran on CPU instances only, online ones on GPUs only.
  std::uint64_t cpu_done = 0, gpu_done = 0;
  for (const auto& in : sim.instances())
    (in->placement().devices == 0 ? cpu_done : gpu_done) += in->stats().completed;
  CHECK(cpu_done == sim.metrics().completed_class(1));
  CHECK(gpu_done == sim.metrics().completed_class(0));
  CHECK(cpu_done > 0);
  CHECK(sim.ledger().conservation_error() < 1e-9);

  // The same experiment whose batch shares chat's deployment cannot run CPU instances for it: they would serve
  // chat's requests too.
  std::string one_dep = exp;
  one_dep.replace(one_dep.find("deployment: reuse, kind"), 17, "deployment: chat");
  experiment::Experiment y = experiment::load_experiment(dir.write("y.yaml", one_dep), test::catalog(), {});
  CHECK_THROWS_WITH_AS(planning::apply_plan(y, test::catalog(), plan_file, ""),
                       doctest::Contains("also serves online class 'chat'"), core::InputError);
}

TEST_CASE("Reuse: --plan executes an offline class split between CPU instances and the GPUs it shares") {
  // The carbon plan of the first case: the batch on three CPU instances (1.5 req/s) and on the GPU chat leaves
  // free (0.5 req/s), on the server chat runs on: 75% of its planned capacity on CPU instances.
  test::TempDir dir;
  Solved s = solve(plan_yaml("0.5"), false);
  REQUIRE(s.carbon.cpu_requests == doctest::Approx(1.5 * 7200));
  REQUIRE(s.carbon.gpu_offline_requests == doctest::Approx(0.5 * 7200));
  const std::string plan_file = dir.write("plan.yaml", planning::plan_yaml(s.pc, s.rows, {s.carbon}));
  const std::string exp =
      "name: r\nseed: 5\nhorizon: 3min\nsites: [{name: s, carbon_intensity: 300}]\n"
      "deployments:\n  - {name: chat, model: llama-3.1-8b}\n"
      "  - {name: batch, model: llama-3.1-8b}\n"
      "fleet: [{site: s, sku: hgx-h100x8, deployment: chat, power: {policy: follow_plan}}]\n"
      "workload:\n  source: synthetic\n"
      "  synthetic: {requests: 400, rate: 4, prompt_tokens: {distribution: constant, value: 200}, "
      "output_tokens: {distribution: constant, value: 20}}\n"
      "  classes:\n    - {name: chat, deployment: chat, share: 0.6}\n"
      "    - {name: batch, deployment: batch, kind: offline, deadline: 1h, share: 0.4}\n";
  experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", exp), test::catalog(), {});
  const planning::PlanExecution pe = planning::apply_plan(x, test::catalog(), plan_file, "");
  // The batch shares chat's servers (one deployment on the GPUs); its CPU instances serve a copy, batch@cpu, with
  // the plan's CPU batch limit.
  REQUIRE(pe.classes.size() == 2);
  CHECK(pe.classes[1].cpu_share == doctest::Approx(0.75));
  CHECK(pe.classes[1].cpu_deployment == "batch@cpu");
  CHECK(x.workload.classes[1].deployment == "chat");
  CHECK(x.workload.classes[1].cpu_deployment == "batch@cpu");
  CHECK(x.workload.classes[1].cpu_share == doctest::Approx(0.75));
  REQUIRE(x.fleet.size() == 1);
  CHECK(x.fleet[0].cpu.count == 3);
  CHECK(x.fleet[0].cpu.deployment == "batch@cpu");
  const auto cpu_dep = std::find_if(x.deployments.begin(), x.deployments.end(),
                                    [](const auto& d) { return d.name == "batch@cpu"; });
  REQUIRE(cpu_dep != x.deployments.end());
  CHECK(cpu_dep->scheduler.max_num_seqs == 32);

  runner::Simulation sim(x, test::catalog());
  sim.run();
  // Every request served; the batch's requests split in the planned proportion: the n-th goes to the CPU
  // instances when floor(0.75 n) grows, so after n of them floor(0.75 n) went there (tolerance: none).
  const std::uint64_t batch = sim.metrics().completed_class(1);
  CHECK(sim.metrics().completed() == sim.arrived());
  CHECK(sim.arrived() == 400);
  REQUIRE(batch > 100);
  CHECK(sim.cpu_routed() == static_cast<std::uint64_t>(std::floor(0.75 * static_cast<double>(batch))));
  std::uint64_t cpu_done = 0, gpu_done = 0;
  for (const auto& in : sim.instances())
    (in->placement().devices == 0 ? cpu_done : gpu_done) += in->stats().completed;
  CHECK(cpu_done == sim.cpu_routed());
  CHECK(gpu_done == sim.metrics().completed_class(0) + batch - cpu_done);
  CHECK(static_cast<double>(cpu_done) / static_cast<double>(batch) == doctest::Approx(0.75).epsilon(0.01));
  CHECK(sim.ledger().conservation_error() < 1e-9);

  // The CPU side's deployment name is the plan's to give: an experiment that has one so named is refused.
  std::string taken = exp;
  taken.replace(taken.find("  - {name: batch, model"), 0, "  - {name: batch@cpu, model: llama-3.1-8b}\n");
  experiment::Experiment y = experiment::load_experiment(dir.write("y.yaml", taken), test::catalog(), {});
  CHECK_THROWS_WITH_AS(planning::apply_plan(y, test::catalog(), plan_file, ""),
                       doctest::Contains("classes[1].name: the plan splits class 'batch'"), core::InputError);
}

TEST_CASE("Reuse: reduced hosts offer CPU instances in the DRAM the GPU serving stack leaves") {
  // hgx-h100x8 with Llama-3.1-8B: the Reduce rule's minimum is 16.06 GB of weights + 8 x 4 GB of swap + 32 GB for
  // the OS = 80.06 GB, rounded to 16 channels x 16 GB = 256 GB: 175.94 GB left for CPU instances, where the
  // default host (2,000 GB) leaves 1,919.94.
  std::string yaml = plan_yaml("0.5");
  yaml.replace(yaml.find("    cpu_instances:"), 0, "    hosts: [default, reduced]\n");
  const Solved both = solve(yaml, false);
  REQUIRE(both.pc.problem.types.size() == 2);
  const auto& d = both.pc.problem.types[0];
  const auto& r = both.pc.problem.types[1];
  CHECK(r.host == "reduced");
  CHECK(r.dram_gb == 256);
  CHECK(r.cpu.cores_each == 32);
  CHECK(r.cpu.dram_gb == doctest::Approx(256 - 80.06).epsilon(1e-3));
  CHECK(d.cpu.dram_gb == doctest::Approx(2000 - 80.06).epsilon(1e-3));
  // A CPU entry per host configuration.
  int cpu_entries = 0;
  for (const auto& e : both.pc.problem.capacity) cpu_entries += e.device == planning::Device::kCpu;
  CHECK(cpu_entries == 2);

  // Reduced hosts only. 64 GB instances: the cores allow 3, the DRAM 2 (the DRAM row binds): 2 CPU instances
  // (1 req/s) and the spare GPU (1 req/s) still serve the batch on one server.
  const auto reduced_only = [&](const std::string& dram_each) {
    std::string y = plan_yaml("0.5", ", dram_gb_each: " + dram_each);
    y.replace(y.find("    cpu_instances:"), 0, "    hosts: [reduced]\n");
    return solve(y, false);
  };
  const Solved r64 = reduced_only("64");
  CHECK(r64.carbon.bought == std::vector<int>{1});
  for (int t = 0; t < 2; ++t) CHECK(r64.carbon.cpu_instances[0][t] == doctest::Approx(2));
  CHECK(r64.carbon.cpu_requests == doctest::Approx(1.0 * 7200));
  // 96 GB instances: one fits (0.5 req/s); with the spare GPU 1.5 < 2 req/s: a second server, where the default
  // host (three instances by its cores) keeps one.
  const Solved r96 = reduced_only("96");
  CHECK(r96.carbon.bought == std::vector<int>{2});
  for (int t = 0; t < 2; ++t) CHECK(r96.carbon.cpu_instances[0][t] <= doctest::Approx(r96.carbon.on[0][t] * 1.0));
  const Solved d96 = solve(plan_yaml("0.5", ", dram_gb_each: 96"), false);
  CHECK(d96.carbon.bought == std::vector<int>{1});
  CHECK(d96.carbon.cpu_instances[0][0] == doctest::Approx(3));

  // The plan file carries the DRAM left for CPU instances, and --plan builds no more per server than it holds
  // (the reduced host as planned: the CPU instances are not added to its Reduce rule).
  test::TempDir dir;
  const std::string yaml64 = planning::plan_yaml(r64.pc, r64.rows, {r64.carbon});
  CHECK_MESSAGE(yaml64.find("max_num_seqs: 32, dram_gb: 175.94") != std::string::npos, yaml64);
  const std::string plan_file = dir.write("plan.yaml", yaml64);
  const std::string exp =
      "name: r\nseed: 2\nhorizon: 1min\nsites: [{name: s, carbon_intensity: 300}]\n"
      "deployments:\n  - {name: chat, model: llama-3.1-8b}\n  - {name: batch, model: llama-3.1-8b}\n"
      "fleet: [{site: s, sku: hgx-h100x8, deployment: chat, power: {policy: follow_plan}}]\n"
      "workload:\n  source: synthetic\n"
      "  synthetic: {requests: 100, rate: 4, prompt_tokens: {distribution: constant, value: 200}, "
      "output_tokens: {distribution: constant, value: 20}}\n"
      "  classes:\n    - {name: chat, deployment: chat, share: 0.8}\n"
      "    - {name: batch, deployment: batch, kind: offline, deadline: 1h, share: 0.2}\n";
  experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", exp), test::catalog(), {});
  planning::apply_plan(x, test::catalog(), plan_file, "");
  REQUIRE(x.fleet.size() == 1);
  CHECK(x.fleet[0].host == "reduced");
  CHECK(x.fleet[0].host_memory.dram_gb == 256);
  CHECK(x.fleet[0].cpu.count == 2);
}
