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

// Hands every request on to the decode instance at once (an instantaneous transfer), noting what it carried.
struct ToDecode : serving::HandoffSink {
  serving::Instance* decode = nullptr;
  serving::RequestPool* pool = nullptr;
  core::Engine* engine = nullptr;
  struct Carried {
    core::SimTime at;
    std::int32_t generated, kv_tokens;
    double kv_bytes;
    std::int64_t prefill_free_blocks;
  };
  std::vector<Carried> carried;
  void on_handoff(serving::Instance& from, std::uint32_t slot) override {
    const serving::RequestState& r = (*pool)[slot];
    CHECK(r.kv_blocks == 0);  // its blocks stay behind, freed
    carried.push_back({engine->now(), r.generated, r.kv_tokens(), from.kv_bytes(r), from.kv_blocks_free()});
    decode->accept(slot);
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
  serving::InstanceStats prefill, decode;
  std::int64_t prefill_free = 0, decode_free = 0;
};

Disaggregated disaggregated(const std::vector<workload::RequestSpec>& specs, bool fast_forward,
                            std::int64_t blocks = 1000) {
  const perf::RooflineModel roofline = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  Finished obs;
  serving::Instance p(0, {}, config(fast_forward), blocks, 4096, &roofline, &engine, &pool, &obs);
  serving::Instance d(1, {}, config(fast_forward), blocks, 4096, &roofline, &engine, &pool, &obs);
  ToDecode sink;
  sink.decode = &d, sink.pool = &pool, sink.engine = &engine;
  p.set_role(serving::InstanceRole::kPrefill, &sink);
  d.set_role(serving::InstanceRole::kDecode);
  feed(engine, pool, p, specs);
  CHECK(pool.live() == 0);
  return {obs.done, sink.carried, p.stats(), d.stats(), p.kv_blocks_free(), d.kv_blocks_free()};
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
    CHECK(split.carried[0].prefill_free_blocks == 1000);  // its 25 blocks were freed as it left
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
