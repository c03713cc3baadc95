// CPU instances on host cores (fleet[].cpu_instances, EcoServe's Reuse) and the carbon_deferral router:
// step times and energy by hand, validation, and deferral that keeps deadlines while moving work to clean hours.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "experiment_text.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/cpu_model.hpp"
#include "sim/routing/carbon_deferral.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

using test::load_error;

const std::string& kDeployments = test::kGpuCpuDeployments;

spec::CpuCoefficients coefficients() {
  return catalog::load_cpu_coefficients(
      catalog::cpu_coefficients_path(test::catalog().root(), "xeon-8480c", "llama-3.1-8b"));
}

}  // namespace

TEST_CASE("a CPU instance: step times and energy of a batch of two by hand") {
  test::TempDir dir;
  // Two requests at the same time, 100 prompt and 4 output tokens each.
  const std::string trace = dir.write("t.csv",
                                      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                      "2023-11-16 18:00:00.0,100,4\n"
                                      "2023-11-16 18:00:00.0,100,4\n");
  const std::string yaml = "name: c\nseed: 1\nsites: [{name: s, carbon_intensity: 200, pue: 1.5}]\n" +
                           kDeployments +
                           "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu,\n"
                           "     cpu_instances: {count: 1, cores_each: 32, reserved_cores: 16, deployment: cpu}}\n"
                           "workload: {source: azure_csv, file: " +
                           trace + ", deployment: cpu}\nrouter: {name: round_robin}\n";
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  REQUIRE(sim.instances().size() == 9);  // 8 GPU instances, then the CPU instance
  sim.run();
  const serving::Instance& in = *sim.instances()[8];
  CHECK(in.perf_model().kind() == "cpu");
  CHECK(in.placement().devices == 0);
  CHECK(in.stats().completed == 2);

  // By hand (docs/CPU_MODEL.md): 32 threads, AMX 3.67. The first request's prefill runs alone (it arrived first),
  // the second prefills beside the first's decode, then both decode together.
  const spec::CpuCoefficients c = coefficients();
  const double k = (c.serial_fraction + (1 - c.serial_fraction) / 32) / 3.67;
  const auto step = [&](double decodes, double prefill_tokens) {
    return std::max(c.floor_s + k * c.stream_per_seq_1t_s * decodes,
                    k * (c.compute_per_seq_1t_s * decodes + c.per_prefill_token_1t_s * prefill_tokens));
  };
  const double prefill_alone = step(0, 100);  // compute-bound: ~9.7 ms x 100 / 3.67
  const double mixed = step(1, 100);          // the second prompt and the first's second token
  const double decode2 = step(2, 0);          // streaming-bound: the weight read dominates
  CHECK(prefill_alone == doctest::Approx(k * c.per_prefill_token_1t_s * 100));
  CHECK(decode2 == doctest::Approx(c.floor_s + k * c.stream_per_seq_1t_s * 2));
  // Tokens: the first request gets token 1 from its prefill, 2 in the mixed step, 3 and 4 in two decode steps of
  // two; the second gets token 1 in the mixed step, 2 and 3 in those, and its last alone.
  const double decode1 = step(1, 0);
  const double busy = prefill_alone + mixed + 2 * decode2 + decode1;
  CHECK(core::to_seconds(in.stats().busy_time) == doctest::Approx(busy).epsilon(1e-6));
  CHECK(in.stats().prefill_tokens == 200);
  CHECK(in.stats().decode_tokens == 8);  // every output token, the first ones included
  CHECK(in.stats().iterations == 5);

  // Energy: the instance's share of the host by cores (32 of 2 x 56) of the host's static power, plus the
  // measured power per thread x 32 while it steps; no GPU. Requests carry exactly their steps' energy.
  const auto& sp = sim.ledger().servers()[0];
  const double share = 32.0 / 112;
  CHECK(sp.gpu_host_share == doctest::Approx(1 - share));
  const double busy_w = share * sp.host_static_w + c.power_per_thread_w * 32;
  CHECK(c.power_per_thread_w * 32 == doctest::Approx(45.1).epsilon(0.01));
  const double joules = busy_w * busy;
  CHECK(sim.ledger().requests_total().energy() == doctest::Approx(joules).epsilon(1e-6));
  // Operational carbon at 200 g/kWh and PUE 1.5; embodied: the host share only.
  CHECK(sim.ledger().requests_total().op() == doctest::Approx(joules / 3.6e6 * 200 * 1.5).epsilon(1e-6));
  CHECK(sim.ledger().requests_total().emb() == doctest::Approx(share * sp.host_emb_g_per_s * busy).epsilon(1e-6));
  // The host's idle power is counted once: the server's host energy is its static power over the run plus the
  // CPU instance's busy power, and the parts add up to the totals.
  const double span = core::to_seconds(sim.end_time());
  CHECK(sim.ledger().server_total(0).energy_host ==
        doctest::Approx(sp.host_static_w * span + c.power_per_thread_w * 32 * busy).epsilon(1e-9));
  CHECK(sim.ledger().server_total(0).emb_host == doctest::Approx(sp.host_emb_g_per_s * span).epsilon(1e-9));
  CHECK(sim.ledger().conservation_error() < 1e-9);
}

