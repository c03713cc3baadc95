#include <doctest/doctest.h>

#include <string>
#include <type_traits>

#include "sim/config/config_node.hpp"
#include "sim/core/engine.hpp"
#include "sim/core/error.hpp"
#include "sim/core/registry.hpp"
#include "sim/experiment/components.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/routing/router.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const std::vector<core::ParamSpec> kSpecs = {
    core::int_param("count", 3, 1, 10, "how many"),
    core::number_param("share", 0.5, 0.0, 1.0, "a share"),
    core::string_param("label", std::string("x"), "a label"),
    core::bool_param("on", true, "a switch"),
    core::duration_param("wait", 600 * core::kSecond, 1, "a wait"),
    core::choice_param("mode", {"fast", "slow"}, std::string("fast"), "a mode"),
};

// Reads `yaml` (a mapping) as the parameters of kSpecs, then rejects unknown keys; returns the values and the
// resolved tree.
core::ParamValues read(const std::string& yaml, YAML::Node& resolved,
                       const std::vector<core::ParamSpec>& specs = kSpecs) {
  resolved = YAML::Node(YAML::NodeType::Map);
  config::ConfigNode n(YAML::Load(yaml), "p.yaml", "params", resolved);
  core::ParamValues v = config::read_params(n, specs);
  n.finish();
  return v;
}

std::string read_error(const std::string& yaml, const std::vector<core::ParamSpec>& specs = kSpecs) {
  YAML::Node resolved;
  try {
    read(yaml, resolved, specs);
  } catch (const core::InputError& e) {
    return e.what();
  }
  FAIL("expected an InputError");
  return "";
}

}  // namespace

TEST_CASE("a declaration documents its type, default and range") {
  CHECK(core::type_text(kSpecs[0]) == "int");
  CHECK(core::default_text(kSpecs[0]) == "3");
  CHECK(core::range_text(kSpecs[0]) == "[1, 10]");
  CHECK(core::range_text(core::int_param("n", 0, 0, INT64_MAX, "")) == ">= 0");
  CHECK(core::range_text(kSpecs[1]) == "[0, 1]");
  CHECK(core::default_text(kSpecs[2]) == "x");
  CHECK(core::default_text(core::string_param("s", std::string(), "")) == "\"\"");
  CHECK(core::default_text(kSpecs[3]) == "true");
  CHECK(core::type_text(kSpecs[4]) == "duration");
  CHECK(core::default_text(kSpecs[4]) == "600s");
  CHECK(core::range_text(kSpecs[4]) == ">= 1ns");
  CHECK(core::range_text(kSpecs[5]) == "one of fast, slow");
  CHECK(core::default_text(core::file_param("file", "")) == "required");
  CHECK_THROWS_AS(core::choice_param("m", {"a"}, std::string("b"), ""), std::logic_error);
}

TEST_CASE("read_params fills defaults from the declaration and records them in the resolved tree") {
  YAML::Node resolved;
  const core::ParamValues v = read("{count: 7, mode: slow}", resolved);
  CHECK(v.get_int("count") == 7);
  CHECK(v.get_number("share") == 0.5);
  CHECK(v.get_string("label") == "x");
  CHECK(v.get_bool("on"));
  CHECK(v.get_duration("wait") == 600 * core::kSecond);
  CHECK(v.get_string("mode") == "slow");
  YAML::Emitter em;
  em << resolved;
  CHECK(std::string(em.c_str()) == "count: 7\nshare: 0.5\nlabel: x\non: true\nwait: 600s\nmode: slow");
  CHECK(v == core::ParamValues(read("{count: 7, mode: slow}", resolved)));
}

TEST_CASE("read_params errors come from the declaration, with the position") {
  CHECK(read_error("{count: 11}") == "p.yaml:1:9: params.count: value 11 is out of range [1, 10]");
  CHECK(read_error("{count: two}") == "p.yaml:1:9: params.count: expected an integer, got 'two'");
  CHECK(read_error("{share: 2}") == "p.yaml:1:9: params.share: value 2 is out of range [0, 1]");
  CHECK(read_error("{wait: 0}") == "p.yaml:1:8: params.wait: duration '0' must be at least 1e-09s");
  CHECK(read_error("{mode: fsat}") ==
        "p.yaml:1:8: params.mode: 'fsat' is not one of: fast, slow (did you mean 'fast'?)");
  CHECK(read_error("{cuont: 2}") ==
        "p.yaml:1:2: params.cuont: unknown key (did you mean 'count'?); expected one of: count, label, mode, on, "
        "share, wait");
  // A component without parameters says so instead of listing nothing.
  CHECK(read_error("{x: 1}", {}) == "p.yaml:1:2: params.x: unknown key; this mapping takes no keys");
}

