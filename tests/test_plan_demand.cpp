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

// The demand `kSmallPlanFile` (2 one-hour slots, or `slot`s over its 2 hours) gets from an Azure-format trace with
// `rows` (time, one per row); `extra` is added to the experiment (top-level keys) and `workload_extra` to its
// workload section.
std::vector<double> demand(const std::vector<std::string>& times, const std::string& slot = "",
                           const std::string& extra = "", const std::string& workload_extra = "") {
  test::TempDir dir;
  std::string csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  for (const auto& t : times) csv += t + ",100,10\n";
  dir.write("azure.csv", csv);
  dir.write("w.yaml", test::experiment_head("w", 1) + extra +
                          "deployments:\n  - {name: d, model: llama-3.1-8b}\nfleet:\n  - {site: s, sku: "
                          "hgx-h100x8}\nworkload:\n  source: azure_csv\n  file: azure.csv\n" +
                          workload_extra);
  std::string plan = test::kSmallPlanFile;
  plan.replace(plan.find("{kind: values, values: [4, 8]}"), 30, "{kind: workload, experiment: w.yaml}");
  if (!slot.empty()) plan.replace(plan.find("horizon: 2h"), 11, "horizon: 2h\nslot: " + slot);
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

TEST_CASE("plan demand: a workload's declared span sets the slots it covers") {
  // Half-hour slots over 2 h; one arrival in the first half-hour, two in the second, one at 01:40.
  const std::vector<std::string> times = {"2024-05-01 00:00:00", "2024-05-01 00:40:00", "2024-05-01 00:50:00",
                                          "2024-05-01 01:40:00"};
  const double half = 1800;
  // The experiment's horizon (1 h): run feeds nothing at or after it, so neither does the plan, and the
  // workload covers its two half-hours, repeated. Before, the 01:40 arrival was counted and set the span: three
  // slots (1, 2, 0 requests), then the first again.
  const auto cut = demand(times, "30min", "horizon: 1h\n");
  REQUIRE(cut.size() == 4);
  CHECK(cut[0] == doctest::Approx(1 / half));
  CHECK(cut[1] == doctest::Approx(2 / half));
  CHECK(cut[2] == doctest::Approx(1 / half));
  CHECK(cut[3] == doctest::Approx(2 / half));
  // A window of the first hour: the same span, declared by the workload itself. Before, the last arrival (00:50)
  // covered only the first half-hour, repeated four times.
  const auto window = demand(times, "30min", "", "  window: {end: 1h}\n");
  CHECK(window == cut);
  // Without a declared span the last arrival's slot is left out (it may be partial): the first half-hour only.
  const auto undeclared = demand({times[0], times[1], times[2]}, "30min");
  for (const double r : undeclared) CHECK(r == doctest::Approx(1 / half));
  // A span shorter than a slot gives the one slot the workload's rate over its span: 3 requests in 55 minutes
  // (one-hour slots; before, 3 per hour). The horizon excludes an arrival at it: 2 requests in 50 minutes.
  const auto short_span = demand({times[0], times[1], times[2]}, "", "horizon: 55min\n");
  REQUIRE(short_span.size() == 2);
  CHECK(short_span[0] == doctest::Approx(3.0 / 3300));
  CHECK(short_span[1] == doctest::Approx(3.0 / 3300));
  CHECK(demand({times[0], times[1], times[2]}, "", "horizon: 50min\n")[0] == doctest::Approx(2.0 / 3000));
  // max_requests ends the workload as run ends it: two requests, and the span is the last arrival's again.
  const auto counted = demand(times, "30min", "horizon: 1h\n", "  max_requests: 2\n");
  for (const double r : counted) CHECK(r == doctest::Approx(1 / half));
  // A count that the horizon (or the trace's end) reaches first feeds what run feeds without it: the same demand.
  // Before, reaching the count dropped the declared span (1, 2, 1, 2 became 1, 1, 1, 1).
  CHECK(demand(times, "30min", "horizon: 1h\n", "  max_requests: 3\n") == cut);
  CHECK(demand({times[0], times[1], times[2]}, "30min", "horizon: 1h\n", "  max_requests: 3\n") == cut);
}
