#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <tuple>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"
#include "sim/core/ring_queue.hpp"
#include "sim/core/rng.hpp"
#include "test_support.hpp"

using namespace greenfleet::core;

namespace {
struct Recorder : EventHandler {
  Engine* engine = nullptr;
  std::vector<std::pair<SimTime, std::uint32_t>> seen;  // (time, target)
  void on_event(const Event& e) override {
    CHECK(e.time == engine->now());
    seen.emplace_back(e.time, e.target);
  }
};
}  // namespace

TEST_CASE("event queue orders by time, then priority, then insertion") {
  Engine engine;
  Recorder r;
  r.engine = &engine;
  const auto kind = engine.register_kind(&r);
  engine.schedule(50, 5, kind, 1);
  engine.schedule(10, 9, kind, 2);
  engine.schedule(50, 1, kind, 3);  // same time, higher priority than target 1
  engine.schedule(50, 5, kind, 4);  // same time and priority as 1: after it (insertion order)
  engine.schedule(0, 0, kind, 5);
  engine.run();
  const std::vector<std::uint32_t> expect{5, 2, 3, 1, 4};
  REQUIRE(r.seen.size() == expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) CHECK(r.seen[i].second == expect[i]);
}

TEST_CASE("the clock never goes back, over many random events") {
  Engine engine;
  struct Chain : EventHandler {
    Engine* e;
    Rng rng{7};
    std::uint16_t kind = 0;
    SimTime last = 0;
    int left = 20000;
    void on_event(const Event& ev) override {
      CHECK(ev.time >= last);
      last = ev.time;
      if (--left > 0)
        e->schedule(e->now() + static_cast<SimTime>(rng.below(1000)), static_cast<std::uint32_t>(rng.below(3)),
                    kind, 0);
    }
  } chain;
  chain.e = &engine;
  chain.kind = engine.register_kind(&chain);
  for (int i = 0; i < 100; ++i) engine.schedule(static_cast<SimTime>(chain.rng.below(5000)), 0, chain.kind, 0);
  engine.run();
  CHECK(engine.events_dispatched() == 20000 + 99);
  CHECK_THROWS_AS(engine.schedule(engine.now() - 1, 0, chain.kind, 0), std::logic_error);
}

TEST_CASE("run(until) stops before later events and resumes") {
  Engine engine;
  Recorder r;
  r.engine = &engine;
  const auto kind = engine.register_kind(&r);
  for (SimTime t : {10, 20, 30}) engine.schedule(t, 0, kind, static_cast<std::uint32_t>(t));
  engine.run(20);
  CHECK(r.seen.size() == 2);
  CHECK(engine.pending() == 1);
  engine.run();
  CHECK(r.seen.size() == 3);
}

namespace {
// Background events and one event that is moved (earlier or later) or cancelled at random: with `tracked`, through
// Engine::reschedule()/cancel(); otherwise by scheduling a new event and ignoring the superseded ones when they
// fire (by generation), as handlers did before.
struct Mover : EventHandler {
  Engine engine;
  bool tracked = false;
  std::uint16_t background = 0, moved = 0;
  std::uint32_t tracker = 0;
  Rng rng{11};
  std::uint64_t generation = 0;
  int left = 20000;
  std::vector<std::tuple<SimTime, bool, std::uint64_t>> seen;  // (time, the moved event, background payload)
  explicit Mover(bool t) : tracked(t) {
    background = engine.register_kind(this);
    moved = engine.register_kind(this);
    tracker = engine.new_tracker();
  }
  void on_event(const Event& e) override {
    const bool is_moved = e.kind == moved;
    if (is_moved && !tracked && e.payload != generation) return;  // superseded
    seen.emplace_back(e.time, is_moved, is_moved ? 0 : e.payload);
    if (--left <= 0) return;
    const SimTime now = engine.now();
    engine.schedule(now + static_cast<SimTime>(rng.below(50)), static_cast<std::uint32_t>(rng.below(2)),
                    background, 0, static_cast<std::uint64_t>(left));
    const auto op = rng.below(4);
    if (op == 0) {
      ++generation;
      if (tracked) engine.cancel(tracker);
    } else if (op <= 2) {
      const SimTime t = now + static_cast<SimTime>(rng.below(80));
      const auto priority = static_cast<std::uint32_t>(rng.below(2));
      ++generation;
      if (!tracked)
        engine.schedule(t, priority, moved, 0, generation);
      else if (!engine.reschedule(tracker, t, priority))
        engine.schedule_tracked(t, priority, moved, tracker);
    }
  }
};
}  // namespace