TEST_CASE("CPU instances: validation names the file, line and key") {
  const auto fleet = [&](const std::string& cpu) {
    return "name: c\n" + test::kSiteS + kDeployments +
           "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu,\n     cpu_instances: " + cpu +
           "}\nworkload:\n  source: synthetic\n  synthetic: {requests: 2, rate: 1}\n";
  };
  CHECK(load_error(fleet("{count: 4, cores_each: 32, deployment: cpu}"))
            .find("cpu_instances.cores_each: 4 instances x 32 cores + 16 reserved_cores = 144 cores, more than "
                  "server 'hgx-h100x8' has (2 x 56 = 112 cores of xeon-8480c)") != std::string::npos);
  CHECK(load_error(fleet("{count: 2, dram_gb_each: 1500, deployment: cpu}"))
            .find("cpu_instances.dram_gb_each: 2 instances x 1500 GB = 3000 GB, more DRAM than server") !=
        std::string::npos);
  CHECK(load_error(fleet("{count: 1, dram_gb_each: 4, deployment: cpu}"))
            .find("does not fit in 4 GB of host DRAM") != std::string::npos);
  CHECK(load_error(fleet("{count: 1, deployment: nope}")).find("unknown deployment 'nope'") != std::string::npos);
  CHECK(load_error(fleet("{count: 1, deployment: cpu, typo: 1}")).find("typo") != std::string::npos);
  // Request modes: CPU instances neither split requests nor decode split ones.
  const auto with_modes = [](const std::string& gpu, const std::string& cpu) {
    return "name: c\nsites: [{name: s, carbon_intensity: 100}]\ndeployments:\n"
           "  - {name: gpu, model: llama-3.1-8b" +
           gpu + "}\n  - {name: cpu, model: llama-3.1-8b" + cpu +
           "}\nfleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu, cpu_instances: {count: 1, deployment: "
           "cpu}}\n"
           "workload:\n  source: synthetic\n  synthetic: {requests: 2, rate: 1}\n";
  };
  CHECK(load_error(with_modes("", ", modes: {disaggregated: {decode: gpu}}"))
            .find("cpu_instances.deployment: deployment 'cpu' lets its requests split") != std::string::npos);
  CHECK(load_error(with_modes(", modes: {disaggregated: {decode: cpu}}", ""))
            .find("deployment 'cpu' is the decode pool of deployment 'gpu'") != std::string::npos);
  // A GPU engine's host floor, which the CPU model does not price.
  CHECK(load_error(with_modes("", ", scheduler: {host_time_per_layer: 1ms}"))
            .find("cpu_instances.deployment: deployment 'cpu' sets a host time per layer") != std::string::npos);
  CHECK(load_error(with_modes("", ", scheduler: {preset: fastchat-hf-2023}"))
            .find("which CPU instances do not model") != std::string::npos);
  // A model without CPU coefficients on that host CPU.
  const std::string no_fit = "name: c\n" + test::kSiteS +
                             "deployments: [{name: gpu, model: llama-2-7b}]\n"
                             "fleet:\n  - {site: s, sku: hgx-h100x8, cpu_instances: {count: 1}}\n"
                             "workload:\n  source: synthetic\n  synthetic: {requests: 2, rate: 1}\n";
  CHECK(load_error(no_fit).find("has no CPU model for it on xeon-8480c") != std::string::npos);
}

