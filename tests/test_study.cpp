#include <doctest/doctest.h>

#include <string>

#include "sim/core/error.hpp"
#include "sim/experiment/sweep.hpp"
#include "sim/study/compare.hpp"
#include "sim/study/sweep_runner.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const std::string kExperiment = R"(name: t
seed: 3
sites:
  - name: s1
    carbon_intensity: 17
deployments:
  - name: d
    model: llama-3.1-8b
fleet:
  - site: s1
    sku: hgx-h100x8
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

}  // namespace

TEST_CASE("sweep: grid first key outermost, zip innermost, replicas together") {
  test::TempDir dir;
  const std::string file = dir.write("s.yaml", kExperiment + R"(sweep:
  grid:
    router.name: [round_robin, random]
    fleet.0.count: [1, 2]
  zip:
    workload.synthetic.rate: [2, 4, 8]
    workload.synthetic.requests: [10, 20, 40]
  seeds: 2
)");
  const experiment::Sweep s = experiment::load_sweep(file, {});
  CHECK(s.points == 12);
  CHECK(s.replicas == 2);
  REQUIRE(s.runs.size() == 24);
  CHECK(s.columns == std::vector<std::string>{"router.name", "fleet.0.count", "workload.synthetic.rate",
                                              "workload.synthetic.requests", "seed"});
  CHECK(s.runs[0].values == std::vector<std::string>{"round_robin", "1", "2", "10", "3"});
  CHECK(s.runs[1].values == std::vector<std::string>{"round_robin", "1", "2", "10", "4"});
  CHECK(s.runs[2].values == std::vector<std::string>{"round_robin", "1", "4", "20", "3"});
  CHECK(s.runs[6].values == std::vector<std::string>{"round_robin", "2", "2", "10", "3"});
  CHECK(s.runs[23].values == std::vector<std::string>{"random", "2", "8", "40", "4"});
  CHECK(s.runs[23].output == "p0011_r01.h5");
  CHECK(s.runs[23].overrides.back() == "seed=4");
  CHECK(s.runs[0].origins[0] == file + ":23:19");

  const auto resolved = experiment::validate_sweep(file, test::catalog(), {}, s, dir.path("out"));
  REQUIRE(resolved.size() == 24);
  CHECK(resolved[0] != resolved[1]);
  CHECK(resolved[0].find("name: round_robin") != std::string::npos);
}

TEST_CASE("sweep: structural errors and bad values name file:line:column") {
  test::TempDir dir;
  auto error_of = [&](const std::string& block) {
    const std::string file = dir.write("e.yaml", kExperiment + block);
    try {
      const experiment::Sweep s = experiment::load_sweep(file, {});
      experiment::validate_sweep(file, test::catalog(), {}, s, dir.path("out"));
    } catch (const core::InputError& e) {
      return std::string(e.what()).substr(file.size());
    }
    return std::string("no error");
  };
  CHECK(error_of("sweep:\n  grid:\n    router.name: round_robin\n")
            .rfind(":23:18: sweep.grid.router.name: expected a "
                   "non-empty list",
                   0) == 0);
  CHECK(error_of("sweep:\n  zip:\n    seed: [1, 2]\n").find("use sweep.seeds") != std::string::npos);
  CHECK(error_of("sweep:\n  zip:\n    workload.synthetic.rate: [1, 2]\n    workload.synthetic.requests: [1]\n")
            .find("must have the same length") != std::string::npos);
  CHECK(error_of("sweep:\n  seeds: 0\n").rfind(":22:10: sweep.seeds", 0) == 0);
  CHECK(error_of("sweep:\n  grid:\n    router.name: [round_robin, nope]\n")
            .rfind(":23:32: sweep value router.name=nope", 0) == 0);
}

TEST_CASE("a file without a sweep block has no runs, and run ignores the block") {
  test::TempDir dir;
  CHECK(experiment::load_sweep(dir.write("n.yaml", kExperiment), {}).runs.empty());
  const std::string file = dir.write("s.yaml", kExperiment + "sweep:\n  seeds: 3\n");
  CHECK(experiment::load_experiment(file, test::catalog(), {}).seed == 3);
  const auto s = experiment::load_sweep(file, {"seed=10"});
  REQUIRE(s.runs.size() == 3);
  CHECK(s.runs[2].values.back() == "12");
}

TEST_CASE("compare helpers: nearest rank, t quantiles, flattened configuration") {
  std::vector<double> v = {5, 1, 4, 2, 3};
  CHECK(study::nearest_rank(v, 50) == 3);
  CHECK(study::nearest_rank(v, 99) == 5);
  CHECK(study::nearest_rank(v, 20) == 1);
  std::vector<double> empty;
  CHECK(std::isnan(study::nearest_rank(empty, 50)));
  CHECK(study::t975(1) == doctest::Approx(12.706));
  CHECK(study::t975(30) == doctest::Approx(2.042));
  CHECK(study::t975(1000) == doctest::Approx(1.962).epsilon(1e-3));
  const auto f = study::flatten_yaml("a: {b: 1, c: [x, {d: ~}]}\ne: []\n");
  CHECK(f.at("a.b") == "1");
  CHECK(f.at("a.c[0]") == "x");
  CHECK(f.at("a.c[1].d") == "~");
  CHECK(f.at("e") == "[]");
  study::SplitMix64 rng{0};
  CHECK(rng.next() == 0xe220a8397b1dcdafULL);  // the published first output of splitmix64 from 0
}

TEST_CASE("sweep outcomes survive the trip between ranks") {
  study::RunOutcome o;
  o.status = "ok";
  o.wall_seconds = 0.125;
  o.summary = {{"carbon_kg", 0.1 + 0.2}, {"slo_attainment_offline", std::nan("")}};
  const auto back = study::RunOutcome::parse(o.serialize());
  CHECK(back.status == "ok");
  CHECK(back.wall_seconds == 0.125);
  REQUIRE(back.summary.size() == 2);
  CHECK(back.summary[0].second == 0.1 + 0.2);
  CHECK(std::isnan(back.summary[1].second));
}
