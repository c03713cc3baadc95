// Inputs that are each valid but do not fit together, found by the bad-input red team (docs/ROBUSTNESS.md,
// "Input"): each used to load and run (exit 0) with part of the configuration silently without effect.
#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "experiment_text.hpp"
#include "planner_support.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"
#include "sim/experiment/sweep.hpp"
#include "sim/planning/capacity.hpp"
#include "sim/planning/plan_config.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const std::string kWorkload =
    "workload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, prompt_tokens: {distribution: constant, "
    "value: 100}, output_tokens: {distribution: constant, value: 10}}\n";

// Llama-2-7B on an A100 server whose requests may run speculatively with TinyLlama drafts on T4 servers.
const std::string kSpeculative = test::experiment_head("sp", 1) +
                                 "deployments:\n"
                                 "  - {name: new, model: llama-2-7b, modes: {speculative: {draft: draft}}}\n"
                                 "  - {name: draft, model: tinyllama-1.1b}\n"
                                 "fleet:\n"
                                 "  - {site: s, sku: azure-nc24ads-a100-v4, count: 1, deployment: new}\n"
                                 "  - {site: s, sku: azure-nc4as-t4-v3, count: 1, deployment: draft}\n"
                                 "network: {tor_switch: greensku-rack}\n" +
                                 kWorkload + "  deployment: new\n";

bool has(const std::string& text, const std::string& part) {
  INFO(text);
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("errors about a default in a section left out point into the file, not at a --set override") {
  // No `scheduler:` section: max_num_seqs is the default, and the memory check (runner::check_memory) names it
  // at the position recorded here. It used to read "x.yaml (--set override)" although nothing was set.
  const std::string yaml = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\n"
                           "fleet:\n  - {site: s, sku: hgx-h100x8}\n" +
                           kWorkload;
  const experiment::Experiment x = test::load_text(yaml);
  const std::string& where = x.deployments[0].max_num_seqs_where;
  CHECK(has(where, "x.yaml:5:5: deployments[0].scheduler.max_num_seqs"));
  CHECK(!has(where, "--set"));
  // Set with --set, the key is named as an override.
  CHECK(has(test::load_text(yaml, {"deployments.0.scheduler.max_num_seqs=8"}).deployments[0].max_num_seqs_where,
            "(--set deployments[0].scheduler.max_num_seqs)"));
}

TEST_CASE("an experiment's name cannot leave out/ or break a table") {
  const std::string rest = "seed: 1\n" + test::kSiteS +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n" +
                           kWorkload;
  for (const char* bad : {"\"\"", "../../tmp/x", "a/b", "\"two\\nlines\"", "\"tab\\there\""})
    CHECK(has(test::load_error(std::string("name: ") + bad + "\n" + rest), ":1:7: name: '"));
  CHECK(has(test::load_error("name: " + std::string(201, 'n') + "\n" + rest), "1-200 characters"));
  CHECK_NOTHROW(test::load_text("name: ecoserve-recycle_2.x\n" + rest));
}

TEST_CASE("a constant or listed length outside [min, max] is refused, not clamped") {
  const std::string head = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n";
  const auto with = [&](const std::string& prompt) {
    return head + "workload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, prompt_tokens: " + prompt +
           ", output_tokens: {distribution: constant, value: 10}}\n";
  };
  CHECK(has(test::load_error(with("{distribution: constant, value: 5000, max: 100}")),
            "prompt_tokens.value: 5000 is outside [min, max] = [1, 100]"));
  CHECK(has(test::load_error(with("{distribution: constant, value: 5, min: 10}")), "5 is outside"));
  // The default max is the model's context (Llama-3.1-8B: 131,072 tokens).
  CHECK(has(test::load_error(with("{distribution: constant, value: 200000}")), "[1, 131072]"));
  CHECK(has(test::load_error(with("{distribution: empirical, values: [10, 50000], max: 1000}")),
            "prompt_tokens.values: 50000 is outside"));
  CHECK_NOTHROW(test::load_text(with("{distribution: empirical, values: [10, 1000], max: 1000}")));
  // Lognormal samples are clamped by design (a truncated distribution); its mean may lie above max.
  CHECK_NOTHROW(test::load_text(with("{distribution: lognormal, mean: 5000, sigma: 0.5, max: 100}")));
}

TEST_CASE("an always-one-mode router needs a deployment that allows its mode") {
  CHECK_NOTHROW(test::load_text(kSpeculative + "mode_router: {name: always_speculative}\n"));
  const std::string e = test::load_error(kSpeculative + "mode_router: {name: always_disaggregated}\n");
  CHECK(has(e, "mode_router.name: mode router 'always_disaggregated' uses only the disaggregated mode"));
  CHECK(has(e, "add deployments[].modes.disaggregated"));
  // The router that chooses per request may run with either mode.
  CHECK_NOTHROW(test::load_text(kSpeculative + "mode_router: {name: greenllm}\n"));
}

TEST_CASE("tensor_parallel must divide the model's attention heads and fit its KV heads") {
  const std::string base = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: MODEL, "
                           "tensor_parallel: TP}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n" +
                           kWorkload;
  const auto with = [&](const std::string& model, const std::string& tp) {
    std::string y = base;
    y.replace(y.find("MODEL"), 5, model);
    y.replace(y.find("TP"), 2, tp);
    return y;
  };
  CHECK(has(test::load_error(with("llama-3.1-8b", "3")),
            "deployments[0].tensor_parallel: 3 does not divide the 32 attention heads of model 'llama-3.1-8b'"));
  // Llama-3.2-3B: 24 heads (3 divides them) but 8 KV heads, which 3 neither divides nor is a multiple of.
  CHECK(has(test::load_error(with("llama-3.2-3b", "3")), "neither divides nor is a multiple of the 8 KV heads"));
  // TinyLlama: 4 KV heads, replicated evenly at TP 8.
  CHECK_NOTHROW(test::load_text(with("tinyllama-1.1b", "8")));
  CHECK_NOTHROW(test::load_text(with("llama-68m", "3")));
}

TEST_CASE("--set takes list indices in brackets, as messages write them, and refuses signed ones") {
  YAML::Node doc = YAML::Load("fleet: [{count: 1}, {count: 2}]\n");
  CHECK(config::apply_override(doc, "fleet[1].count=5") == "fleet[1].count");
  CHECK(doc["fleet"][1]["count"].as<int>() == 5);
  CHECK(config::dotted_key_path("a[0][12].b") == "a.0.12.b");
  CHECK(config::dotted_key_path("a[x].b") == "a[x].b");
  for (const char* bad : {"fleet.-1.count=5", "fleet.+0.count=5"}) {
    try {
      config::apply_override(doc, bad);
      FAIL("expected an InputError for " << bad);
    } catch (const core::InputError& e) {
      CHECK(has(e.what(), "indexes a list and must be a whole number"));
    }
  }
}

TEST_CASE("sweep: overlapping key paths, repeated values and repeated seeds are refused") {
  test::TempDir dir;
  const std::string experiment = test::experiment_head("x", 1) +
                                 "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                                 "hgx-h100x8}\n" +
                                 kWorkload;
  const auto error_of = [&](const std::string& block) {
    const std::string file = dir.write("s.yaml", experiment + block);
    try {
      (void)experiment::load_sweep(file, {});
    } catch (const core::InputError& e) {
      return std::string(e.what()).substr(file.size());
    }
    return std::string("no error");
  };
  // The whole mapping would replace the swept rate: the index would list rates that never ran.
  CHECK(has(error_of("sweep:\n  grid:\n    workload.synthetic.rate: [1, 2]\n    workload.synthetic: [{requests: "
                     "5}]\n"),
            ":14:5: sweep.grid.workload.synthetic: overlaps the swept key path workload.synthetic.rate"));
  CHECK(has(error_of("sweep:\n  grid:\n    fleet[0].count: [1, 2]\n  zip:\n    fleet.0: [{site: s}]\n"),
            "sweep.zip.fleet.0: overlaps the swept key path fleet.0.count"));
  CHECK(
      has(error_of("sweep:\n  grid:\n    workload.synthetic.rate: [1, 2]\n    workload.synthetic.requests: [5]\n"),
          "no error"));
  CHECK(has(error_of("sweep:\n  seeds: [3, 4, 3]\n"), ":12:17: sweep.seeds: seed 3 listed twice"));
  // One number, two spellings: listed twice (the index would show two points that are one run).
  CHECK(has(error_of("sweep:\n  grid:\n    workload.synthetic.rate: [20, 2e1]\n"), "value 2e1 listed twice"));
  CHECK(has(error_of("sweep:\n  zip:\n    workload.synthetic.rate: [20, 20.0]\n"), "repeats an earlier one"));
  // Six lists of 100 values are 10^12 runs: refused before any is built (it used to run out of memory or time).
  std::string values = "[1";
  for (int i = 2; i <= 100; ++i) values += ", " + std::to_string(i);
  values += "]";
  std::string big = "sweep:\n  grid:\n";
  for (const char* key : {"workload.synthetic.rate", "workload.synthetic.requests", "fleet.0.count", "sites.0.pue",
                          "seed_", "slo.ttft"})
    big += std::string("    ") + key + ": " + values + "\n";
  CHECK(has(error_of(big),
            ":12:3: sweep: 1 replicas x 100 values of workload.synthetic.rate x 100 values of "
            "workload.synthetic.requests x 100 values of fleet.0.count is more than 100000 runs"));
  CHECK(
      has(error_of("sweep:\n  grid:\n    workload.synthetic.rate: " + values + "\n  seeds: 1000\n"), "no error"));
  CHECK(has(error_of("sweep:\n  grid:\n    router.name: [random, random]\n"),
            "sweep.grid.router.name: value random listed twice"));
  CHECK(has(
      error_of("sweep:\n  zip:\n    workload.synthetic.rate: [1, 1]\n    workload.synthetic.requests: [5, 5]\n"),
      "sweep.zip: entry 1 repeats an earlier one"));
  CHECK(has(
      error_of("sweep:\n  zip:\n    workload.synthetic.rate: [1, 1]\n    workload.synthetic.requests: [5, 6]\n"),
      "no error"));
}