TEST_CASE("CPU interference: the server's GPU steps are slower only while a CPU instance steps") {
  // A share `cpu_share` of the requests on the host's CPU instance, the rest on the GPUs.
  const auto run = [](const std::string& slowdown, const std::string& cpu_share) {
    test::TempDir dir;
    const std::string yaml =
        test::experiment_head("c", 3) + kDeployments +
        "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu,\n"
        "     cpu_instances: {count: 1, deployment: cpu, interference_slowdown: " +
        slowdown +
        "}}\n"
        "workload:\n  source: synthetic\n"
        "  synthetic: {requests: 60, rate: 5, prompt_tokens: {distribution: constant, value: 300}, "
        "output_tokens: {distribution: constant, value: 30}}\n"
        "  classes:\n    - {name: chat, deployment: gpu, share: " +
        std::to_string(1 - std::stod(cpu_share)) + "}\n    - {name: batch, deployment: cpu, share: " + cpu_share +
        "}\n";
    const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
    runner::Simulation sim(x, test::catalog());
    sim.run();
    double busy = 0;
    for (std::size_t i = 0; i < 8; ++i) busy += core::to_seconds(sim.instances()[i]->stats().busy_time);
    CHECK(sim.ledger().conservation_error() < 1e-9);
    CHECK(sim.metrics().completed() == sim.arrived());
    return std::pair{busy, core::to_seconds(sim.instances()[8]->stats().busy_time)};
  };
  // The CPU instance never steps: the GPU steps are not slowed at all.
  const auto idle0 = run("0", "0.000001"), idle3 = run("0.03", "0.000001");
  CHECK(idle3.second == 0);
  CHECK(idle0.first > 0);
  CHECK(idle3.first == idle0.first);
  // It steps about a third of the time (3% of the requests): the GPUs' busy time grows by less than 3% (only the
  // steps that start while it steps are slower; 0.84% measured).
  const auto part0 = run("0", "0.03"), part3 = run("0.03", "0.03");
  CHECK(part3.second > 0);
  CHECK(part0.second == part3.second);  // the CPU instance itself is not slowed
  const double growth = part3.first / part0.first - 1;
  MESSAGE("GPU busy time +" << 100 * growth << "% with the CPU instance busy " << part3.second << " s");
  CHECK(growth > 0.001);
  CHECK(growth < 0.03);
}

