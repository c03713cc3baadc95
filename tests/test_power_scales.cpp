#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {
struct Energies {
  double gpu = 0, host = 0, busy_s = 0;
};
Energies run_quickstart(const std::vector<std::string>& overrides) {
  experiment::LoadOptions o;
  o.overrides = overrides;
  o.overrides.push_back("workload.synthetic.requests=200");
  const experiment::Experiment x = experiment::load_experiment(
      std::string(GREENFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml", test::catalog(), o);
  runner::Simulation sim(x, test::catalog());
  sim.run();
  Energies e;
  e.gpu = sim.ledger().fleet_total().energy_gpu;
  e.host = sim.ledger().fleet_total().energy_host;
  for (const auto& in : sim.instances()) e.busy_s += core::to_seconds(in->stats().busy_time);
  return e;
}
}  // namespace

TEST_CASE("power delivery losses and the GPU power scale multiply the power they name") {
  const Energies base = run_quickstart({});
  REQUIRE(base.gpu > 0);
  // GreenSKU's PSU efficiency and VR overhead: every server's GPU and host power x 1.05 / 0.95.
  const Energies delivered = run_quickstart({"carbon.psu_efficiency=0.95", "carbon.vr_overhead=1.05"});
  CHECK(delivered.gpu == doctest::Approx(base.gpu * 1.05 / 0.95).epsilon(1e-9));
  CHECK(delivered.host == doctest::Approx(base.host * 1.05 / 0.95).epsilon(1e-9));
  // The GPU scale leaves the host alone, and neither changes the timing.
  const Energies scaled = run_quickstart({"fleet.0.gpu_power_scale=0.7"});
  CHECK(scaled.gpu == doctest::Approx(base.gpu * 0.7).epsilon(1e-9));
  CHECK(scaled.host == doctest::Approx(base.host).epsilon(1e-12));
  CHECK(scaled.busy_s == base.busy_s);
}

TEST_CASE("step_time_scale stretches the busy time of a run by its factor") {
  const Energies base = run_quickstart({});
  const Energies slow = run_quickstart({"deployments.0.perf_model.step_time_scale=1.3"});
  // More requests share steps under a slower model, so busy time grows by about the scale, not exactly (1.19x
  // since the roofline adds compute and memory time, whose batch-dependent part grew).
  CHECK(slow.busy_s > 1.15 * base.busy_s);
  CHECK(slow.busy_s < 1.4 * base.busy_s);
}