TEST_CASE("planning: capacity seeds listed twice and a missing capacity experiment name the key") {
  const std::string day = std::string(GREENFLEET_SOURCE_DIR) + "/experiments/planning/day.yaml";
  const auto error_of = [&](const std::string& set) {
    try {
      (void)planning::load_plan_config(day, test::catalog(), {set});
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(has(error_of("capacity.seeds=[1, 2, 1]"), "(--set capacity.seeds): seed 1 is listed twice"));
  CHECK(has(error_of("capacity.experiment=nope.yaml"), "(--set capacity.experiment): experiment file"));
  CHECK(has(error_of("capacity.experiment=.."), "(--set capacity.experiment): "));
  CHECK(has(error_of("capacity.experiment=.."), "is a directory"));
}

TEST_CASE("an output path replaces only a file of its own kind") {
  test::TempDir dir;
  const std::string head = "# greenfleet plan\n";
  const std::string notes = dir.write("notes.yaml", "my notes\n");
  try {
    core::check_output_path(notes, {}, "plan file", head);
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), notes + ": the plan file exists and is not one that greenfleet wrote"));
  }
  CHECK(test::slurp(notes) == "my notes\n");
  // A shorter file than the signature is not one either.
  CHECK_THROWS_AS(core::check_output_path(dir.write("short.yaml", "#"), {}, "plan file", head), core::InputError);
  CHECK_NOTHROW(core::check_output_path(dir.write("old.yaml", head + "plans: []\n"), {}, "plan file", head));
  CHECK_NOTHROW(core::check_output_path(dir.write("empty.yaml", ""), {}, "plan file", head));
  CHECK_NOTHROW(core::check_output_path(dir.path("new.yaml"), {}, "plan file", head));
  // A file made read-only is protected, whatever it holds (a rename would replace it regardless of its mode).
  const std::string kept = dir.write("kept.yaml", head + "plans: []\n");
  std::filesystem::permissions(kept, std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
  CHECK_THROWS_WITH_AS(core::check_output_path(kept, {}, "plan file", head),
                       doctest::Contains("read-only (mode 0440)"), core::InputError);
  // Without a signature (calibrate's files) any regular file is replaced, as before.
  CHECK_NOTHROW(core::check_output_path(notes, {}, "output file"));
  CHECK(core::kHdf5Signature.size() == 8);
}

