// Online demand binned from an experiment's workload (docs/PLANNING.md, `kind: workload`): each slot gets its own
// requests per second, and a workload shorter than the horizon repeats from its first slot.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "experiment_text.hpp"
#include "planner_support.hpp"
#include "sim/planning/plan_config.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// The demand `kSmallPlanFile` (2 one-hour slots) gets from an Azure-format trace with `rows` (time, one per row).
std::vector<double> demand(const std::vector<std::string>& times) {
  test::TempDir dir;
  std::string csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  for (const auto& t : times) csv += t + ",100,10\n";
  dir.write("azure.csv", csv);
  dir.write("w.yaml", test::experiment_head("w", 1) +
                          "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                          "hgx-h100x8}\nworkload:\n  source: azure_csv\n  file: azure.csv\n");
  std::string plan = test::kSmallPlanFile;
  plan.replace(plan.find("{kind: values, values: [4, 8]}"), 30, "{kind: workload, experiment: w.yaml}");
  const auto pc = planning::load_plan_config(dir.write("p.yaml", plan), test::catalog());
  return pc.problem.classes.at(0).rate;
}

}  // namespace

TEST_CASE("plan demand: a workload longer than the horizon gives every slot its own rate") {
  // One request in the first hour, three in the second, one after the horizon (2 h): the trace covers both
  // slots, and the second keeps its own three.
  const auto rate = demand({"2024-05-01 00:00:00", "2024-05-01 01:10:00", "2024-05-01 01:20:00",
                            "2024-05-01 01:59:00", "2024-05-01 02:30:00"});
  REQUIRE(rate.size() == 2);
  CHECK(rate[0] == doctest::Approx(1.0 / 3600));
  CHECK(rate[1] == doctest::Approx(3.0 / 3600));
}

TEST_CASE("plan demand: a workload of one whole slot repeats over the horizon") {
  // Arrivals within the first hour only (the Azure traces' hour): every slot gets that hour's rate.
  const auto rate = demand({"2024-05-01 00:00:00", "2024-05-01 00:30:00"});
  REQUIRE(rate.size() == 2);
  CHECK(rate[0] == doctest::Approx(2.0 / 3600));
  CHECK(rate[1] == doctest::Approx(2.0 / 3600));
}