TEST_CASE("files go through the resolver; sections are left to the caller") {
  YAML::Node resolved(YAML::NodeType::Map);
  config::ConfigNode n(YAML::Load("{file: a.csv, sub: {k: 1}}"), "p.yaml", "w", resolved);
  const std::vector<core::ParamSpec> specs = {core::file_param("file", ""), core::section_param("sub", "")};
  const core::ParamValues v = config::read_params(
      n, specs, [](config::ConfigNode& node, const std::string& key) { return "/data/" + node.get_string(key); });
  CHECK(v.get_string("file") == "/data/a.csv");
  CHECK_FALSE(v.has("sub"));
  CHECK(n.child("sub").get_int("k") == 1);
  n.finish();
  config::ConfigNode missing(YAML::Load("{}"), "p.yaml", "w", YAML::Node(YAML::NodeType::Map));
  CHECK_THROWS_WITH_AS(config::read_params(missing, specs), doctest::Contains("w.file: required key is missing"),
                       core::InputError);
}

TEST_CASE("parameter values refuse names and types that were not declared") {
  const core::ParamValues v = core::default_values(kSpecs);
  CHECK(v.get_int("count") == 3);
  CHECK_THROWS_AS(v.get_int("cout"), std::logic_error);
  CHECK_THROWS_AS(v.get_string("count"), std::logic_error);
  CHECK_THROWS_AS(v.get_int("wait"), std::logic_error);  // a duration is not an int
  CHECK_FALSE(core::default_values({core::file_param("file", "")}).has("file"));
}

TEST_CASE("a registry keeps registration order and refuses duplicates and unknown names") {
  core::Registry<int, int> r("thing", "thing.name", "thing.params", "things");
  r.add("b", "second letter", {core::int_param("k", 1, 0, 5, "k")},
        [](const core::ParamValues& p, int x) { return x + static_cast<int>(p.get_int("k")); });
  r.add("a", "first letter", {core::int_param("k", 1, 0, 5, "k")},
        [](const core::ParamValues&, int x) { return x; });
  CHECK(r.names() == std::vector<std::string>{"b", "a"});
  CHECK(r.create("b", core::default_values(r.info("b").params), 10) == 11);
  CHECK_THROWS_AS(r.add("a", "", {}, [](const core::ParamValues&, int) { return 0; }), std::logic_error);
  CHECK_THROWS_WITH_AS(r.create("c", {}, 0), "no thing named 'c'", std::out_of_range);
  CHECK(r.all_params().size() == 1);
  r.add("c", "", {core::int_param("k", 2, 0, 5, "k")}, [](const core::ParamValues&, int) { return 0; });
  CHECK_THROWS_AS(r.all_params(), std::logic_error);  // `k` declared two ways
}

TEST_CASE("every registered component builds from its declared defaults") {
  // Factories read only declared parameters: ParamValues throws on anything else.
  for (const auto& name : routing::routers().names())
    CHECK(routing::routers().create(name, core::default_values(routing::routers().info(name).params), 1));
  for (const auto& name : experiment::power_policies().names())
    CHECK_NOTHROW(experiment::power_policies().create(
        name, core::default_values(experiment::power_policies().info(name).params)));
  CHECK(experiment::power_policies()
            .create("off_when_idle", core::default_values(experiment::power_policies().all_params()))
            .off_when_idle);
  const auto& cat = test::catalog();
  const auto params = core::default_values(experiment::perf_models().all_params());
  for (const std::string gpu : {"h100-sxm", "a10"}) {
    const experiment::PerfContext c{cat, cat.gpu(gpu), cat.model("llama-3.1-8b"), "llama-3.1-8b", 1};
    for (const auto& name : experiment::perf_models().names()) {
      const auto model = experiment::perf_models().create(name, params, c);
      REQUIRE(model);
      CHECK(model->step_seconds(perf::BatchShape{}) >= 0);
    }
  }
  experiment::SourceContext sc;
  workload::SyntheticSpec spec;
  spec.requests = 2;
  sc.synthetic = &spec;
  auto source = experiment::workload_sources().create("synthetic", {}, sc);
  workload::RequestSpec r;
  CHECK(source->next(r));
}