TEST_CASE("--set names a key once, whichever way its list indices are written") {
  CHECK_NOTHROW(config::check_distinct_overrides({"seed=1", "fleet.0.count=2", "fleet.1.count=3"}));
  CHECK_THROWS_AS(config::check_distinct_overrides({"seed=1", "seed=1"}), core::InputError);
  try {
    config::check_distinct_overrides({"fleet[0].count=2", "seed=4", "fleet.0.count=3"});
    FAIL("a key set twice was accepted");
  } catch (const core::InputError& e) {
    CHECK(std::string(e.what()).find("'fleet.0.count=3'") != std::string::npos);
    CHECK(std::string(e.what()).find("'fleet[0].count=2'") != std::string::npos);
  }
}

TEST_CASE("--set: a list index has one spelling (no leading zeros)") {
  YAML::Node doc = YAML::Load("fleet: [{count: 1}]");
  CHECK(config::apply_override(doc, "fleet.0.count=2") == "fleet[0].count");
  CHECK_THROWS_AS(config::apply_override(doc, "fleet.00.count=3"), core::InputError);
  CHECK_THROWS_AS(config::apply_override(doc, "fleet[00].count=3"), core::InputError);
  CHECK(doc["fleet"][0]["count"].as<int>() == 2);
}

TEST_CASE("a diurnal period or peak without an amplitude, or a peak beyond the period, is refused") {
  const std::string head = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n";
  const auto with = [&](const std::string& diurnal) {
    return head + "workload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, diurnal: " + diurnal +
           ", prompt_tokens: {distribution: constant, value: 100}, output_tokens: {distribution: constant, "
           "value: 10}}\n";
  };
  CHECK(has(test::load_error(with("{period: 12h}")),
            "workload.synthetic.diurnal.period: has no effect without an amplitude > 0"));
  CHECK(has(test::load_error(with("{peak: 3h}")), "workload.synthetic.diurnal.peak: has no effect"));
  // The peak is an offset into the period: 30h in a 24h cycle is refused, not taken as 6h.
  CHECK(has(test::load_error(with("{amplitude: 0.5, peak: 30h}")),
            "diurnal.peak: 108000 s is not within the period (86400 s)"));
  CHECK(has(test::load_error(with("{amplitude: 0.5, period: 1h, peak: 1h}")), "is not within the period"));
  CHECK_NOTHROW(test::load_text(with("{amplitude: 0.5, period: 12h, peak: 11h}")));
  // An explicit amplitude 0 (a sweep's "off" point sharing the period) loads, with a note on stderr.
  CHECK_NOTHROW(test::load_text(with("{amplitude: 0, period: 12h}")));
  CHECK_NOTHROW(test::load_text(with("{amplitude: 0.5}"), {"workload.synthetic.diurnal.amplitude=0"}));
}

TEST_CASE("a per-GPU step-time model for a GPU kind the deployment's fleet lacks is noted, and diurnal's too") {
  const auto with = [](const std::string& by_gpu) {
    return test::experiment_head("x", 1) +
           "deployments:\n  - {name: d, model: llama-3.1-8b, perf_model: {by_gpu: " + by_gpu +
           "}}\n  - {name: e, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: hgx-h100x8, deployment: d}\n" +
           "  - {site: s, sku: dgx-a100x8-80gb, deployment: e}\n" + kWorkload + "  deployment: d\n";
  };
  CHECK(experiment::notes_for_fleet(test::load_text(with("{h100-sxm: roofline}")), test::catalog()).empty());
  // The A100s belong to deployment e: d's entry for them is never used.
  const auto notes = experiment::notes_for_fleet(
      test::load_text(with("{h100-sxm: roofline, a100-sxm-80gb: roofline}")), test::catalog());
  REQUIRE(notes.size() == 1);
  CHECK(has(notes[0], "x.yaml:5:"));
  CHECK(has(notes[0],
            "deployments[0].perf_model.by_gpu.a100-sxm-80gb: no effect: no fleet entry of deployment "
            "'d' has a100-sxm-80gb GPUs"));
  // Diurnal: an explicit amplitude 0 leaves the period without effect, which the note says.
  const std::string diurnal = test::experiment_head("x", 1) +
                              "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                              "hgx-h100x8}\nworkload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, "
                              "diurnal: {amplitude: 0, period: 12h}, prompt_tokens: {distribution: constant, "
                              "value: 100}, output_tokens: {distribution: constant, value: 10}}\n";
  const auto dn = test::load_text(diurnal).notes;
  REQUIRE(dn.size() == 1);
  CHECK(has(dn[0], "workload.synthetic.diurnal.period: no effect with amplitude 0"));
}

TEST_CASE("cv with Poisson arrivals: refused when arrivals is left out, noted when poisson is explicit") {
  const auto with = [](const std::string& arrivals) {
    return test::experiment_head("x", 1) +
           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: hgx-h100x8}\n"
           "workload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, " +
           arrivals +
           "prompt_tokens: {distribution: constant, value: 100}, output_tokens: {distribution: constant, "
           "value: 10}}\n";
  };
  CHECK(has(test::load_error(with("cv: 2, ")),
            ":10:42: workload.synthetic.cv: has no effect with Poisson arrivals (arrivals defaults to poisson"));
  const auto explicit_poisson = test::load_text(with("arrivals: poisson, cv: 2, "));
  REQUIRE(explicit_poisson.notes.size() == 1);
  CHECK(
      has(explicit_poisson.notes[0],
          "x.yaml:10:61: workload.synthetic.cv: no effect with arrivals: poisson (exponential gaps, a cv of 1)"));
  CHECK(test::load_text(with("arrivals: gamma, cv: 2, ")).notes.empty());
  CHECK(test::load_text(with("")).notes.empty());
  // A --set of arrivals to poisson over a file's gamma (a sweep's point) notes, it does not refuse.
  CHECK(test::load_text(with("arrivals: gamma, cv: 2, "), {"workload.synthetic.arrivals=poisson"}).notes.size() ==
        1);
}

