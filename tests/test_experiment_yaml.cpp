#include <doctest/doctest.h>

#include <string>

#include "experiment_text.hpp"
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

using test::load_error;

}  // namespace

TEST_CASE("a valid experiment loads with defaults filled in") {
  const experiment::Experiment x = test::load_text(kBase);
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
      test::load_text(kBase, {"fleet.0.count=3", "workload.synthetic.rate=7.5", "slo.tpot=50ms"});
  CHECK(x.fleet[0].count == 3);
  CHECK(x.workload.synthetic.rate == 7.5);
  CHECK(x.slo.tpot == 50 * core::kMillisecond);
  CHECK(x.resolved_yaml.find("rate: 7.5") != std::string::npos);
  const std::string bad = load_error(kBase, {"fleet.0.cuont=3"});
  CHECK(bad.find(" (--set fleet[0].cuont): unknown key (did you mean 'count'?)") == 0);
  const std::string value = load_error(kBase, {"seed=-4"});
  CHECK(value.find(" (--set seed): value -4 is out of range") == 0);
  CHECK_THROWS_WITH_AS(test::load_text(kBase, {"fleet.5.count=1"}), doctest::Contains("past the end"),
                       core::InputError);
  CHECK_THROWS_WITH_AS(test::load_text(kBase, {"noequals"}), doctest::Contains("expected key.path=value"),
                       core::InputError);
}

TEST_CASE("closest_match only suggests plausible typos") {
  CHECK(config::closest_match("workloda", {"workload", "fleet"}) == "workload");
  CHECK(config::closest_match("zzzzzz", {"workload", "fleet"}).empty());
}

TEST_CASE("the resolved configuration reloads to itself") {
  for (const std::string& extra : {std::string(), std::string("router: {name: random}\nhorizon: 10s\n")}) {
    const experiment::Experiment x = test::load_text(kBase + extra);
    const experiment::Experiment again = test::load_text(x.resolved_yaml);
    CHECK(again.resolved_yaml == x.resolved_yaml);
  }
  const experiment::Experiment r = test::load_text(kBase + "router: {name: random}\n");
  CHECK(r.resolved_yaml.find("seed_stream: router.random") != std::string::npos);
}

// issue #18: nothing the user wrote is silently changed or dropped.

TEST_CASE("a key written twice in a mapping is an error naming both lines") {
  // seed: is on line 2; the second one is added as line 3.
  const std::string msg = load_error(replace(kBase, "seed: 3\n", "seed: 3\nseed: 4\n"));
  CHECK(msg.find(":3:1: duplicate key 'seed' (first at line 2)") == 0);
  // Nested mappings and flow mappings too.
  CHECK(load_error(replace(kBase, "pue: 1.1\n", "pue: 1.1\n    pue: 1.2\n")).find("duplicate key 'pue'") !=
        std::string::npos);
  CHECK(load_error(replace(kBase, "{distribution: constant, value: 100}",
                           "{distribution: constant, value: 100, value: 5}"))
            .find("duplicate key 'value' (first at line 21)") != std::string::npos);
  // And in --set values.
  CHECK_THROWS_WITH_AS(test::load_text(kBase, {"slo={ttft: 1s, ttft: 2s}"}),
                       doctest::Contains("duplicate key 'ttft'"), core::InputError);
  // The same key in different mappings is fine.
  CHECK_NOTHROW(test::load_text(replace(kBase, "seed: 3\n", "seed: 3\nhorizon: 1h\n")));
}

TEST_CASE("every file read through ConfigNode rejects duplicate keys and further documents") {
  test::TempDir dir;
  const std::string f = dir.write("cat.yaml", "gpus:\n  a100:\n    tdp_w: 400\n    tdp_w: 300\n");
  CHECK_THROWS_WITH_AS(config::ConfigNode::open_file(f), doctest::Contains("cat.yaml:4:5: duplicate key 'tdp_w'"),
                       core::InputError);
  const std::string two = dir.write("two.yaml", "a: 1\n---\nb: 2\n");
  CHECK_THROWS_WITH_AS(config::ConfigNode::load_file(two), doctest::Contains("more than one YAML document"),
                       core::InputError);
  // A mapping used as a key is an input error, not a conversion exception.
  const std::string complex = dir.write("k.yaml", "? [a, b]\n: 1\n");
  auto node = config::ConfigNode::open_file(complex);
  CHECK_THROWS_AS(node.finish(), core::InputError);
  // A directory (a plan, catalog or planning file given as a folder) says so, instead of the keys it lacks.
  CHECK_THROWS_WITH_AS(config::ConfigNode::open_file(dir.path()), doctest::Contains(": is a directory"),
                       core::InputError);
}

TEST_CASE("--set through a YAML alias changes only the addressed path") {
  const std::string yaml =
      replace(kBase, "fleet:\n  - site: s1\n    sku: hgx-h100x8\n    count: 1\n",
              "fleet:\n  - &srv\n    site: s1\n    sku: hgx-h100x8\n    count: 1\n  - *srv\n");
  const experiment::Experiment plain = test::load_text(yaml);
  REQUIRE(plain.fleet.size() == 2);
  const experiment::Experiment x = test::load_text(yaml, {"fleet.1.count=3"});
  CHECK(x.fleet[0].count == 1);
  CHECK(x.fleet[1].count == 3);
  const experiment::Experiment y = test::load_text(yaml, {"fleet.0.count=2"});
  CHECK(y.fleet[0].count == 2);
  CHECK(y.fleet[1].count == 1);
  // A shared mapping below the addressed node: the alias keeps the file's value.
  const std::string nested =
      replace(replace(kBase, "    prompt_tokens: {distribution: constant, value: 100}",
                      "    prompt_tokens: &len {distribution: constant, value: 100}"),
              "    output_tokens: {distribution: constant, value: 10}", "    output_tokens: *len");
  const experiment::Experiment z = test::load_text(nested, {"workload.synthetic.output_tokens.value=7"});
  CHECK(z.resolved_yaml.find("value: 7") != std::string::npos);
  CHECK(z.resolved_yaml.find("value: 100") != std::string::npos);
  // Errors elsewhere in the file keep their file positions after such an override.
  CHECK(load_error(replace(yaml, "seed: 3", "seed: x"), {"fleet.1.count=3"}).find(":2:7: seed:") == 0);
}

