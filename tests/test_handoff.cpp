// A request handed from a prefill instance to a decode instance mid-life: timings, KV accounting and the
// tokens each side processes, against a unified instance doing the same work and by hand.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/rng.hpp"
#include "sim/serving/instance.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

struct Done {
  core::SimTime first_token = -1, completion = -1;
  std::int32_t instance = -1;
  int status = -1;
};

struct Finished : serving::ServingObserver {
  std::map<std::uint64_t, Done> done;
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    CHECK(done.count(r.spec.id) == 0);  // reported exactly once
    done[r.spec.id] = Done{r.first_token, r.completion, r.instance, static_cast<int>(r.status)};
  }
};

// Hands every request on to the decode instance, whose KV then crosses a link that takes `delay` ns whatever the
// size (0: instantaneous, but still an event, as real transfers are), noting what it carried.
struct ToDecode : serving::HandoffSink, core::EventHandler {
  serving::Instance* prefill = nullptr;
  serving::Instance* decode = nullptr;
  serving::RequestPool* pool = nullptr;
  core::Engine* engine = nullptr;
  core::SimTime delay = 0;
  std::uint16_t kind = 0;
  struct Carried {
    core::SimTime at;
    std::int32_t generated, kv_tokens;
    double kv_bytes;
    std::int64_t prefill_free_blocks;
  };
  std::vector<Carried> carried;
  std::vector<core::SimTime> reserved, arrived;
  void on_handoff(serving::Instance& from, std::uint32_t slot) override {
    const serving::RequestState& r = (*pool)[slot];
    CHECK(r.kv_blocks == 0);  // its blocks are held for the transfer, not the request's any more
    CHECK(r.held_blocks > 0);
    carried.push_back({engine->now(), r.generated, r.kv_tokens(), from.kv_bytes(r), from.kv_blocks_free()});
    decode->accept(slot);
  }
  void on_kv_reserved(serving::Instance&, std::uint32_t slot) override {
    reserved.push_back(engine->now());
    engine->schedule(engine->now() + delay, core::kPriorityArrival, kind, slot);
  }
  void on_event(const core::Event& e) override {
    arrived.push_back(engine->now());
    prefill->release_held(e.target);
    decode->kv_arrived(e.target);
  }
};

serving::SchedulerConfig config(bool fast_forward) {
  serving::SchedulerConfig c;
  c.kv_block_size = 4;
  c.max_batched_tokens = 256;
  c.fast_forward = fast_forward;
  c.check_invariants = true;
  c.kv_bytes_per_token = test::tiny_model().kv_bytes_per_token();
  return c;
}

workload::RequestSpec request(std::uint64_t id, core::SimTime arrival, std::int32_t prompt, std::int32_t output) {
  workload::RequestSpec s;
  s.id = id, s.arrival = arrival, s.prompt_tokens = prompt, s.output_tokens = output;
  return s;
}

// Feeds `specs` at their arrival times to `to` and runs the engine dry.
void feed(core::Engine& engine, serving::RequestPool& pool, serving::Instance& to,
          const std::vector<workload::RequestSpec>& specs) {
  struct Feed : core::EventHandler {
    serving::RequestPool* pool;
    serving::Instance* to;
    const std::vector<workload::RequestSpec>* specs;
    void on_event(const core::Event& e) override { to->enqueue(pool->acquire((*specs)[e.target])); }
  } f;
  f.pool = &pool, f.to = &to, f.specs = &specs;
  const auto kind = engine.register_kind(&f);
  for (std::size_t i = 0; i < specs.size(); ++i)
    engine.schedule(specs[i].arrival, core::kPriorityArrival, kind, static_cast<std::uint32_t>(i));
  engine.run();
}

struct Disaggregated {
  std::map<std::uint64_t, Done> done;
  std::vector<ToDecode::Carried> carried;
  std::vector<core::SimTime> reserved, arrived;
  serving::InstanceStats prefill, decode;
  std::int64_t prefill_free = 0, decode_free = 0;
};