namespace {

// Runs `x` as `greenfleet run` would and returns its InputError ("no error" when none).
std::string run_error(const experiment::Experiment& x) {
  try {
    runner::Simulation sim(x, test::catalog());
    sim.run();
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a trace's errors name the experiment key that named the trace, for every reader") {
  test::TempDir dir;
  const std::string head = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n";
  const auto load = [&](const std::string& workload, std::vector<std::string> overrides = {}) {
    experiment::LoadOptions o;
    o.overrides = std::move(overrides);
    return experiment::load_experiment(dir.write("x.yaml", head + workload), test::catalog(), o);
  };
  const std::string skip = "; set workload.on_bad_row: skip to skip and count such rows)";
  // A bad row (line 3) of each reader: the trace's file and line, then the experiment's file, line and key.
  dir.write("azure.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,100,10\n"
            "2023-11-16 18:15:47.68,abc,10\n");
  dir.write("mooncake.jsonl",
            "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 3}\n{\"timestamp\": 1}\n");
  dir.write("burst.csv", "Timestamp,Model,Request tokens,Response tokens\n0,ChatGPT,5,3\n1,ChatGPT,5,0\n");
  const std::vector<std::pair<std::string, std::string>> bad_rows = {
      {"azure_csv", "azure.csv:3: ContextTokens 'abc' is not a positive integer"},
      {"mooncake_jsonl", "mooncake.jsonl:2: needs \"timestamp\""},
      {"burstgpt_csv", "burst.csv:3: Response tokens '0' is not a positive integer"}};
  for (const auto& [source, row] : bad_rows) {
    const std::string file = source == "azure_csv"      ? "azure.csv"
                             : source == "burstgpt_csv" ? "burst.csv"
                                                        : "mooncake.jsonl";
    const std::string error =
        run_error(load("workload:\n  source: " + source + "\n  file: " + file + "\n  deployment: d\n"));
    CHECK(has(error, row));
    CHECK(has(error, "(named by " + dir.path("x.yaml") + ":10:9: workload.file" + skip));
    // Given with --set, the key is named as an override.
    CHECK(has(run_error(load("workload:\n  source: " + source + "\n  file: nope\n",
                             {"workload.file=" + dir.path(file)})),
              "(named by " + dir.path("x.yaml") + " (--set workload.file)" + skip));
  }
  // Errors about the whole file (a header without the columns, a byte-order mark) name the key too.
  dir.write("header.csv", "TIMESTAMP,ContextTokens\n");
  CHECK(has(run_error(load("workload:\n  source: azure_csv\n  file: header.csv\n")),
            "header.csv:1: header 'TIMESTAMP,ContextTokens' lacks a column: expected TIMESTAMP, ContextTokens and "
            "GeneratedTokens (named by " +
                dir.path("x.yaml") + ":10:9: workload.file)"));
  dir.write("bom.jsonl", "\xEF\xBB\xBF{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 3}\n");
  CHECK(has(run_error(load("workload:\n  source: mooncake_jsonl\n  file: bom.jsonl\n")),
            "save it as UTF-8 without BOM (named by " + dir.path("x.yaml") + ":10:9: workload.file)"));
  dir.write("empty.csv", "");
  CHECK(has(run_error(load("workload:\n  source: burstgpt_csv\n  file: empty.csv\n")),
            "empty.csv:1: empty trace file (expected a header) (named by"));
  // A class's own trace names the class's key.
  const std::string classes =
      "workload:\n  classes:\n    - {name: a, trace: {source: synthetic, synthetic: {requests: 2, rate: 1, "
      "prompt_tokens: {distribution: constant, value: 10}, output_tokens: {distribution: constant, value: 5}}}}\n"
      "    - {name: b, trace: {source: azure_csv, file: azure.csv}}\n";
  CHECK(has(run_error(load(classes)), "azure.csv:3: ContextTokens 'abc' is not a positive integer (named by " +
                                          dir.path("x.yaml") + ":11:50: workload.classes[1].trace.file" + skip));
  // The column check at load opens the trace: its header errors name the key as well.
  dir.write("burst_header.csv", "Timestamp,Model\n");
  CHECK(has(test::load_error(head + "workload:\n  source: burstgpt_csv\n  file: " + dir.path("burst_header.csv") +
                             "\n  classes:\n    - {name: a, column: {name: Model, value: x}}\n"),
            ":10:9: workload.file)"));
  // A carbon-intensity file's bad row names the site's key before the file's line (the loader reads it).
  dir.write("ci.csv", "timestamp,g_per_kwh\n2023-01-01 00:00:00,10\n2023-01-01 01:00:00,-5\n");
  CHECK(has(test::load_error(head + kWorkload,
                             {"sites.0.carbon_intensity={kind: csv, file: " + dir.path("ci.csv") + "}"}),
            " (--set sites[0].carbon_intensity.file): " + dir.path("ci.csv") + ":3: g_per_kwh '-5'"));
}

TEST_CASE("planning: a demand experiment's trace errors name the planning key, the experiment key and the row") {
  test::TempDir dir;
  dir.write("azure.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,100,10\n"
            "2023-11-16 18:15:47.68,abc,10\n");
  dir.write("w.yaml", test::experiment_head("w", 1) +
                          "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                          "hgx-h100x8}\nworkload:\n  source: azure_csv\n  file: azure.csv\n");
  std::string plan = test::kSmallPlanFile;
  plan.replace(plan.find("{kind: values, values: [4, 8]}"), 30, "{kind: workload, experiment: w.yaml}");
  try {
    (void)planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), dir.path("p.yaml") + ":9:42: classes[0].online.experiment: " + dir.path("azure.csv") +
                            ":3: ContextTokens 'abc' is not a positive integer (named by " + dir.path("w.yaml") +
                            ":10:9: workload.file;"));
  }
}