namespace {

// A toy day: 400 g/kWh for the first 6 hours, 50 from hour 6 to 12, 300 after; repeating every 24 h.
std::string toy_ci(const test::TempDir& dir) {
  std::string csv = "timestamp,g_per_kwh\n";
  for (int h = 0; h < 24; ++h)
    csv += fmt::format("2024-01-01 {:02d}:00:00,{}\n", h, h < 6 ? 400 : h < 12 ? 50 : 300);
  return dir.write("ci.csv", csv);
}

struct DeferralRun {
  std::uint64_t completed = 0, missed = 0, deferred = 0;
  double op_g = 0;
};

// `count` offline requests (arriving over the first 20 minutes) with the deadline `deadline` on one CPU instance.
DeferralRun run_deferral(const std::string& router, const std::string& deadline, int count) {
  test::TempDir dir;
  const std::string yaml =
      "name: d\nseed: 11\nsites:\n  - name: s\n    carbon_intensity: {kind: csv, file: " + toy_ci(dir) + "}\n" +
      kDeployments +
      "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu,\n"
      "     cpu_instances: {count: 1, deployment: cpu}}\n"
      "workload:\n  source: synthetic\n  deployment: cpu\n"
      "  offline: {share: 1, deadline: " +
      deadline + "}\n  synthetic: {requests: " + std::to_string(count) +
      ", rate: 0.033, prompt_tokens: {distribution: constant, value: 500}, "
      "output_tokens: {distribution: constant, value: 200}}\n"
      "router: " +
      router + "\n";
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  sim.run();
  DeferralRun r;
  r.completed = sim.metrics().completed();
  r.deferred = sim.deferrals();
  r.missed = sim.metrics().completed_class(1) - sim.metrics().slo_met_class(1);  // offline, late
  r.op_g = sim.ledger().requests_total().op();
  CHECK(sim.ledger().conservation_error() < 1e-9);
  return r;
}

}  // namespace

TEST_CASE("carbon_deferral: moves offline work to the clean hours and meets every deadline it can") {
  const DeferralRun plain = run_deferral("{name: least_outstanding_tokens}", "24h", 40);
  const DeferralRun deferred = run_deferral("{name: carbon_deferral}", "24h", 40);
  CHECK(plain.completed == 40);
  CHECK(deferred.completed == 40);
  CHECK(plain.deferred == 0);
  CHECK(deferred.deferred == 40);  // every request waits for hour 6
  CHECK(deferred.missed == 0);
  // Operational carbon of the requests: 50 g/kWh instead of 400 while they run.
  CHECK(deferred.op_g < 0.2 * plain.op_g);

  // A deadline before the clean hours: deferral may only use the hours before it, and never misses it.
  for (const char* d : {"30min", "2h", "5h", "7h", "450min", "8h"}) {
    CAPTURE(std::string(d));
    const DeferralRun p = run_deferral("{name: least_outstanding_tokens}", d, 40);
    const DeferralRun r = run_deferral("{name: carbon_deferral}", d, 40);
    REQUIRE(p.missed == 0);  // the deadline can be met (no deferral meets it)
    CHECK(r.completed == 40);
    CHECK(r.missed == 0);
    CHECK(r.op_g <= p.op_g * (1 + 1e-9));  // never dirtier than joining at once
    // Deadlines from 7 h 30 min let every request reach the clean hour 6 (released there, 1 h margin); with 7 h
    // only those arriving after the first 17 s (the service estimate) can, for the part of hour 6 before their
    // latest release; earlier deadlines reach no clean hour.
    const std::string name = d;
    if (name == "450min" || name == "8h") {
      CHECK(r.deferred == 40);
      CHECK(r.op_g < 0.2 * p.op_g);
    } else if (name == "7h") {
      CHECK(r.deferred > 0);
      CHECK(r.deferred < 40);
      CHECK(r.op_g < p.op_g);
    } else {
      CHECK(r.deferred == 0);
    }
  }
}