Disaggregated disaggregated(const std::vector<workload::RequestSpec>& specs, bool fast_forward,
                            std::int64_t blocks = 1000, core::SimTime delay = 0) {
  const perf::RooflineModel roofline = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  Finished obs;
  serving::Instance p(0, {}, config(fast_forward), blocks, 4096, &roofline, &engine, &pool, &obs);
  serving::Instance d(1, {}, config(fast_forward), blocks, 4096, &roofline, &engine, &pool, &obs);
  ToDecode sink;
  sink.prefill = &p, sink.decode = &d, sink.pool = &pool, sink.engine = &engine, sink.delay = delay;
  sink.kind = engine.register_kind(&sink);
  p.set_role(serving::InstanceRole::kPrefill, &sink);
  d.set_role(serving::InstanceRole::kDecode);
  d.set_handoff_sink(&sink);
  feed(engine, pool, p, specs);
  CHECK(pool.live() == 0);
  return {obs.done,  sink.carried, sink.reserved,      sink.arrived,
          p.stats(), d.stats(),    p.kv_blocks_free(), d.kv_blocks_free()};
}

std::map<std::uint64_t, Done> unified(const std::vector<workload::RequestSpec>& specs, bool fast_forward) {
  const perf::RooflineModel roofline = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  Finished obs;
  serving::Instance u(0, {}, config(fast_forward), 1000, 4096, &roofline, &engine, &pool, &obs);
  feed(engine, pool, u, specs);
  return obs.done;
}

}  // namespace

TEST_CASE("a request handed from a prefill to a decode instance keeps its timings and KV accounting") {
  // One request, 100 prompt and 10 output tokens, on the hand-sized hardware of the serving goldens: the prefill
  // step ends at 3,539,315 ns with the first token (test_serving.cpp works it out); the decode instance then runs
  // the other 9 tokens as a unified instance would run them after the same prefill, since the transfer here is
  // instantaneous and nothing else competes.
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    const std::vector<workload::RequestSpec> one = {request(0, 0, 100, 10)};
    const Disaggregated split = disaggregated(one, fast_forward);
    const auto whole = unified(one, fast_forward);
    REQUIRE(split.done.size() == 1);
    const Done& r = split.done.at(0);
    CHECK(r.status == 0);
    CHECK(r.instance == 1);  // finished where it decoded
    CHECK(r.first_token == 3'539'315);
    CHECK(r.first_token == whole.at(0).first_token);
    CHECK(r.completion == whole.at(0).completion);
    // What moved: the prompt's KV (the first token's is written by the decode instance's first step).
    REQUIRE(split.carried.size() == 1);
    CHECK(split.carried[0].at == 3'539'315);
    CHECK(split.carried[0].generated == 1);
    CHECK(split.carried[0].kv_tokens == 100);
    CHECK(split.carried[0].kv_bytes == 100.0 * 4096);
    CHECK(split.carried[0].prefill_free_blocks == 1000 - 25);  // its 25 blocks held until the KV has left
    // Tokens each side processed: the prompt and the first token there, the other 9 here.
    CHECK(split.prefill.prefill_tokens == 100);
    CHECK(split.prefill.decode_tokens == 1);
    CHECK(split.prefill.handed_off == 1);
    CHECK(split.prefill.completed == 0);
    CHECK(split.decode.prefill_tokens == 0);
    CHECK(split.decode.decode_tokens == 9);
    CHECK(split.decode.completed == 1);
    CHECK(split.decode.iterations == 9);
    CHECK(split.prefill_free == 1000);
    CHECK(split.decode_free == 1000);
  }
}