TEST_CASE("sweep and plan gather the notes of every experiment they load, each once") {
  test::TempDir dir;
  const std::string file = dir.write(
      "s.yaml", test::experiment_head("x", 1) +
                    "deployments:\n  - {name: d, model: llama-3.1-8b, perf_model: {by_gpu: {t4: roofline}}}\n"
                    "fleet:\n  - {site: s, sku: hgx-h100x8}\nworkload:\n  source: synthetic\n  synthetic: "
                    "{requests: 10, rate: 2, arrivals: poisson, cv: 2, prompt_tokens: {distribution: constant, "
                    "value: 100}, output_tokens: {distribution: constant, value: 10}}\n"
                    "sweep:\n  grid:\n    workload.synthetic.rate: [1, 2, 3]\n    "
                    "workload.synthetic.arrivals: [poisson, gamma]\n");
  const experiment::Sweep sweep = experiment::load_sweep(file, {});
  REQUIRE(sweep.runs.size() == 6);
  std::vector<std::string> notes;
  (void)experiment::validate_sweep(file, test::catalog(), {}, sweep, dir.path("out"), &notes);
  // Six runs, two distinct notes: the by_gpu entry (every run) and cv (the Poisson runs).
  REQUIRE(notes.size() == 2);
  CHECK(has(notes[0], "workload.synthetic.cv: no effect with arrivals: poisson"));
  CHECK(has(notes[1], "deployments[0].perf_model.by_gpu.t4: no effect: no fleet entry of deployment 'd'"));

  // plan: a demand experiment's notes, and the capacity experiment's by_gpu entry judged against the planning
  // file's server types (one T4 type: the T4 entry is used, the H100 one is not).
  const std::string base = dir.write(
      "cap.yaml", test::experiment_head("c", 1) +
                      "deployments:\n  - {name: d, model: llama-3.1-8b, perf_model: {by_gpu: {t4: roofline, "
                      "h100-sxm: roofline}}}\nfleet:\n  - {site: s, sku: hgx-h100x8}\nworkload:\n  source: "
                      "synthetic\n  synthetic: {requests: 10, rate: 2, diurnal: {amplitude: 0, period: 2h}, "
                      "prompt_tokens: {distribution: constant, value: 100}, output_tokens: {distribution: "
                      "constant, value: 10}}\n");
  std::string plan = test::kSmallPlanFile;
  plan.replace(plan.find("{kind: values, values: [4, 8]}"), 30, "{kind: workload, experiment: s.yaml}");
  plan.replace(plan.find("capacity:\n"), 10, "capacity:\n  experiment: cap.yaml\n");
  const auto pc = planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
  REQUIRE(pc.notes.size() == 3);
  CHECK(has(pc.notes[0], "s.yaml:10:"));
  CHECK(has(pc.notes[0], "workload.synthetic.cv: no effect with arrivals: poisson"));
  CHECK(has(pc.notes[1], "cap.yaml:10:"));
  CHECK(has(pc.notes[1], "workload.synthetic.diurnal.period: no effect with amplitude 0"));
  CHECK(has(pc.notes[2], base + ":5:"));
  CHECK(has(pc.notes[2], "deployments[0].perf_model.by_gpu.h100-sxm: no effect: none of the servers of " +
                             dir.path("p.yaml") + " has h100-sxm GPUs"));
}

TEST_CASE("plan: the capacity runs' notes (Poisson arrivals, a class's set), and its set's errors name it") {
  test::TempDir dir;
  const auto cap = [&](const std::string& synthetic) {
    dir.write("cap.yaml",
              test::experiment_head("c", 1) +
                  "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                  "hgx-h100x8}\nworkload:\n  source: synthetic\n  synthetic: {requests: 10, rate: 2, " +
                  synthetic +
                  "prompt_tokens: {distribution: constant, value: 100}, output_tokens: {distribution: "
                  "constant, value: 10}}\n");
  };
  const auto load = [&](const std::string& set) {
    std::string plan = test::kSmallPlanFile;
    plan.replace(plan.find("capacity:\n"), 10, "capacity:\n  experiment: cap.yaml\n");
    if (!set.empty()) plan.insert(plan.find("    slo:"), "    set: " + set + "\n");
    return planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
  };
  const std::string at = dir.path("cap.yaml") + ":10:";
  // The base's gamma arrivals and cv: the capacity runs are Poisson, so both are without effect.
  cap("arrivals: gamma, cv: 3, ");
  auto pc = load("");
  REQUIRE(pc.notes.size() == 2);
  CHECK(has(pc.notes[0], at));
  CHECK(has(pc.notes[0], "workload.synthetic.cv: no effect with arrivals: poisson"));
  CHECK(has(pc.notes[1], at));
  CHECK(has(pc.notes[1], "workload.synthetic.arrivals: no effect: the capacity simulations use Poisson arrivals"));
  // A class's set that chooses gamma again: both take effect.
  CHECK(load("[\"workload.synthetic.arrivals=gamma\"]").notes.empty());
  // A class's cv without gamma: a note naming the class's set.
  cap("");
  CHECK(load("").notes.empty());
  pc = load("[\"workload.synthetic.cv=2\"]");
  REQUIRE(pc.notes.size() == 1);
  CHECK(has(pc.notes[0], dir.path("p.yaml") + ":10:10: classes[0].set: " + dir.path("cap.yaml") +
                             " (--set workload.synthetic.cv): no effect with arrivals: poisson"));
  // A set valid only with the class's model (a prompt beyond the base model's 4,096-token context) loads: the
  // check loads the class's model, as the capacity runs do.
  dir.write("cap.yaml", test::experiment_head("c", 1) +
                            "deployments:\n  - {name: d, model: llama-2-7b}\nfleet:\n  - {site: s, sku: "
                            "hgx-h100x8}\n" +
                            kWorkload);
  CHECK(load("[\"workload.synthetic.prompt_tokens={distribution: constant, value: 6000}\"]").notes.empty());
  // An error of a class's set is left to build_capacity, which loads each row as it runs: it names the planning
  // file's set, then the override (before any simulation).
  std::string plan = test::kSmallPlanFile;
  plan.replace(plan.find("capacity:\n  entries:\n    - {class: chat, sku: pcie-t4x4, rate: 2}\n"), 66,
               "capacity:\n  experiment: cap.yaml\n");
  plan.replace(plan.find("pcie-t4x4"), 9, "hgx-h100x8");
  plan.insert(plan.find("    slo:"), "    set: [\"workload.synthetic.cv=-1\"]\n");
  const auto pc_bad = planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
  try {
    (void)planning::build_capacity(pc_bad, test::catalog(), "", false);
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), dir.path("p.yaml") + ":10:10: classes[0].set: " + dir.path("cap.yaml") +
                            " (--set workload.synthetic.cv)"));
  }
  // A capacity experiment that build_capacity cannot use is refused at load, naming capacity.experiment.
  dir.write("cap.yaml",
            test::experiment_head("c", 1) +
                "deployments:\n  - {name: d, model: llama-2-7b}\nfleet:\n  - {site: s, sku: "
                "hgx-h100x8}\nworkload:\n  source: azure_csv\n  file: " +
                dir.write("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,100,10\n") +
                "\n");
  try {
    (void)load("");
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), dir.path("p.yaml") + ":12:15: capacity.experiment: must use the synthetic workload"));
  }
}

