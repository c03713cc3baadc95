#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/routing/load_index.hpp"
#include "sim/runner/simulation.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/provisioner.hpp"
#include "test_support.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace load_index_test {

// The routing indexes against the plain scans they replace (sim/routing/load_index.hpp): random fleets of
// instances with varied schedulers, caches, speeds and power gating, random arrivals (bursts, same-instant ties)
// and extra decision instants between them. At every decision each index must name exactly the instance the scan
// of the exact signals (Instance::outstanding_tokens(), kv_usage()) names, ties to the lowest index.

struct NoPower : serving::PowerListener {
  void on_power(std::size_t, core::SimTime, bool) override {}
};

// One listener per instance: fans out to both indexes.
struct Both : serving::LoadListener {
  std::vector<serving::LoadListener*> to;
  void on_load_changed(const serving::Instance& in) override {
    for (auto* l : to) l->on_load_changed(in);
  }
};

std::size_t scan_outstanding(std::span<const serving::Instance* const> v, std::int64_t penalty) {
  std::size_t best = 0;
  std::int64_t best_load = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::int64_t l = v[i]->outstanding_tokens() + (v[i]->powered() ? 0 : penalty);
    if (i == 0 || l < best_load) best = i, best_load = l;
  }
  return best;
}

std::size_t scan_kv(std::span<const serving::Instance* const> v) {
  std::size_t best = 0;
  auto key = [](const serving::Instance& in) { return std::tuple(!in.powered(), in.kv_usage(), in.queued()); };
  auto best_key = key(*v[0]);
  for (std::size_t i = 1; i < v.size(); ++i)
    if (key(*v[i]) < best_key) best = i, best_key = key(*v[i]);
  return best;
}

struct Counts {
  std::uint64_t decisions = 0, mismatches_out = 0, mismatches_kv = 0, unpowered_decisions = 0, preemptions = 0;
  std::uint64_t completed = 0, index_reads = 0, mismatches_window = 0;
  std::string first_error;
};