TEST_CASE("disaggregated serving: every request once, tokens conserved, fast-forward equals stepping") {
  // Random arrivals and lengths, a small cache on each side so the decode instance preempts and recomputes
  // handed-over requests. Invariants are checked at every step (config.check_invariants).
  core::Rng rng(7);
  std::vector<workload::RequestSpec> specs;
  core::SimTime t = 0;
  std::int64_t prompts = 0, outputs = 0;
  for (std::uint64_t i = 0; i < 60; ++i) {
    t += static_cast<core::SimTime>(rng.exponential(1.0 / 2e6));  // ~2 ms apart
    const auto prompt = static_cast<std::int32_t>(1 + rng.below(120));
    const auto output = static_cast<std::int32_t>(1 + rng.below(40));
    specs.push_back(request(i, t, prompt, output));
    prompts += prompt, outputs += output;
  }
  const Disaggregated ff = disaggregated(specs, true, 60);
  const Disaggregated ref = disaggregated(specs, false, 60);
  REQUIRE(ff.done.size() == specs.size());
  REQUIRE(ref.done.size() == specs.size());
  std::uint64_t single_token = 0;
  for (const auto& s : specs) single_token += s.output_tokens == 1 ? 1 : 0;
  for (const Disaggregated* run : {&ff, &ref}) {
    CHECK(run->prefill.handed_off + single_token == specs.size());
    CHECK(run->prefill.completed == single_token);  // a one-token request is done with its prefill
    CHECK(run->decode.completed == run->prefill.handed_off);
    CHECK(run->prefill.decode_tokens + run->decode.decode_tokens == static_cast<std::uint64_t>(outputs));
    // Prompts once, plus whatever preemptions made either side recompute.
    CHECK(run->prefill.prefill_tokens + run->decode.prefill_tokens >= static_cast<std::uint64_t>(prompts));
    CHECK(run->prefill_free == 60);
    CHECK(run->decode_free == 60);
  }
  CHECK(ff.decode.preemptions == ref.decode.preemptions);
  MESSAGE("decode-side preemptions: " << ff.decode.preemptions);
  CHECK(ff.decode.preemptions > 0);
  for (const auto& [id, r] : ref.done) {
    const Done& f = ff.done.at(id);
    CHECK(f.status == r.status);
    CHECK(std::abs(f.first_token - r.first_token) <= 2);
    CHECK(std::abs(f.completion - r.completion) <= 2);
  }
}

TEST_CASE("a split request waits for its transfer: TTFT at the prefill instance, decode after the KV arrives") {
  // The same request with a transfer of 2 ms: the decode instance is idle, so it reserves blocks at once (at the
  // first token), the KV arrives 2 ms later, and the 9 remaining tokens take what they took above, shifted by
  // 2 ms. Both modes give the same times.
  const std::vector<workload::RequestSpec> one = {request(0, 0, 100, 10)};
  const auto whole = unified(one, true);
  for (bool fast_forward : {true, false}) {
    CAPTURE(fast_forward);
    const Disaggregated split = disaggregated(one, fast_forward, 1000, 2'000'000);
    const Done& r = split.done.at(0);
    CHECK(r.first_token == 3'539'315);
    REQUIRE(split.reserved.size() == 1);
    CHECK(split.reserved[0] == 3'539'315);
    REQUIRE(split.arrived.size() == 1);
    CHECK(split.arrived[0] == 3'539'315 + 2'000'000);
    CHECK(r.completion == whole.at(0).completion + 2'000'000);
    CHECK(split.prefill_free == 1000);
    CHECK(split.decode_free == 1000);
  }
}

TEST_CASE("disaggregated serving with slow transfers: fast-forward equals stepping") {
  // Transfers of 5 ms under a load where both sides are busy, so KV arrivals and freed prefill blocks land in the
  // middle of fast-forwarded runs (cut there) and of stepped stretches (restarted there).
  core::Rng rng(11);
  std::vector<workload::RequestSpec> specs;
  core::SimTime t = 0;
  for (std::uint64_t i = 0; i < 80; ++i) {
    t += static_cast<core::SimTime>(rng.exponential(1.0 / 1e6));
    specs.push_back(request(i, t, static_cast<std::int32_t>(1 + rng.below(120)),
                            static_cast<std::int32_t>(1 + rng.below(60))));
  }
  const Disaggregated ff = disaggregated(specs, true, 60, 5'000'000);
  const Disaggregated ref = disaggregated(specs, false, 60, 5'000'000);
  REQUIRE(ff.done.size() == specs.size());
  REQUIRE(ref.done.size() == specs.size());
  CHECK(ff.decode.preemptions == ref.decode.preemptions);
  CHECK(ff.arrived == ref.arrived);
  // A run cut by a hand-over's reservation or its KV's arrival is booked by the next step's pass over the same
  // requests (Instance::list_continued()): the same tokens and iterations as stepping books one at a time.
  CHECK(ff.decode.decode_tokens == ref.decode.decode_tokens);
  CHECK(ff.decode.iterations == ref.decode.iterations);
  CHECK(ff.decode.steps < ref.decode.steps);
  for (const auto& [id, r] : ref.done) {
    const Done& f = ff.done.at(id);
    CHECK(f.status == r.status);
    CHECK(f.first_token == r.first_token);
    CHECK(f.completion == r.completion);
  }
}
