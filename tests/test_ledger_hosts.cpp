// The ledger's idle lines on a server without GPUs (docs/CARBON.md, "CPU instances"): a host whose cores carry
// CPU instances books each its share of the host, and the rest, not the whole host again, as unused.
#include <doctest/doctest.h>

#include <vector>

#include "sim/energy/carbon_signal.hpp"
#include "sim/energy/ledger.hpp"

using namespace greenfleet;

TEST_CASE("ledger: a GPU-less host with CPU instances books its host once") {
  const auto ci = energy::CarbonSignal::constant(200);
  energy::ServerPower sv;
  sv.ci = &ci;
  sv.pue = 1.2;
  sv.gpus = 0;
  sv.gpus_in_instances = 0;
  sv.host_static_w = 300;
  sv.host_emb_g_per_s = 0.01;
  sv.gpu_host_share = 0.5;  // one CPU instance holds the other half of the host
  std::vector<energy::InstancePlace> places = {energy::InstancePlace{0, 0, 0.5, 40}};
  energy::CarbonLedger ledger({sv}, places, core::kHour);
  const core::SimTime end = 2 * core::kHour;
  ledger.finalize(end);
  // The host, on for two hours without a step: 300 W x 7200 s, its carbon at 200 g/kWh and PUE 1.2, and its
  // embodied rate over the run, once.
  const energy::Accum total = ledger.fleet_total();
  CHECK(total.energy() == doctest::Approx(300.0 * 7200));
  CHECK(total.op() == doctest::Approx(300.0 * 7200 / 3.6e6 * 1.2 * 200));
  CHECK(total.emb() == doctest::Approx(0.01 * 7200));
  CHECK(ledger.idle_lines().energy() == doctest::Approx(300.0 * 7200));
  CHECK(ledger.idle_lines().emb() == doctest::Approx(0.01 * 7200));
  CHECK(ledger.conservation_error() < 1e-12);
}
