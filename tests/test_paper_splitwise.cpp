#include <doctest/doctest.h>

#include <string>

#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// The first requests of the Azure 2023 conversation trace through one of experiments/paper/splitwise/.
struct Tiny {
  std::uint64_t arrived = 0, completed = 0, rejected = 0, split = 0, instances = 0;
};

Tiny run_tiny(const std::string& file, const std::string& data) {
  experiment::LoadOptions o;
  o.data_dir = data;
  o.overrides = {"workload.max_requests=300"};
  const experiment::Experiment x = experiment::load_experiment(
      std::string(GREENFLEET_SOURCE_DIR) + "/experiments/paper/splitwise/" + file, test::catalog(), o);
  runner::Simulation sim(x, test::catalog());
  sim.run();
  return {sim.arrived(), sim.metrics().completed(), sim.metrics().rejected(), sim.split_requests(),
          sim.instances().size()};
}

}  // namespace

TEST_CASE("the splitwise-sim cross-check configurations load and run (experiments/paper/splitwise)") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) {
    test::skip("../shared/data not found (set GREENFLEET_DATA)");
    return;
  }
  // Both price every instance with the calibrated Llama-2-70B TP 8 coefficients (`fallback: error` makes a
  // missing file a load error), 40 servers of one TP 8 instance each.
  SUBCASE("Baseline-A100: 40 DGX-A100, every request whole") {
    const Tiny t = run_tiny("baseline_a100.yaml", data);
    CHECK(t.instances == 40);
    CHECK(t.arrived == 300);
    CHECK(t.completed + t.rejected == 300);
    CHECK(t.completed > 250);
    CHECK(t.split == 0);
  }
  SUBCASE("Splitwise-HA: 20 DGX-H100 prompt + 20 DGX-A100 token, every served request split") {
    const Tiny t = run_tiny("splitwise_ha.yaml", data);
    CHECK(t.instances == 40);
    CHECK(t.arrived == 300);
    CHECK(t.completed + t.rejected == 300);
    CHECK(t.completed > 250);
    CHECK(t.split == t.completed);
  }
}