// One random fleet and workload, driven to the end (or to a horizon, then abandoned).
void run_case(std::uint64_t seed, Counts& counts) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };

  // A few speeds: instances of one fleet need not share a perf model.
  std::vector<perf::RooflineModel> models;
  for (double overhead : {1e-3, 2.5e-3, 4e-4}) models.push_back(test::tiny_roofline(overhead));

  core::Engine engine;
  serving::RequestPool pool;
  NoPower no_power;
  serving::Provisioner provisioner(&engine, &no_power);
  const int n = pick(1, 1 + static_cast<int>(rng() % 20 == 0 ? 300 : rng() % 3 == 0 ? 70 : 12));
  const bool same_ff = rng() % 2 == 0;
  const bool ff_all = rng() % 4 != 0;
  std::vector<std::unique_ptr<serving::Instance>> owned;
  std::vector<serving::Instance*> fleet;
  for (int i = 0; i < n; ++i) {
    serving::SchedulerConfig cfg;
    cfg.max_num_seqs = pick(1, 12);
    cfg.max_batched_tokens = pick(16, 512);
    cfg.chunked_prefill = rng() % 3 != 0;
    // Some instances without chunked prefill run prompts in prefill-only steps (vLLM v0; taken from the seed).
    if (!cfg.chunked_prefill && (seed + static_cast<std::uint64_t>(i)) % 2 == 1)
      cfg.prefill_steps = serving::PrefillSteps::kSeparate;
    cfg.kv_block_size = rng() % 4 == 0 ? 12 : 16;
    cfg.kv_allocation = rng() % 3 == 0 ? serving::KvAllocation::kReserve : serving::KvAllocation::kOnDemand;
    cfg.preemption = rng() % 2 ? serving::PreemptionMode::kSwap : serving::PreemptionMode::kRecompute;
    cfg.swap_space_gb = uni(0, 0.002);
    cfg.kv_bytes_per_token = 4096;
    cfg.fast_forward = same_ff ? ff_all : rng() % 4 != 0;
    const std::int64_t blocks = pick(8, 120);
    owned.push_back(std::make_unique<serving::Instance>(i, serving::Placement{}, cfg, blocks, 4096,
                                                        &models[rng() % models.size()], &engine, &pool, nullptr));
    // Some fleets decode several tokens per sequence per step (taken from the seed: the draws stay as they were).
    if (seed % 5 == 4) owned.back()->set_tokens_per_step(static_cast<std::int32_t>(2 + (seed / 5 + i) % 3));
    fleet.push_back(owned.back().get());
  }
  // Power gating on some servers (two instances each): off when idle, booting on demand.
  const bool gated = rng() % 2 == 0;
  if (gated) {
    for (int s = 0; s * 2 < n; ++s) {
      serving::PowerPolicy p;
      p.off_when_idle = rng() % 3 != 0;
      p.idle_timeout = static_cast<core::SimTime>(uni(0.001, 0.3) * core::kSecond);
      p.boot_time = static_cast<core::SimTime>(uni(0, 0.2) * core::kSecond);
      std::vector<serving::Instance*> members{fleet[2 * s]};
      if (2 * s + 1 < n) members.push_back(fleet[2 * s + 1]);
      provisioner.add_server(static_cast<std::size_t>(s), p, rng() % 3 != 0, members);
    }
  }

  const std::int64_t penalty = std::vector<std::int64_t>{0, 1, 50, 200000}[rng() % 4];
  routing::OutstandingTokensIndex out_index(penalty);
  routing::KvUsageIndex kv_index;
  out_index.watch(&engine);
  kv_index.watch(&engine);
  Both both;
  both.to = {&out_index, &kv_index};
  for (auto* in : fleet) in->set_load_listener(&both);
  const std::vector<const serving::Instance*> view(fleet.begin(), fleet.end());
  const std::span<const serving::Instance* const> span(view.data(), view.size());

  int boundary_probes = 400;
  const std::uint32_t prios[] = {core::kPriorityStepEnd - 1, core::kPriorityArrival + 1, core::kPriorityTick + 1};
  std::uint16_t probe_kind = 0;
  auto decide = [&](bool enqueue, std::uint32_t slot) {
    const std::size_t a = out_index.argmin(span), b = kv_index.argmin(span);
    const std::size_t sa = scan_outstanding(span, penalty), sb = scan_kv(span);
    ++counts.decisions;
    for (auto* in : fleet) counts.unpowered_decisions += in->powered() ? 0 : 1;
    if (a != sa) {
      ++counts.mismatches_out;
      if (counts.first_error.empty())
        counts.first_error = "seed " + std::to_string(seed) + " t=" + std::to_string(engine.now()) +
                             ": outstanding index " + std::to_string(a) + " scan " + std::to_string(sa);
    }
    if (b != sb) {
      ++counts.mismatches_kv;
      if (counts.first_error.empty())
        counts.first_error = "seed " + std::to_string(seed) + " t=" + std::to_string(engine.now()) +
                             ": kv index " + std::to_string(b) + " scan " + std::to_string(sb);
    }
    // kv_window() (what the KV index reads) against the signals it stands for, on a random instance.
    {
      const serving::Instance& in = *fleet[rng() % fleet.size()];
      const serving::KvWindow kw = in.kv_window(-1);
      const serving::LoadWindow lw = in.load_window(-1);
      if (kw.free != in.kv_blocks_free() || kw.queued != in.queued() || kw.off != !in.powered() ||
          kw.until != lw.until || kw.iteration != lw.iteration || in.kv_usage_of(kw.free) != in.kv_usage()) {
        ++counts.mismatches_window;
        if (counts.first_error.empty())
          counts.first_error = "seed " + std::to_string(seed) + " t=" + std::to_string(engine.now()) +
                               ": kv_window of instance " + std::to_string(in.id());
      }
    }
    // Decisions exactly at (and just before) an instance's next iteration boundary, where a load changes.
    if (boundary_probes > 0 && rng() % 2 == 0) {
      const serving::LoadWindow w = fleet[rng() % fleet.size()]->load_window(-1);
      if (w.until != core::kTimeMax) {
        boundary_probes -= 2;
        engine.schedule(w.until, prios[rng() % 3], probe_kind, 0);
        engine.schedule(w.until - 1, prios[rng() % 3], probe_kind, 0);
      }
    }
    if (enqueue) {
      // Route by one signal or the other (or at random), so both kinds of fleet states arise.
      const std::size_t target = seed % 3 == 0 ? sa : seed % 3 == 1 ? sb : rng() % fleet.size();
      fleet[target]->enqueue(slot);
    }
  };

  // Arrivals: Poisson at a random load, with bursts of same-instant arrivals.
  std::vector<workload::RequestSpec> specs;
  const double rate = uni(5, 60) * n;
  core::SimTime t = 0;
  const int requests = pick(50, 400);
  for (int r = 0; r < requests; ++r) {
    if (rng() % 5 != 0) t += static_cast<core::SimTime>(std::exponential_distribution<double>(rate)(rng) * 1e9);
    workload::RequestSpec s;
    s.id = static_cast<std::uint64_t>(r);
    s.arrival = t;
    s.prompt_tokens = pick(1, rng() % 4 == 0 ? 900 : 200);
    s.output_tokens = pick(1, rng() % 4 == 0 ? 300 : 60);
    s.cls = rng() % 5 == 0 ? workload::RequestClass::kOffline : workload::RequestClass::kOnline;
    specs.push_back(s);
  }
  struct Feed : core::EventHandler {
    std::function<void(const core::Event&)> f;
    void on_event(const core::Event& e) override { f(e); }
  } feed, probe;
  feed.f = [&](const core::Event& e) { decide(true, pool.acquire(specs[e.target])); };
  probe.f = [&](const core::Event&) { decide(false, 0); };
  const auto feed_kind = engine.register_kind(&feed);
  probe_kind = engine.register_kind(&probe);
  for (std::size_t i = 0; i < specs.size(); ++i)
    engine.schedule(specs[i].arrival, core::kPriorityArrival, feed_kind, static_cast<std::uint32_t>(i));
  // Decisions between arrivals too, at priorities before and after step ends at the same instant.
  const int probes = pick(0, 300);
  for (int p = 0; p < probes; ++p) {
    const auto at = static_cast<core::SimTime>(uni(0, static_cast<double>(t) * 1.5 + 1e9));
    engine.schedule(at, prios[rng() % 3], probe_kind, 0);
  }
  const bool horizon = rng() % 4 == 0;
  if (horizon) {
    const auto end = static_cast<core::SimTime>(static_cast<double>(t) * uni(0.3, 1.0)) + 1;
    engine.run(end);
    for (auto* in : fleet) in->abandon_all(end);
    decide(false, 0);  // after the run's end: everything released
  } else {
    engine.run();
  }
  for (auto* in : fleet) {
    counts.preemptions += in->stats().preemptions;
    counts.completed += in->stats().completed;
  }
  counts.index_reads += out_index.refreshes();
}