TEST_CASE("listings: text for `greenfleet list`, markdown for the docs") {
  const auto routers = routing::routers().listing();
  const std::string text = core::listing_text(routers);
  CHECK(text.find("router round_robin\n      Cycles through the instances in order.\n      (no parameters)") !=
        std::string::npos);
  CHECK(text.find("- wake_penalty_tokens (int, default 200000, >= 0): extra load") != std::string::npos);
  const std::string md = core::listing_markdown(routers);
  CHECK(md.find("| `power_of_two` | Samples two distinct") != std::string::npos);
  // A parameter declared alike by two entries is one row; declared differently, one row each.
  CHECK(md.find("| `wake_penalty_tokens` | int | `200000` | `least_outstanding_tokens`, `power_of_two`, "
                "`carbon_deferral` | >= 0: ") != std::string::npos);
  CHECK(md.find("| `seed_stream` | string | `router.random` | `random` |") != std::string::npos);
  CHECK(md.find("| `seed_stream` | string | `router.power_of_two` | `power_of_two` |") != std::string::npos);
  const auto power = experiment::power_policies().listing();
  CHECK(core::listing_markdown(power).find("| `always_on` | ") != std::string::npos);
  std::vector<std::string> categories;
  for (const auto& l : experiment::registries()) categories.push_back(l.category);
  CHECK(categories ==
        std::vector<std::string>{"workload_source", "perf_model", "power_policy", "router", "mode_router"});
}

TEST_CASE("decode costs come from a table filled once; const reads only") {
  const auto& cat = test::catalog();
  perf::RooflineModel m(cat.model("llama-3.1-8b"), cat.gpu("h100-sxm"), 1, spec::RooflineParams{});
  const perf::DecodeCost before = m.decode_cost_cached(17);  // no table: computed
  m.prepare_decode_costs(64);
  for (std::int32_t b : {1, 17, 64, 65, 300}) {
    const perf::DecodeCost c = m.decode_cost_cached(b), d = m.decode_cost(b);
    CHECK(c.batch == b);
    CHECK(c.fixed == d.fixed);
    CHECK(c.a1 == d.a1);
    CHECK(c.b1 == d.b1);
    CHECK(c.a2 == d.a2);
    CHECK(c.b2 == d.b2);
  }
  CHECK(before.a2 == m.decode_cost_cached(17).a2);
}

TEST_CASE("event handlers cannot be copied or moved: the engine holds their address") {
  CHECK_FALSE(std::is_copy_constructible_v<core::EventHandler>);
  CHECK_FALSE(std::is_move_constructible_v<core::EventHandler>);
  CHECK_FALSE(std::is_copy_assignable_v<core::EventHandler>);
}

namespace {

const std::string kExperiment = R"(name: t
sites: [{name: s, carbon_intensity: 17}]
deployments: [{name: d, model: llama-3.1-8b}]
fleet: [{site: s, sku: hgx-h100x8}]
workload:
  source: synthetic
  synthetic:
    requests: 10
    rate: 2
    prompt_tokens: {distribution: constant, value: 100}
    output_tokens: {distribution: constant, value: 10}
)";

std::string load_error(std::vector<std::string> overrides) {
  test::TempDir dir;
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  try {
    experiment::load_experiment(dir.write("x.yaml", kExperiment), test::catalog(), o);
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    return msg.substr(msg.find("(--set"));
  }
  FAIL("expected an InputError");
  return "";
}

}  // namespace

TEST_CASE("the loader validates names and parameters against the registries") {
  CHECK(load_error({"router.params.x=1"}) == "(--set router.params.x): unknown key; this mapping takes no keys");
  CHECK(load_error({"router.name=power_of_two", "router.params.wake_penalty_tokens=-1"}) ==
        "(--set router.params.wake_penalty_tokens): value -1 is out of range (must be at least 0)");
  CHECK(load_error({"fleet.0.power.policy=of_when_idle"}) ==
        "(--set fleet[0].power.policy): 'of_when_idle' is not one of: always_on, off_when_idle, follow_plan (did "
        "you mean 'off_when_idle'?)");
  CHECK(load_error({"deployments.0.perf_model.kind=rooflin"}) ==
        "(--set deployments[0].perf_model.kind): 'rooflin' is not one of: calibrated, roofline (did you mean "
        "'roofline'?)");
  CHECK(load_error({"workload.model_filter=x"}).find("unknown key") != std::string::npos);

  test::TempDir dir;
  experiment::LoadOptions o;
  o.overrides = {"router.name=random", "fleet.0.power.policy=off_when_idle", "fleet.0.power.boot_time=30s"};
  const experiment::Experiment x =
      experiment::load_experiment(dir.write("x.yaml", kExperiment), test::catalog(), o);
  CHECK(x.router.params.get_string("seed_stream") == "router.random");
  CHECK(x.fleet[0].power_policy == "off_when_idle");
  CHECK(x.fleet[0].power.off_when_idle);
  CHECK(x.fleet[0].power.boot_time == 30 * core::kSecond);
  CHECK(x.fleet[0].power.idle_timeout == 600 * core::kSecond);
  CHECK(x.deployments[0].perf_params.get_number("compute_efficiency") == 0.55);
}