TEST_CASE("plan: the shipped planning files load with no notes") {
  const std::string root = GREENFLEET_SOURCE_DIR;
  for (const char* f :
       {"experiments/planning/day.yaml", "experiments/planning/reuse.yaml", "experiments/planning/split.yaml",
        "experiments/paper/ecoserve/week_code.yaml", "experiments/paper/ecoserve/week_conv.yaml"}) {
    CAPTURE(f);
    CHECK(planning::load_plan_config(root + "/" + f, test::catalog(), {}, test::shared_data_dir()).notes.empty());
  }
}

TEST_CASE("red team: a mapping an override created names that override, not '--set override'") {
  const std::string yaml = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n" +
                           kWorkload;
  // `scheduler` is not a top-level key: the override made it on its way to `preset`.
  CHECK(has(test::load_error(yaml, {"scheduler.preset=vllm-v1"}),
            " (--set scheduler.preset): scheduler: unknown key"));
  // A default inside a section the override created (the file has no `scheduler:`) names the override too: the
  // preset needs a 2023 power line the H100 has not (checked as the simulation is built).
  const std::string e = run_error(test::load_text(yaml, {"deployments.0.scheduler.preset=fastchat-hf-2023"}));
  CHECK(has(e,
            " (--set deployments[0].scheduler.preset): deployments[0].scheduler.host_time_per_layer: preset "
            "fastchat-hf-2023"));
  CHECK(!has(e, "(--set override)"));
}

TEST_CASE("red team: planning forecast_seed without forecast_error, and peak_hour with amplitude 0") {
  const std::string file = std::string(GREENFLEET_SOURCE_DIR) + "/experiments/planning/day.yaml";
  const auto load = [&](const std::string& set) {
    return planning::load_plan_config(file, test::catalog(), {set});
  };
  // The seed draws the forecast's errors: with none it had no effect.
  CHECK_THROWS_WITH_AS(load("classes.0.online={kind: constant, value: 5, forecast_seed: 3}"),
                       doctest::Contains("(--set classes[0].online.forecast_seed): has no effect without "
                                         "forecast_error > 0"),
                       core::InputError);
  const auto explicit_zero =
      load("classes.0.online={kind: constant, value: 5, forecast_error: 0, forecast_seed: 3}");
  REQUIRE(explicit_zero.notes.size() == 1);
  CHECK(has(explicit_zero.notes[0], "(--set classes[0].online.forecast_seed): no effect with forecast_error 0"));
  const auto flat = load("carbon_intensity={kind: diurnal, mean: 300, amplitude: 0, peak_hour: 3}");
  REQUIRE(flat.notes.size() == 1);
  CHECK(has(flat.notes[0], "(--set carbon_intensity.peak_hour): no effect with amplitude 0"));
  CHECK(load("carbon_intensity={kind: diurnal, mean: 300, peak_hour: 3}").notes.empty());
}

TEST_CASE("red team: sweep output.path and --set sweep.* refused; swept notes name their line") {
  test::TempDir dir;
  const std::string experiment = test::experiment_head("x", 1) +
                                 "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                                 "hgx-h100x8}\n" +
                                 kWorkload;
  const auto error_of = [&](const std::string& block, std::vector<std::string> set = {}) {
    const std::string file = dir.write("s.yaml", experiment + block);
    try {
      (void)experiment::load_sweep(file, set);
    } catch (const core::InputError& e) {
      return std::string(e.what()).substr(file.size());
    }
    return std::string("no error");
  };
  // Every run writes DIR/pPPPP_rRR.h5: the swept paths were never used.
  CHECK(has(error_of("sweep:\n  grid:\n    output.path: [a.h5, b.h5]\n"),
            ":13:5: sweep.grid.output.path: has no effect: a sweep writes each run to DIR/pPPPP_rRR.h5"));
  CHECK(has(error_of("sweep:\n  seeds: 2\n", {"sweep.seeds=3"}),
            "--set sweep.seeds=3: the sweep block is read from the file; --set cannot change it"));
  const std::string file = dir.write(
      "s.yaml", experiment + "sweep:\n  grid:\n    deployments.0.perf_model.by_gpu: [{t4: roofline}, {}]\n");
  std::vector<std::string> notes;
  (void)experiment::validate_sweep(file, test::catalog(), {}, experiment::load_sweep(file, {}), dir.path("o"),
                                   &notes);
  REQUIRE(notes.size() == 1);
  CHECK(has(notes[0], file + ":13:5: sweep.grid.deployments.0.perf_model.by_gpu (value {t4: roofline}): "
                             "deployments[0].perf_model.by_gpu.t4: no effect"));
  CHECK(!has(notes[0], "--set"));
}

