// Which instance each built-in router picks, worked out by hand on instances in known states: loads, KV use,
// sleeping servers and the wake penalty. The load-based routers are checked both with their index attached (as
// in a simulation) and without (a plain scan).
#include <doctest/doctest.h>

#include <memory>
#include <span>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/routing/router.hpp"
#include "sim/serving/instance.hpp"
#include "tiny_hardware.hpp"

using namespace greenfleet;

namespace {

// Three idle instances on the hand-sized hardware, 100 KV blocks of 16 tokens each. Requests enqueued here are
// admitted at once (the engine never runs, so the clock stays at 0 and no iteration completes): an instance's
// outstanding tokens are the prompt and output tokens it was given, its KV use the blocks of their prompts.
struct Fleet {
  perf::RooflineModel model = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  std::vector<std::unique_ptr<serving::Instance>> owned;
  std::vector<serving::Instance*> instances;
  std::unique_ptr<routing::Router> router;

  Fleet(const std::string& name, std::int64_t wake_penalty = -1, bool attach = true) {
    for (int i = 0; i < 3; ++i) {
      owned.push_back(std::make_unique<serving::Instance>(i, serving::Placement{}, serving::SchedulerConfig{}, 100,
                                                          4096, &model, &engine, &pool, nullptr));
      instances.push_back(owned.back().get());
    }
    const auto& info = routing::routers().info(name);
    core::ParamValues params = core::default_values(info.params);
    if (wake_penalty >= 0) params.set("wake_penalty_tokens", core::ParamType::kInt, wake_penalty);
    router = routing::routers().create(name, params, 7);
    if (attach)
      if (serving::LoadListener* l = router->watch_loads(engine))
        for (auto* in : instances) in->set_load_listener(l);
  }
  void give(int instance, std::int32_t prompt, std::int32_t output) {
    workload::RequestSpec s;
    s.prompt_tokens = prompt, s.output_tokens = output;
    instances[static_cast<std::size_t>(instance)]->enqueue(pool.acquire(s));
  }
  std::size_t pick() {
    workload::RequestSpec s;
    s.prompt_tokens = 10, s.output_tokens = 10;
    const std::uint32_t slot = pool.acquire(s);
    const std::vector<const serving::Instance*> view(instances.begin(), instances.end());
    const routing::Decision d = router->route(pool[slot], view, routing::RoutingContext{});
    pool.release(slot);
    REQUIRE(d.kind == routing::Decision::Kind::kJoin);
    return d.instance;
  }
};

}  // namespace

TEST_CASE("least_outstanding_tokens: the fewest tokens, ties to the lowest index, sleeping servers penalised") {
  for (bool attach : {true, false}) {
    CAPTURE(attach);
    Fleet f("least_outstanding_tokens", -1, attach);
    f.give(0, 200, 100);  // 300 tokens
    f.give(1, 100, 50);   // 150
    f.give(2, 100, 50);   // 150
    CHECK(f.instances[1]->outstanding_tokens() == 150);
    CHECK(f.pick() == 1);  // tie between 1 and 2: the lower index
    f.give(1, 10, 10);     // 170
    CHECK(f.pick() == 2);

    Fleet s("least_outstanding_tokens", 1000, attach);
    s.give(0, 200, 100);  // 300
    s.give(1, 100, 50);   // 150, but asleep: 1,150
    s.give(2, 150, 50);   // 200
    s.instances[1]->power_off();
    CHECK(s.pick() == 2);
    Fleet z("least_outstanding_tokens", 0, attach);  // no penalty: a sleeping instance competes on its load
    z.give(0, 200, 100);
    z.give(1, 100, 50);
    z.give(2, 150, 50);
    z.instances[1]->power_off();
    CHECK(z.pick() == 1);
  }
}