TEST_CASE("a tracked event moved either way or cancelled runs as a new event would, without stale ones") {
  Mover stale(false), moving(true);
  for (Mover* m : {&stale, &moving}) {
    m->engine.schedule(0, 0, m->background, 0, 0);
    m->engine.run();
  }
  REQUIRE(stale.seen.size() == moving.seen.size());
  CHECK(stale.seen == moving.seen);
  std::size_t moved = 0;
  for (const auto& s : moving.seen) moved += std::get<1>(s) ? 1 : 0;
  CHECK(moved > 50);
  // The superseded events no longer run (nor wait in the queue).
  CHECK(moving.engine.events_dispatched() == moving.seen.size());
  CHECK(stale.engine.events_dispatched() > stale.seen.size() + 1000);
  CHECK(moving.engine.peak_pending() <= stale.engine.peak_pending());
  // Nothing pending: nothing to move or cancel.
  CHECK_FALSE(moving.engine.reschedule(moving.tracker, moving.engine.now() + 1, 0));
  CHECK_FALSE(moving.engine.cancel(moving.tracker));
  CHECK_THROWS_AS(moving.engine.reschedule(moving.tracker, moving.engine.now() - 1, 0), std::logic_error);
}

TEST_CASE("RNG streams are deterministic and independent by name") {
  Rng a = Rng::stream(42, "workload.arrivals"), b = Rng::stream(42, "workload.arrivals");
  Rng c = Rng::stream(42, "workload.prompt"), d = Rng::stream(43, "workload.arrivals");
  bool differs_c = false, differs_d = false;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    CHECK(x == b.next_u64());
    differs_c |= x != c.next_u64();
    differs_d |= x != d.next_u64();
  }
  CHECK(differs_c);
  CHECK(differs_d);
}

TEST_CASE("RNG distributions have the right moments") {
  Rng rng(12345);
  const int n = 200000;
  double se = 0, sl = 0, sg = 0, sg2 = 0, su = 0;
  for (int i = 0; i < n; ++i) {
    se += rng.exponential(4.0);
    sl += rng.lognormal(std::log(100.0) - 0.5 * 0.25, 0.5);
    const double g = rng.gamma(0.25, 8.0);  // mean 2, variance 16
    sg += g, sg2 += g * g;
    su += static_cast<double>(rng.below(10));
  }
  CHECK(se / n == doctest::Approx(0.25).epsilon(0.01));
  CHECK(sl / n == doctest::Approx(100.0).epsilon(0.01));
  CHECK(sg / n == doctest::Approx(2.0).epsilon(0.02));
  CHECK(sg2 / n - (sg / n) * (sg / n) == doctest::Approx(16.0).epsilon(0.05));
  CHECK(su / n == doctest::Approx(4.5).epsilon(0.01));
}

TEST_CASE("ring queue keeps FIFO order across growth and wrap-around") {
  RingQueue<int> q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round * 3 + 1; ++i) q.push_back(next_in++);
    for (int i = 0; i < round * 2 + 1 && !q.empty(); ++i) {
      CHECK(q.front() == next_out++);
      q.pop_front();
    }
  }
  while (!q.empty()) {
    CHECK(q.front() == next_out++);
    q.pop_front();
  }
  CHECK(next_out == next_in);
}

TEST_CASE("output paths: refused before any work when they cannot become the output file") {
  greenfleet::test::TempDir dir;
  const std::string input = dir.write("exp.yaml", "name: x\n");
  using greenfleet::core::check_output_path;
  CHECK_THROWS_WITH_AS(check_output_path("", {}, "-o"), doctest::Contains("empty path"),
                       greenfleet::core::InputError);
  CHECK_THROWS_WITH_AS(check_output_path(dir.path(), {}, "-o"), doctest::Contains("is a directory"),
                       greenfleet::core::InputError);
  CHECK_THROWS_WITH_AS(check_output_path(dir.path("new/"), {}, "-o"), doctest::Contains("names a directory"),
                       greenfleet::core::InputError);
  CHECK_THROWS_WITH_AS(check_output_path("/dev/null", {}, "-o"), doctest::Contains("a character device"),
                       greenfleet::core::InputError);
  CHECK_THROWS_WITH_AS(check_output_path(input, {input}, "-o"), doctest::Contains("one of the run's inputs"),
                       greenfleet::core::InputError);
  CHECK_THROWS_WITH_AS(check_output_path(input + "/out.h5", {}, "-o"), doctest::Contains("not a directory"),
                       greenfleet::core::InputError);
  check_output_path(input, {}, "-o");  // an existing output is replaced
  check_output_path(dir.path("a/b/out.h5"), {input}, "-o");
  CHECK(std::filesystem::is_directory(dir.path("a/b")));  // created
  CHECK(greenfleet::core::temporary_path("x.h5") == "x.h5.tmp-" + std::to_string(::getpid()));
  CHECK_THROWS_WITH_AS(greenfleet::core::throw_write_error("writing x", ENOSPC),
                       doctest::Contains("No space left on device"), greenfleet::core::EnvironmentError);
}