TEST_CASE("impossible dates and offsets are errors naming the key") {
  const std::string ci = "    carbon_intensity: {kind: csv, file: ci.csv, start: \"DATE\"}\n";
  test::TempDir dir;
  dir.write("ci.csv", "timestamp,g_per_kwh\n2023-01-01 00:00:00,10\n2023-01-01 01:00:00,20\n");
  for (const auto& [date, why] : std::vector<std::pair<std::string, std::string>>{
           {"2023-02-29 00:00:00", "February 2023 has 28 days"},
           {"2024-02-30 00:00:00", "February 2024 has 29 days"},
           {"2023-04-31 00:00:00", "April 2023 has 30 days"},
           {"2023-01-01 00:00:00+99:99", "UTC offset +99:99 does not exist"},
           {"2023-01-01 24:00:00", "does not exist"}}) {
    const std::string yaml = replace(kBase, "    carbon_intensity: 17\n", replace(ci, "DATE", date));
    const std::string file = dir.write("exp.yaml", yaml);
    try {
      experiment::load_experiment(file, test::catalog(), {});
      FAIL("expected an error for " << date);
    } catch (const core::InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find("sites[0].carbon_intensity.start") != std::string::npos);
      CHECK(msg.find(why) != std::string::npos);
    }
  }
}

TEST_CASE("durations that could overflow the nanosecond clock are load errors naming the key") {
  CHECK(load_error(replace(kBase, "ttft: 500ms", "ttft: 200y"))
            .find("slo.ttft: duration '200y' is out of range (max 100y)") != std::string::npos);
  CHECK(load_error(kBase + "horizon: 1000y\n").find("horizon: duration '1000y' is out of range") !=
        std::string::npos);
  CHECK(load_error(kBase, {"deployments.0.perf_model.step_overhead=100y"})
            .find("(--set deployments[0].perf_model.step_overhead): duration") != std::string::npos);
  CHECK(load_error(kBase, {"deployments.0.perf_model.allreduce_latency=2h"})
            .find("allreduce_latency): duration '2h' is out of range (max 1s") != std::string::npos);
  CHECK(load_error(kBase + "carbon: {slot: 300y}\n").find("carbon.slot: duration '300y' is out of range") !=
        std::string::npos);
  // The largest accepted values still load.
  CHECK_NOTHROW(test::load_text(kBase + "horizon: 100y\ncarbon: {lifetimes: {gpu: 100y}}\n"));
}

TEST_CASE("out-of-range numbers say so, with the bound") {
  CHECK(load_error(replace(kBase, "max_num_seqs: 64", "max_num_seqs: 99999999999999999999999"))
            .find("value '99999999999999999999999' is out of range [1, 65536]") != std::string::npos);
  CHECK(load_error(replace(kBase, "seed: 3", "seed: 99999999999999999999999"))
            .find("out of range (max 9223372036854775807)") != std::string::npos);
  CHECK(load_error(replace(kBase, "pue: 1.1", "pue: 1e999")).find("out of range [1, 3]") != std::string::npos);
}

TEST_CASE("--set errors name the --set key, also for keys inside the value it sets") {
  const std::string msg =
      load_error(kBase, {"workload.synthetic.prompt_tokens={distribution: constant, value: 5, valu: 5}"});
  CHECK(msg.find(" (--set workload.synthetic.prompt_tokens.valu): unknown key") == 0);
  const std::string list = load_error(kBase, {"fleet=[{site: s1, sku: hgx-h100x8, count: x}]"});
  CHECK(list.find(" (--set fleet[0].count): expected an integer") == 0);
}

TEST_CASE("long values are shortened in messages") {
  const std::string huge(5000, 'x');
  const std::string msg = load_error(replace(kBase, "seed: 3", "seed: " + huge));
  CHECK(msg.size() < 300);
  CHECK(msg.find("...") != std::string::npos);
  CHECK(load_error(kBase, {"seed=" + huge}).size() < 300);
  CHECK(load_error(replace(kBase, "sku: hgx-h100x8", "sku: " + huge)).size() < 300);
  CHECK(load_error(replace(kBase, "source: synthetic", "source: " + huge)).size() < 400);
  CHECK(load_error(replace(kBase, "name: d\n", "name: d\n    " + huge + ": 1\n")).size() < 600);
}

TEST_CASE("a model that does not fit because of activation_reserve_gb says so") {
  const std::string msg = load_error(
      replace(kBase, "    model: llama-3.1-8b\n", "    model: llama-3.1-8b\n    activation_reserve_gb: 65\n"));
  CHECK(msg.find("activation_reserve_gb") != std::string::npos);
  CHECK(msg.find("does not fit") != std::string::npos);
}

TEST_CASE("parameterless components do not print an empty list of keys") {
  const std::string msg = load_error(kBase + "router: {name: round_robin, params: {x: 1}}\n");
  CHECK(msg.find("this mapping takes no keys") != std::string::npos);
  CHECK(msg.find("expected one of: ;") == std::string::npos);
  CHECK(msg.find("expected one of: \n") == std::string::npos);
}