TEST_CASE("least_kv_usage: powered before sleeping, then the emptiest cache, then the shortest queue") {
  for (bool attach : {true, false}) {
    CAPTURE(attach);
    Fleet f("least_kv_usage", -1, attach);
    f.give(0, 200, 10);  // 13 blocks of 100
    f.give(1, 100, 10);  // 7 blocks
    CHECK(f.instances[0]->kv_usage() == doctest::Approx(0.13));
    CHECK(f.pick() == 2);  // an empty cache
    f.instances[2]->power_off();
    CHECK(f.pick() == 1);  // the emptiest powered cache, though the sleeping one is emptier
    f.instances[0]->power_off();
    f.instances[1]->power_off();
    CHECK(f.pick() == 2);  // all asleep: the emptiest
  }
}

TEST_CASE("round_robin and random skip sleeping instances while any is powered; power_of_two takes the lighter") {
  Fleet rr("round_robin");
  rr.instances[1]->power_off();
  CHECK(rr.pick() == 0);
  CHECK(rr.pick() == 2);  // 1 skipped
  CHECK(rr.pick() == 0);
  rr.instances[0]->power_off();
  rr.instances[2]->power_off();
  const std::size_t woken = rr.pick();  // nothing powered: the next in turn is woken
  CHECK(woken == 1);

  Fleet r("random");
  r.instances[0]->power_off();
  r.instances[2]->power_off();
  for (int k = 0; k < 20; ++k) CHECK(r.pick() == 1);

  // Two instances, so both are always the candidates: the one with fewer tokens, with the penalty if asleep.
  Fleet p("power_of_two", 1000);
  p.instances.pop_back();
  p.give(0, 200, 100);  // 300
  p.give(1, 100, 50);   // 150
  for (int k = 0; k < 10; ++k) CHECK(p.pick() == 1);
  p.instances[1]->power_off();  // 1,150
  for (int k = 0; k < 10; ++k) CHECK(p.pick() == 0);
}

TEST_CASE("routing context: carbon intensity, PUE and estimates from the perf and power models, by hand") {
  const perf::RooflineModel model = test::tiny_roofline();
  core::Engine engine;
  serving::RequestPool pool;
  serving::Placement place;
  place.server = 0;
  place.devices = 2;
  serving::Instance in(0, place, serving::SchedulerConfig{}, 100, 4096, &model, &engine, &pool, nullptr);
  const energy::CarbonSignal ci = energy::CarbonSignal::constant(400);  // g/kWh
  std::vector<energy::ServerPower> servers(1);
  servers[0].ci = &ci;
  servers[0].pue = 1.5;
  servers[0].gpu_prefill_w = 300;
  servers[0].gpu_decode_w = 200;
  servers[0].gpu_emb_g_per_s = 0.01;
  const routing::RoutingContext ctx(&engine, &servers);
  CHECK(ctx.now() == 0);
  CHECK(ctx.carbon_intensity(in) == 400);
  CHECK(ctx.pue(in) == 1.5);

  perf::BatchShape shape;
  shape.prefill_tokens = 100;
  shape.prefill_seqs = shape.prefill_final_chunks = 1;
  shape.prefill_attn_ctx = 100.0 * 101 / 2;
  shape.prefill_kv_tokens = 100;
  const double t = model.step_cost(shape).seconds;
  const routing::Estimate p = ctx.prefill(in, 100);
  CHECK(p.seconds == doctest::Approx(t));
  CHECK(p.joules == doctest::Approx(300.0 * 2 * t));
  CHECK(p.carbon_g == doctest::Approx(300.0 * 2 * t / 3.6e6 * 400 * 1.5 + 0.01 * 2 * t));

  // Ten decode iterations of a batch of 4 from a total context of 400: the closed-form run, at decode power.
  const double d = model.decode_step_seconds(4, 400) + model.decode_step_seconds(4, 404) +
                   model.decode_step_seconds(4, 408) + model.decode_step_seconds(4, 412) +
                   model.decode_step_seconds(4, 416) + model.decode_step_seconds(4, 420) +
                   model.decode_step_seconds(4, 424) + model.decode_step_seconds(4, 428) +
                   model.decode_step_seconds(4, 432) + model.decode_step_seconds(4, 436);
  const routing::Estimate e = ctx.decode(in, 4, 400, 10);
  CHECK(e.seconds == doctest::Approx(d));
  CHECK(e.joules == doctest::Approx(200.0 * 2 * d));
}