TEST_CASE("sweep notes name the swept key's line and its values, once per distinct note") {
  test::TempDir dir;
  const std::string file = dir.write(
      "s.yaml",
      test::experiment_head("x", 1) +
          "deployments:\n  - {name: d, model: llama-3.1-8b, scheduler: {preemption: recompute}}\n"
          "fleet:\n  - {site: s, sku: hgx-h100x8}\nworkload:\n  source: synthetic\n  synthetic: "
          "{requests: 10, rate: 2, arrivals: gamma, cv: 2, prompt_tokens: {distribution: constant, "
          "value: 100}, output_tokens: {distribution: constant, value: 10}}\n"
          "sweep:\n  grid:\n    deployments.0.scheduler.swap_bandwidth_gbps: [10, 50]\n"
          "    workload.synthetic.rate: [1, 2]\n  zip:\n    workload.synthetic.arrivals: [gamma, poisson]\n");
  const experiment::Sweep sweep = experiment::load_sweep(file, {});
  REQUIRE(sweep.runs.size() == 8);
  std::vector<std::string> notes;
  (void)experiment::validate_sweep(file, test::catalog(), {}, sweep, dir.path("out"), &notes);
  // Eight runs: the swap bandwidth's note once for both of its values (it used to be printed once per value, as
  // "FILE (--set KEY)"), and the file's cv, which the poisson value makes without effect, once, naming that value.
  REQUIRE(notes.size() == 2);
  CHECK(notes[0] == file +
                        ":13:5: sweep.grid.deployments.0.scheduler.swap_bandwidth_gbps (values 10, 50): "
                        "deployments[0].scheduler.swap_bandwidth_gbps: no effect with preemption: recompute "
                        "(nothing is swapped)");
  CHECK(has(notes[1], file + ":16:5: sweep.zip.workload.synthetic.arrivals (value poisson): " + file + ":10:"));
  CHECK(has(notes[1], "workload.synthetic.cv: no effect with arrivals: poisson"));
  // A note of the file's own (a --set of the command line is the base's too) is printed as it is.
  experiment::LoadOptions with_set;
  with_set.overrides = {"deployments.0.perf_model.by_gpu={t4: roofline}"};
  notes.clear();
  (void)experiment::validate_sweep(file, test::catalog(), with_set, sweep, dir.path("out"), &notes);
  REQUIRE(notes.size() == 3);
  CHECK(notes[1].rfind(file + " (--set deployments[0].perf_model.by_gpu.t4): no effect", 0) == 0);
}

