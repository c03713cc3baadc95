#include <doctest/doctest.h>

#include <string>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// A small valid experiment; tests replace one line to make each kind of error. Line numbers matter below.
const std::string kBase = R"(name: t
seed: 3
sites:
  - name: s1
    pue: 1.1
    carbon_intensity: 17
deployments:
  - name: d
    model: llama-3.1-8b
    scheduler:
      max_num_seqs: 64
fleet:
  - site: s1
    sku: hgx-h100x8
    count: 1
workload:
  source: synthetic
  synthetic:
    requests: 10
    rate: 2
    prompt_tokens: {distribution: constant, value: 100}
    output_tokens: {distribution: constant, value: 10}
slo:
  ttft: 500ms
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

std::string load_error(const std::string& yaml, std::vector<std::string> overrides = {}) {
  test::TempDir dir;
  const std::string file = dir.write("exp.yaml", yaml);
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  try {
    experiment::load_experiment(file, test::catalog(), o);
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    // Every message names the file.
    CHECK(msg.find(file) != std::string::npos);
    return msg.substr(msg.find(file) + file.size());
  }
  FAIL("expected an InputError");
  return "";
}

experiment::Experiment load_ok(const std::string& yaml, std::vector<std::string> overrides = {}) {
  test::TempDir dir;
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  return experiment::load_experiment(dir.write("exp.yaml", yaml), test::catalog(), o);
}

}  // namespace

TEST_CASE("a valid experiment loads with defaults filled in") {
  const experiment::Experiment x = load_ok(kBase);
  CHECK(x.name == "t");
  CHECK(x.seed == 3);
  REQUIRE(x.deployments.size() == 1);
  CHECK(x.deployments[0].scheduler.max_num_seqs == 64);
  CHECK(x.deployments[0].scheduler.max_batched_tokens == 2048);  // default
  CHECK(x.slo.ttft == 500 * core::kMillisecond);
  CHECK(x.slo.tpot == 100 * core::kMillisecond);  // default
  CHECK(x.fleet[0].deployment == "d");            // the only deployment
  // The resolved configuration records defaults too.
  CHECK(x.resolved_yaml.find("max_batched_tokens: 2048") != std::string::npos);
  CHECK(x.resolved_yaml.find("compute_efficiency: 0.55") != std::string::npos);
  CHECK(x.resolved_yaml.find("router:") != std::string::npos);
}

TEST_CASE("unknown key: file:line:column, key path and a suggestion") {
  const std::string msg = load_error(replace(kBase, "      max_num_seqs: 64", "      max_num_seq: 64"));
  CHECK(msg.find(":11:7: deployments[0].scheduler.max_num_seq: unknown key") == 0);
  CHECK(msg.find("did you mean 'max_num_seqs'?") != std::string::npos);
}

TEST_CASE("unknown top-level key is rejected with a suggestion") {
  const std::string msg = load_error(kBase + "worklaod: {}\n");
  CHECK(msg.find(":25:1: worklaod: unknown key (did you mean 'workload'?)") == 0);
}

TEST_CASE("wrong type names what was expected and what was found") {
  const std::string msg = load_error(replace(kBase, "    count: 1", "    count: two"));
  CHECK(msg.find(":15:12: fleet[0].count: expected an integer, got 'two'") == 0);
}

TEST_CASE("a mapping where a scalar belongs is a type error") {
  const std::string msg = load_error(replace(kBase, "seed: 3", "seed: {a: 1}"));
  CHECK(msg.find(":2:7: seed: expected an integer, got a mapping") == 0);
}

TEST_CASE("out-of-range values give the range") {
  const std::string msg = load_error(replace(kBase, "    pue: 1.1", "    pue: 0.5"));
  CHECK(msg.find(":5:10: sites[0].pue: value 0.5 is out of range [1, 3]") == 0);
}

TEST_CASE("missing required keys name the section") {
  const std::string msg = load_error(replace(kBase, "    rate: 2\n", ""));
  CHECK(msg.find("workload.synthetic.rate: required key is missing (expected a number)") != std::string::npos);
}