TEST_CASE("carbon_deferral: decisions by hand") {
  // Hand-built: one CPU instance at a site whose CI steps down at hour 6; requests of known size.
  test::TempDir dir;
  const std::string yaml =
      "name: d\nseed: 11\nsites:\n  - name: s\n    carbon_intensity: {kind: csv, file: " + toy_ci(dir) + "}\n" +
      kDeployments +
      "fleet:\n  - {site: s, sku: hgx-h100x8, deployment: gpu, cpu_instances: {count: 1, deployment: cpu}}\n"
      "workload:\n  source: synthetic\n  deployment: cpu\n  synthetic: {requests: 1, rate: 1, prompt_tokens: "
      "{distribution: constant, value: 500}, output_tokens: {distribution: constant, value: 200}}\n";
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  const serving::Instance* cpu = sim.instances()[8].get();
  std::vector<const serving::Instance*> pool{cpu};
  routing::RoutingContext context(&sim.engine(), &sim.ledger().servers());
  const auto router = [] {
    return routing::routers().create("carbon_deferral",
                                     core::default_values(routing::routers().info("carbon_deferral").params), 1);
  };
  serving::RequestState r;
  r.spec.arrival = 0;
  r.spec.prompt_tokens = 500;
  r.spec.output_tokens = 200;
  r.spec.cls = workload::RequestClass::kOffline;
  const routing::CarbonDeferral::Need need = routing::CarbonDeferral::estimate(r, *cpu, context);
  CHECK(need.latency_s > need.instance_s);
  CHECK(need.instance_s > 0);

  // Deadline 24 h: released at the start of hour 6, the first clean slot.
  r.spec.deadline = 24 * core::kHour;
  auto d = router()->route(r, pool, context);
  CHECK(d.kind == routing::Decision::Kind::kDefer);
  CHECK(d.until == 6 * core::kHour);
  // Deadline 3 h: no clean slot in reach; hours 0-2 are alike, so it joins now.
  r.spec.deadline = 3 * core::kHour;
  CHECK(router()->route(r, pool, context).kind == routing::Decision::Kind::kJoin);
  // Deadline 6 h 30 min: the latest release is before hour 6 (margin 1 h), so it joins now.
  r.spec.deadline = 6 * core::kHour + 30 * 60 * core::kSecond;
  CHECK(router()->route(r, pool, context).kind == routing::Decision::Kind::kJoin);
  // Deadline 8 h: hour 6 is in reach (release at 6 h, latest release 8 h - 1 h - the estimate).
  r.spec.deadline = 8 * core::kHour;
  d = router()->route(r, pool, context);
  CHECK(d.kind == routing::Decision::Kind::kDefer);
  CHECK(d.until == 6 * core::kHour);
  // Online requests are never deferred.
  r.spec.cls = workload::RequestClass::kOnline;
  CHECK(router()->route(r, pool, context).kind == routing::Decision::Kind::kJoin);

  // Capacity: one instance, fill 0.8, so hour 6 takes 0.8 x 3600 s of this request's instance time; the ones
  // that do not fit go to the next cleanest slot (hour 7, as clean). By default all are released at the slot's
  // start; `release: paced` releases them in booking order at the pace of the booked capacity.
  r.spec.cls = workload::RequestClass::kOffline;
  r.spec.deadline = 24 * core::kHour;
  const auto fits = static_cast<int>(std::floor(0.8 * 3600 / need.instance_s));
  REQUIRE(fits > 1);
  auto at_start = router();
  core::ParamValues paced_params = core::default_values(routing::routers().info("carbon_deferral").params);
  for (const auto& spec : routing::routers().info("carbon_deferral").params)
    if (spec.name == "release") paced_params.set(spec.name, spec.type, std::string("paced"));
  auto paced = routing::routers().create("carbon_deferral", paced_params, 1);
  core::SimTime previous = 0;
  for (int i = 0; i < fits; ++i) {
    d = at_start->route(r, pool, context);
    REQUIRE(d.kind == routing::Decision::Kind::kDefer);
    CHECK(d.until == 6 * core::kHour);
    d = paced->route(r, pool, context);
    REQUIRE(d.kind == routing::Decision::Kind::kDefer);
    CHECK(d.until >= 6 * core::kHour);
    CHECK(d.until < 7 * core::kHour);
    // (booked seconds are summed, so the offset may differ from i x need / 0.8 by rounding)
    const double expected_s = 6 * 3600.0 + i * need.instance_s / 0.8;
    CHECK(core::to_seconds(d.until) == doctest::Approx(expected_s).epsilon(1e-12));
    if (i > 0) CHECK(d.until > previous);
    previous = d.until;
  }
  CHECK(at_start->route(r, pool, context).until == 7 * core::kHour);
  CHECK(paced->route(r, pool, context).until == 7 * core::kHour);
}