TEST_CASE("a sweep point that sets a key and the setting it needs loads; output paths refused in every form") {
  // Each value alone would be refused (a swap bandwidth without swap preemption, a cv without gamma arrivals, a
  // deadline without an offline share); the run's values together are consistent, so the sweep loads.
  test::TempDir dir;
  const std::string experiment = test::experiment_head("x", 1) +
                                 "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                                 "hgx-h100x8}\n" +
                                 kWorkload;
  const auto runs_of = [&](const std::string& block) {
    const std::string file = dir.write("t.yaml", experiment + block);
    const experiment::Sweep s = experiment::load_sweep(file, {});
    return experiment::validate_sweep(file, test::catalog(), {}, s, dir.path("o")).size();
  };
  CHECK(runs_of("sweep:\n  grid:\n    deployments.0.scheduler.preemption: [swap]\n"
                "    deployments.0.scheduler.swap_bandwidth_gbps: [10, 50]\n") == 2);
  CHECK(runs_of("sweep:\n  zip:\n    workload.synthetic.arrivals: [gamma, gamma]\n"
                "    workload.synthetic.cv: [2, 3]\n") == 2);
  CHECK(runs_of("sweep:\n  zip:\n    workload.offline.share: [0.2, 0.5]\n"
                "    workload.offline.deadline: [1h, 2h]\n") == 2);
  // A point whose values are inconsistent together is still refused, naming the value when it alone fails so.
  const std::string bad =
      dir.write("b.yaml", experiment + "sweep:\n  grid:\n    deployments.0.scheduler.swap_bandwidth_gbps: [10]\n");
  try {
    (void)experiment::validate_sweep(bad, test::catalog(), {}, experiment::load_sweep(bad, {}), dir.path("o"));
    FAIL("no error");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), bad + ":13:51: sweep value deployments.0.scheduler.swap_bandwidth_gbps=10 (point 0"));
    CHECK(has(e.what(), "has no effect without preemption: swap"));
  }
  // An error of the file itself, in a key not swept, is the file's: no swept value is blamed for it.
  const std::string own =
      dir.write("own.yaml", experiment + "sweep:\n  grid:\n    workload.synthetic.rate: [1, 2]\n");
  try {
    experiment::LoadOptions with_set;
    with_set.overrides = {"seed=-4"};
    (void)experiment::validate_sweep(own, test::catalog(), with_set, experiment::load_sweep(own, {}),
                                     dir.path("o"));
    FAIL("no error");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), "(--set seed)"));
    CHECK(!has(e.what(), "sweep value"));
  }
  // The runs write DIR/pPPPP_rRR.h5: an output path is dropped whether swept under output or set with --set.
  const auto error_of = [&](const std::string& block, std::vector<std::string> set = {}) {
    const std::string file = dir.write("p.yaml", experiment + block);
    try {
      (void)experiment::load_sweep(file, set);
    } catch (const core::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(has(error_of("sweep:\n  grid:\n    output: [{path: a.h5}, {path: b.h5}]\n"),
            "sweep.grid.output: has no effect: a sweep writes each run to DIR/pPPPP_rRR.h5"));
  CHECK(has(error_of("sweep:\n  seeds: 2\n", {"output.path=/tmp/never.h5"}),
            "--set output.path=/tmp/never.h5: has no effect: a sweep writes each run to DIR/pPPPP_rRR.h5"));
  CHECK(
      has(error_of("sweep:\n  seeds: 2\n", {"output={path: x.h5}"}), "--set output={path: x.h5}: has no effect"));
  CHECK(error_of("sweep:\n  seeds: 2\n", {"output.compression=none"}) == "no error");
}

TEST_CASE("red team: swap_bandwidth_gbps without swap preemption, and preemption under reserved KV") {
  const auto with = [](const std::string& scheduler) {
    return test::experiment_head("x", 1) +
           "deployments:\n  - {name: d, model: llama-3.1-8b, scheduler: " + scheduler +
           "}\nfleet:\n  - {site: s, sku: hgx-h100x8}\n" + kWorkload;
  };
  CHECK(has(test::load_error(with("{swap_bandwidth_gbps: 5}")),
            "deployments[0].scheduler.swap_bandwidth_gbps: has no effect without preemption: swap"));
  const auto recompute = test::load_text(with("{preemption: recompute, swap_bandwidth_gbps: 5}")).notes;
  REQUIRE(recompute.size() == 1);
  CHECK(has(recompute[0], "deployments[0].scheduler.swap_bandwidth_gbps: no effect with preemption: recompute"));
  CHECK(test::load_text(with("{preemption: swap, swap_bandwidth_gbps: 5}")).notes.empty());
  const auto reserved = test::load_text(with("{kv_allocation: reserve, preemption: swap}")).notes;
  REQUIRE(reserved.size() == 1);
  CHECK(has(reserved[0], "deployments[0].scheduler.preemption: no effect with kv_allocation: reserve"));
}

TEST_CASE("red team: an offline deadline without a share, and on_bad_row without a trace") {
  const std::string head = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n" +
                           kWorkload;
  CHECK(has(test::load_error(head + "  offline: {deadline: 2h}\n"),
            "workload.offline.deadline: has no effect without offline.share > 0"));
  const auto zero = test::load_text(head + "  offline: {share: 0, deadline: 2h}\n").notes;
  REQUIRE(zero.size() == 1);
  CHECK(has(zero[0], "workload.offline.deadline: no effect with share 0"));
  CHECK(test::load_text(head + "  offline: {share: 0.5, deadline: 2h}\n").notes.empty());
  const auto skip = test::load_text(head + "  on_bad_row: skip\n").notes;
  REQUIRE(skip.size() == 1);
  CHECK(has(skip[0], "x.yaml:11:15: workload.on_bad_row: no effect: the workload reads no trace"));
}

TEST_CASE("a value tagged !!str where a number or a bool goes is refused; quoted and plain ones are read") {
  const std::string base = test::experiment_head("x", 1) +
                           "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                           "hgx-h100x8}\n" +
                           kWorkload;
  // yaml-cpp converts the text whatever the tag: `!!str 2` was read as the integer 2.
  CHECK(has(test::load_error(base, {"seed=!!str 2"}), " (--set seed): expected an integer, got '2' tagged !!str"));
  CHECK(has(test::load_error(base, {"workload.synthetic.rate=!!str 40"}),
            " (--set workload.synthetic.rate): expected a number, got '40' tagged !!str"));
  CHECK(has(test::load_error(base, {"deployments.0.scheduler.chunked_prefill=!!str true"}),
            "chunked_prefill): expected true or false, got 'true' tagged !!str"));
  // Another type's tag, or a local tag, is refused too; in the file, at the value's line.
  CHECK(has(test::load_error(base, {"seed=!!float 2"}), "expected an integer, got '2' tagged !!float"));
  CHECK(has(test::load_error(base, {"seed=!local 2"}), "expected an integer, got '2' tagged !local"));
  std::string in_file = base;
  in_file.replace(in_file.find("seed: 1"), 7, "seed: !!str 1");
  CHECK(has(test::load_error(in_file), ":2:7: seed: expected an integer, got '1' tagged !!str"));
  // Lists of numbers: each element.
  CHECK(
      has(test::load_error(base, {"workload.synthetic.prompt_tokens={distribution: empirical, values: [100, !!str "
                                  "200]}"}),
          "prompt_tokens.values[1]): expected a number, got '200' tagged !!str"));
  // The type's own tag, a quoted value and a plain one load as before.
  CHECK(test::load_text(base, {"seed=!!int 2"}).seed == 2);
  CHECK(test::load_text(base, {"seed=\"2\""}).seed == 2);
  CHECK(test::load_text(base, {"seed='2'"}).seed == 2);
  CHECK(test::load_text(base, {"workload.synthetic.rate=!!float 2.5"}).workload.synthetic.rate == 2.5);
  CHECK(test::load_text(base, {"workload.synthetic.rate=!!int 3"}).workload.synthetic.rate == 3);
  CHECK(test::load_text(base, {"deployments.0.scheduler.chunked_prefill=!!bool false"})
            .deployments[0]
            .scheduler.chunked_prefill == false);
  // A duration is a string with a unit or a number of seconds: `!!str 30s` is one.
  CHECK_NOTHROW(test::load_text(base, {"slo.ttft=!!str 500ms"}));

  // Sweeps: a swept value goes through the same getters, named by its line; sweep.seeds is read here.
  test::TempDir dir;
  const std::string swept =
      dir.write("s.yaml", base + "sweep:\n  grid:\n    workload.synthetic.rate: [1, !!str 2]\n");
  try {
    (void)experiment::validate_sweep(swept, test::catalog(), {}, experiment::load_sweep(swept, {}), dir.path("o"));
    FAIL("no error");
  } catch (const core::InputError& e) {
    CHECK(has(e.what(), swept + ":13:34: sweep value workload.synthetic.rate=!!str 2"));
    CHECK(has(e.what(), "expected a number, got '2' tagged !!str"));
  }
  for (const char* seeds : {"!!str 3", "[1, !!str 2]", "!!float 3"}) {
    CAPTURE(seeds);
    const std::string f = dir.write("t.yaml", base + "sweep:\n  seeds: " + seeds + "\n");
    CHECK_THROWS_WITH_AS(experiment::load_sweep(f, {}), doctest::Contains("sweep.seeds: got "), core::InputError);
  }
  CHECK(experiment::load_sweep(dir.write("t.yaml", base + "sweep:\n  seeds: !!int 2\n"), {}).runs.size() == 2);
  CHECK(experiment::load_sweep(dir.write("t.yaml", base + "sweep:\n  seeds: \"2\"\n"), {}).runs.size() == 2);
}