TEST_CASE("references to catalog entries that do not exist fail with a suggestion") {
  const std::string model = load_error(replace(kBase, "model: llama-3.1-8b", "model: llama-3.1-8"));
  CHECK(model.find(":9:12: deployments[0].model: unknown model 'llama-3.1-8'") == 0);
  CHECK(model.find("did you mean 'llama-3.1-8b'?") != std::string::npos);
  const std::string sku = load_error(replace(kBase, "sku: hgx-h100x8", "sku: hgx-h100x4"));
  CHECK(sku.find(":14:10: fleet[0].sku: unknown server SKU 'hgx-h100x4'") == 0);
  const std::string site = load_error(replace(kBase, "  - site: s1", "  - site: s2"));
  CHECK(site.find(":13:11: fleet[0].site: unknown site 's2'") == 0);
}

TEST_CASE("bad enumerations list the options") {
  const std::string msg = load_error(replace(kBase, "source: synthetic", "source: synthetc"));
  CHECK(msg.find(":17:11: workload.source: 'synthetc' is not one of: synthetic, azure_csv, mooncake_jsonl, "
                 "burstgpt_csv (did you mean 'synthetic'?)") == 0);
}

TEST_CASE("durations need a known unit") {
  const std::string msg = load_error(replace(kBase, "ttft: 500ms", "ttft: 500 fortnights"));
  CHECK(msg.find("slo.ttft: unknown time unit") != std::string::npos);
}

TEST_CASE("YAML syntax errors carry the position") {
  const std::string msg = load_error(replace(kBase, "seed: 3", "seed: [3"));
  CHECK(msg.find("YAML syntax error") != std::string::npos);
  CHECK(msg.rfind(":", 0) == 0);  // ":line:col: ..."
}

TEST_CASE("a model that does not fit the GPU is a clear error") {
  const std::string msg = load_error(replace(kBase, "model: llama-3.1-8b", "model: llama-3.1-70b"));
  CHECK(msg.find("fleet[0].sku: model 'llama-3.1-70b'") != std::string::npos);
  CHECK(msg.find("does not fit") != std::string::npos);
}

TEST_CASE("router parameters are validated strictly") {
  const std::string msg = load_error(kBase + "router: {name: random, params: {seed_streem: x}}\n");
  CHECK(msg.find("router.params.seed_streem: unknown key (did you mean 'seed_stream'?)") != std::string::npos);
}

TEST_CASE("--set overrides any key, including list items, and is validated like the file") {
  const experiment::Experiment x =
      load_ok(kBase, {"fleet.0.count=3", "workload.synthetic.rate=7.5", "slo.tpot=50ms"});
  CHECK(x.fleet[0].count == 3);
  CHECK(x.workload.synthetic.rate == 7.5);
  CHECK(x.slo.tpot == 50 * core::kMillisecond);
  CHECK(x.resolved_yaml.find("rate: 7.5") != std::string::npos);
  const std::string bad = load_error(kBase, {"fleet.0.cuont=3"});
  CHECK(bad.find(" (--set fleet[0].cuont): unknown key (did you mean 'count'?)") == 0);
  const std::string value = load_error(kBase, {"seed=-4"});
  CHECK(value.find(" (--set seed): value -4 is out of range") == 0);
  CHECK_THROWS_WITH_AS(load_ok(kBase, {"fleet.5.count=1"}), doctest::Contains("past the end"), core::InputError);
  CHECK_THROWS_WITH_AS(load_ok(kBase, {"noequals"}), doctest::Contains("expected key.path=value"),
                       core::InputError);
}

TEST_CASE("closest_match only suggests plausible typos") {
  CHECK(config::closest_match("workloda", {"workload", "fleet"}) == "workload");
  CHECK(config::closest_match("zzzzzz", {"workload", "fleet"}).empty());
}

TEST_CASE("the resolved configuration reloads to itself") {
  for (const std::string& extra : {std::string(), std::string("router: {name: random}\nhorizon: 10s\n")}) {
    const experiment::Experiment x = load_ok(kBase + extra);
    const experiment::Experiment again = load_ok(x.resolved_yaml);
    CHECK(again.resolved_yaml == x.resolved_yaml);
  }
  const experiment::Experiment r = load_ok(kBase + "router: {name: random}\n");
  CHECK(r.resolved_yaml.find("seed_stream: router.random") != std::string::npos);
}
