// Server power timelines under a provisioner: arrivals during a boot, idle checks superseded by later work, and
// the tail after the last request.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/provisioner.hpp"
#include "test_support.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

struct PowerLog : serving::PowerListener {
  struct Change {
    core::SimTime t;
    bool on;
  };
  std::vector<Change> changes;
  void on_power(std::size_t, core::SimTime t, bool on) override { changes.push_back({t, on}); }
};

struct Done : serving::ServingObserver {
  std::map<std::uint64_t, serving::RequestState> done;
  void on_request_done(std::uint32_t, const serving::RequestState& r) override { done[r.spec.id] = r; }
};

workload::RequestSpec request(std::uint64_t id, core::SimTime arrival, std::int32_t prompt, std::int32_t output) {
  workload::RequestSpec s;
  s.id = id, s.arrival = arrival, s.prompt_tokens = prompt, s.output_tokens = output;
  return s;
}

}  // namespace

TEST_CASE("provisioner: arrivals during a boot wait for it, and a later arrival supersedes the idle check") {
  // One sleeping server (boot 5 s, idle timeout 10 s) with one instance. Requests at 1 s and 3 s: the first
  // boots the server, the second arrives during the boot and boots nothing; both start when the boot ends at
  // 6 s. They finish in milliseconds, arming an idle check 10 s later; a request at 12 s comes before that
  // check, so the check must not power the server off (it is stale), and the server powers off 10 s after the
  // last completion instead.
  const perf::RooflineModel roofline = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  Done obs;
  PowerLog log;
  serving::Provisioner prov(&engine, &log);
  serving::SchedulerConfig cfg;
  cfg.check_invariants = true;
  serving::Instance inst(0, {}, cfg, 1000, 4096, &roofline, &engine, &pool, &obs);
  serving::PowerPolicy policy;
  policy.off_when_idle = true;
  policy.boot_time = 5 * core::kSecond;
  policy.idle_timeout = 10 * core::kSecond;
  prov.add_server(0, policy, /*initially_on=*/false, {&inst});
  const std::vector<workload::RequestSpec> specs = {request(0, 1 * core::kSecond, 100, 3),
                                                    request(1, 3 * core::kSecond, 50, 2),
                                                    request(2, 12 * core::kSecond, 80, 4)};
  struct Feed : core::EventHandler {
    serving::RequestPool* pool;
    serving::Instance* inst;
    const std::vector<workload::RequestSpec>* specs;
    void on_event(const core::Event& e) override { inst->enqueue(pool->acquire((*specs)[e.target])); }
  } feed;
  feed.pool = &pool, feed.inst = &inst, feed.specs = &specs;
  const auto kind = engine.register_kind(&feed);
  for (std::size_t i = 0; i < specs.size(); ++i)
    engine.schedule(specs[i].arrival, core::kPriorityArrival, kind, static_cast<std::uint32_t>(i));
  engine.run();

  REQUIRE(obs.done.size() == 3);
  CHECK(prov.boots() == 1);
  CHECK(prov.shutdowns() == 1);
  CHECK(obs.done.at(0).first_scheduled == 6 * core::kSecond);  // waited for the boot
  CHECK(obs.done.at(1).first_scheduled == 6 * core::kSecond);  // arrived during it, booted nothing
  const core::SimTime first_idle = std::max(obs.done.at(0).completion, obs.done.at(1).completion);
  CHECK(first_idle < 7 * core::kSecond);
  CHECK(obs.done.at(2).first_scheduled == 12 * core::kSecond);  // the server was still on
  REQUIRE(log.changes.size() == 2);
  CHECK(log.changes[0].t == 1 * core::kSecond);  // power on (booting draws power)
  CHECK(log.changes[0].on);
  // Not at first_idle + 10 s (superseded by the request at 12 s), but 10 s after the last completion.
  CHECK(log.changes[1].t == obs.done.at(2).completion + 10 * core::kSecond);
  CHECK_FALSE(log.changes[1].on);
  CHECK(log.changes[1].t != first_idle + 10 * core::kSecond);
  CHECK(inst.kv_blocks_free() == 1000);
}

TEST_CASE("provisioner: the run ends with the last request, not with the idle timers it leaves behind") {
  // Servers that sleep when idle leave idle checks pending after the last completion; the run stops once the
  // workload is exhausted and every request is reported, so the tail is not stretched to the timers, and every
  // server's books close at the same end.
  const std::string yaml =
      "name: tail\nseed: 3\nsites: [{name: s, carbon_intensity: 100}]\n"
      "deployments: [{name: d, model: llama-3.1-8b}]\n"
      "fleet: [{site: s, sku: hgx-h100x8, count: 2, power: {policy: off_when_idle, idle_timeout: 30s, "
      "boot_time: 60s}, powered: false}]\n"
      "router: {name: round_robin}\n"
      "workload: {source: synthetic, synthetic: {requests: 50, rate: 5, "
      "prompt_tokens: {distribution: constant, value: 200}, output_tokens: {distribution: constant, value: "
      "20}}}\n";
  test::TempDir dir;
  const experiment::Experiment x = experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {});
  runner::Simulation sim(x, test::catalog());
  Done obs;
  sim.add_observer(&obs);
  sim.run();
  REQUIRE(obs.done.size() == 50);
  core::SimTime last = 0;
  for (const auto& [id, r] : obs.done) {
    CHECK(r.status == serving::RequestStatus::kCompleted);
    last = std::max(last, r.completion);
    CHECK(r.first_scheduled >= 60 * core::kSecond);  // every server started off and had to boot
  }
  CHECK(sim.end_time() == last);
  REQUIRE(sim.provisioner() != nullptr);
  CHECK(sim.provisioner()->boots() >= 1);
  CHECK(sim.provisioner()->shutdowns() == 0);  // the idle timeout never ran out before the end
  CHECK(sim.ledger().conservation_error() < 1e-9);
}