TEST_CASE("routing indexes choose exactly what the scans choose, at every decision") {
  Counts counts;
  for (std::uint64_t seed = 1; seed <= 1500; ++seed) run_case(seed, counts);
  INFO(counts.first_error);
  CHECK(counts.mismatches_out == 0);
  CHECK(counts.mismatches_kv == 0);
  CHECK(counts.mismatches_window == 0);
  // The cases exercised what they are meant to.
  CHECK(counts.decisions > 100000);
  CHECK(counts.unpowered_decisions > 10000);
  CHECK(counts.preemptions > 1000);
  CHECK(counts.completed > 50000);
  CHECK(counts.index_reads > 0);
  MESSAGE("decisions " << counts.decisions << ", preemptions " << counts.preemptions << ", index reads "
                       << counts.index_reads);
}

TEST_CASE("an index not attached to its instances scans instead") {
  const perf::RooflineModel model = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  serving::Instance a(0, {}, {}, 64, 4096, &model, &engine, &pool, nullptr);
  serving::Instance b(1, {}, {}, 64, 4096, &model, &engine, &pool, nullptr);
  std::vector<const serving::Instance*> v{&a, &b};
  routing::OutstandingTokensIndex out(0);  // no watch(): no engine, no index
  routing::KvUsageIndex kv;
  workload::RequestSpec s;
  s.prompt_tokens = 10;
  s.output_tokens = 5;
  a.enqueue(pool.acquire(s));
  CHECK(out.argmin(v) == 1);
  CHECK(kv.argmin(v) == 1);
  CHECK(out.refreshes() == 0);
}

}  // namespace load_index_test

namespace load_index_test {

// The indexes on the paths the random fleets above do not build: hand-offs to decode instances (disaggregated),
// draft instances (speculative), servers that power off and boot (carbon_sites) and CPU instances sharing a host
// with the GPUs (cpu_offline, whose carbon_deferral joins through `then`). engine.check_invariants makes each
// load router check every decision against the plain scan and throw on a difference. KvUsageIndex reads an
// instance at its listener call, so a change that ended without one would show here.
TEST_CASE("load indexes choose as the scan does on the shipped hand-off, draft, power and host experiments") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) return test::skip("no ../shared/data (the Azure 2023 traces)");
  for (const char* stem : {"disaggregated", "speculative", "carbon_sites", "cpu_offline"}) {
    for (const char* router : {"least_outstanding_tokens", "least_kv_usage"}) {
      CAPTURE(stem);
      CAPTURE(router);
      experiment::LoadOptions o;
      o.data_dir = data;
      // Three times the trace's rate, so that queues and preemptions form.
      o.overrides = {"workload.max_requests=2000", "workload.rate_scale=3", "engine.check_invariants=true"};
      // least_kv_usage takes no parameters (carbon_sites gives least_outstanding_tokens a wake penalty).
      if (std::string(stem) == "cpu_offline")
        o.overrides.push_back(std::string("router.params.then=") + router);
      else
        o.overrides.push_back(std::string("router={name: ") + router + "}");
      const experiment::Experiment x = experiment::load_experiment(
          std::string(GREENFLEET_SOURCE_DIR) + "/experiments/" + stem + ".yaml", test::catalog(), o);
      runner::Simulation sim(x, test::catalog());
      CHECK_NOTHROW(sim.run());
      CHECK(sim.arrived() == 2000);
    }
  }
}

}  // namespace load_index_test