TEST_CASE("one perf-kind rule and one KV formula serve the loader and the runner") {
  experiment::DeploymentConfig d;
  d.perf_kind = "calibrated";
  d.perf_kind_by_gpu["a10"] = "roofline";
  CHECK(experiment::perf_kind_for(d, "h100-sxm") == "calibrated");
  CHECK(experiment::perf_kind_for(d, "a10") == "roofline");
  const auto& cat = test::catalog();
  const auto& gpu = cat.gpu("h100-sxm");
  const auto& model = cat.model("llama-3.1-8b");
  CHECK(experiment::kv_cache_bytes(d, gpu, model) ==
        gpu.memory_gb * 1073741824.0 * 0.9 - 1.0 * 1e9 - model.weight_bytes());
  // GDDR boards lose 1/16 to inline ECC: a 16 GB T4 offers 15 GiB.
  CHECK(experiment::device_memory_bytes(cat.gpu("t4")) == 15.0 * 1073741824.0);
}

TEST_CASE("perf_model parameters resolve in their historical order, by_gpu after fallback") {
  test::TempDir dir;
  experiment::LoadOptions o;
  o.overrides = {"deployments.0.perf_model.by_gpu={h100-sxm: roofline}"};
  const experiment::Experiment x =
      experiment::load_experiment(dir.write("x.yaml", kExperiment), test::catalog(), o);
  CHECK(x.resolved_yaml.find("    perf_model:\n      kind: roofline\n      fallback: roofline\n      by_gpu:\n"
                             "        h100-sxm: roofline\n      compute_efficiency: 0.55\n") != std::string::npos);
  CHECK(x.deployments[0].perf_params.get_duration("allreduce_latency") == 8 * core::kMicrosecond);
}

TEST_CASE("perf_model.compute_memory_serial is range-checked and reaches the roofline of both kinds") {
  CHECK(load_error({"deployments.0.perf_model.compute_memory_serial=1.5"}) ==
        "(--set deployments[0].perf_model.compute_memory_serial): value 1.5 is out of range [0, 1]");
  CHECK(load_error({"deployments.0.perf_model.compute_memory_serial=-0.1"}).find("out of range [0, 1]") !=
        std::string::npos);
  test::TempDir dir;
  const auto& cat = test::catalog();
  auto load = [&](std::vector<std::string> overrides) {
    experiment::LoadOptions o;
    o.overrides = std::move(overrides);
    return experiment::load_experiment(dir.write("x.yaml", kExperiment), cat, o);
  };
  // The default is the fitted share (tests/test_ml_energy.cpp checks the fit against it).
  CHECK(load({}).deployments[0].perf_params.get_number("compute_memory_serial") ==
        spec::RooflineParams{}.compute_memory_serial);
  perf::BatchShape decode;
  decode.decode_seqs = 256, decode.decode_ctx = 256LL * 600;
  const experiment::PerfContext h100{cat, cat.gpu("h100-sxm"), cat.model("llama-3.1-8b"), "llama-3.1-8b", 1};
  // A10: no calibrated entry for the model, so `calibrated` falls back to a roofline with carried efficiencies.
  const experiment::PerfContext a10{cat, cat.gpu("a10"), cat.model("llama-3.1-8b"), "llama-3.1-8b", 1};
  REQUIRE(cat.calibration("a10", "llama-3.1-8b", 1) == nullptr);
  double fallback[2] = {0, 0};
  for (const int s : {0, 1}) {
    const experiment::Experiment x = load({"deployments.0.perf_model.compute_memory_serial=" + std::to_string(s)});
    const core::ParamValues& params = x.deployments[0].perf_params;
    CHECK(params.get_number("compute_memory_serial") == s);
    // kind roofline: the same steps as a RooflineModel built with that share.
    spec::RooflineParams p;
    p.compute_memory_serial = s;
    const perf::RooflineModel direct(cat.model("llama-3.1-8b"), cat.gpu("h100-sxm"), 1, p);
    CHECK(experiment::perf_models().create("roofline", params, h100)->step_seconds(decode) ==
          direct.step_seconds(decode));
    const auto carried = experiment::perf_models().create("calibrated", params, a10);
    REQUIRE(carried->kind() == "roofline");
    fallback[s] = carried->step_seconds(decode);
  }
  // The fallback keeps the share beside the carried efficiencies: fully serial is slower than full overlap.
  CHECK(fallback[1] > fallback[0] * 1.05);
}

TEST_CASE("a simulation keeps no reference to its experiment") {
  test::TempDir dir;
  auto x = std::make_unique<experiment::Experiment>(
      experiment::load_experiment(dir.write("x.yaml", kExperiment), test::catalog(), {}));
  runner::Simulation sim(*x, test::catalog());
  x.reset();  // gone before the run
  sim.run();
  CHECK(sim.arrived() == 10);
  CHECK(sim.metrics().completed() == 10);
}
