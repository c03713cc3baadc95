// The power of a simulated capacity entry (docs/PLANNING.md, "Capacity tables": the GPU energy of the run above
// the idle power of the server's GPUs, per second and instance) is measured against the idle power the run itself
// drew, whatever the base experiment's power-delivery settings.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "planner_support.hpp"
#include "sim/planning/capacity.hpp"
#include "sim/planning/plan_config.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// The offline entry (one simulation) of Llama-3.1-8B on an HGX H100 server, with `carbon` in the base experiment.
double active_w(const std::string& carbon) {
  test::TempDir dir;
  std::string base;
  {
    std::ifstream in(std::string(GREENFLEET_SOURCE_DIR) + "/experiments/quickstart.yaml");
    std::stringstream s;
    s << in.rdbuf();
    base = s.str();
  }
  base.replace(base.find("output:\n"), 8, carbon + "output:\n");
  dir.write("base.yaml", base);
  const std::string plan =
      dir.write("p.yaml",
                "name: cap\nhorizon: 1h\ncarbon_intensity: {kind: constant, value: 100}\n"
                "servers: [{sku: hgx-h100x8}]\n"
                "classes:\n  - {name: batch, model: llama-3.1-8b, offline: {requests: 1000}}\n"
                "capacity: {experiment: base.yaml, requests_per_instance: 60, warmup_per_instance: 10}\n"
                "objective: {name: carbon}\n");
  const auto pc = planning::load_plan_config(plan, test::catalog());
  const auto rows = planning::build_capacity(pc, test::catalog(), "", false);
  REQUIRE(rows.size() == 1);
  return rows[0].entry.active_w;
}

}  // namespace

TEST_CASE("capacity power: the GPU power above idle scales with power-delivery losses, idle excluded") {
  // A PSU efficiency of 0.5 doubles every watt the run draws, idle and dynamic alike (docs/CARBON.md): the power
  // above idle doubles too. Measured against the catalog's idle power instead, the doubled idle power of all
  // eight GPUs would count as active.
  const double plain = active_w("");
  const double lossy = active_w("carbon: {psu_efficiency: 0.5}\n");
  CHECK(plain > 0);
  CHECK(lossy == doctest::Approx(2 * plain).epsilon(1e-9));
}
