// Embodied lifetimes per fleet entry: fleet[].gpu_lifetime, host_lifetime, residual_life and gpu_embodied.
#include <doctest/doctest.h>

#include <string>

#include "experiment_text.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

using test::load_error;

const std::string kHead = test::experiment_head("c", 5) + "deployments: [{name: a, model: llama-3.1-8b}]\n";
const std::string kSynthetic =
    "  source: synthetic\n"
    "  synthetic: {requests: 10, rate: 20, prompt_tokens: {distribution: constant, value: 100}, "
    "output_tokens: {distribution: constant, value: 20}}\n";

}  // namespace

TEST_CASE("fleet entries: their own lifetimes, residual life and sunk GPUs, with range and consistency checks") {
  const std::string tail = "carbon: {lifetimes: {gpu: 4y, host: 6y}}\nworkload:\n" + kSynthetic;
  const auto fleet = [&](const std::string& entries) { return kHead + "fleet:\n" + entries + tail; };
  const experiment::Experiment x =
      test::load_text(fleet("  - {site: s, sku: pcie-l4x8, deployment: a}\n"
                            "  - {site: s, sku: pcie-l4x8, deployment: a, gpu_lifetime: 7y, host_lifetime: 10y}\n"
                            "  - {site: s, sku: pcie-l4x8, deployment: a, residual_life: 2y}\n"
                            "  - {site: s, sku: pcie-l4x8, deployment: a, gpu_embodied: sunk}\n"
                            "  - {site: s, sku: pcie-l4x8, deployment: a, gpu_embodied_sunk: true}\n"));
  const core::SimTime year = 8760 * core::kHour;
  CHECK(x.fleet[0].gpu_lifetime == 4 * year);
  CHECK(x.fleet[0].host_lifetime == 6 * year);
  CHECK(x.fleet[1].gpu_lifetime == 7 * year);
  CHECK(x.fleet[1].host_lifetime == 10 * year);
  CHECK(x.fleet[2].gpu_amortisation() == 2 * year);
  CHECK(x.fleet[3].gpu_embodied_sunk);
  CHECK(x.fleet[4].gpu_embodied_sunk);  // the older spelling still loads

  // The embodied rates by hand: card and host totals over each entry's own span.
  runner::Simulation sim(x, test::catalog());
  const auto& servers = sim.ledger().servers();
  REQUIRE(servers.size() == 5);
  const double card_kg = sim.servers()[0].gpu_card_kg, host_kg = sim.servers()[0].host_kg;
  CHECK(card_kg > 0);
  const double y = 8760 * 3600.0;
  CHECK(servers[0].gpu_emb_g_per_s == doctest::Approx(card_kg * 1000 / (4 * y)));
  CHECK(servers[0].host_emb_g_per_s == doctest::Approx(host_kg * 1000 / (6 * y)));
  CHECK(servers[1].gpu_emb_g_per_s == doctest::Approx(card_kg * 1000 / (7 * y)));
  CHECK(servers[1].host_emb_g_per_s == doctest::Approx(host_kg * 1000 / (10 * y)));
  CHECK(servers[2].gpu_emb_g_per_s == doctest::Approx(card_kg * 1000 / (2 * y)));
  CHECK(servers[2].host_emb_g_per_s == doctest::Approx(host_kg * 1000 / (6 * y)));
  CHECK(servers[3].gpu_emb_g_per_s == 0);
  CHECK(servers[3].host_emb_g_per_s == doctest::Approx(host_kg * 1000 / (6 * y)));
  CHECK(servers[4].gpu_emb_g_per_s == 0);

  const auto err = [&](const std::string& entry) { return load_error(fleet("  - " + entry + "\n")); };
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, gpu_lifetime: 40y}")
            .find("fleet[0].gpu_lifetime: duration '40y' is out of range") != std::string::npos);
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, host_lifetime: 10min}")
            .find("fleet[0].host_lifetime: duration '10min' must be at least 3600s") != std::string::npos);
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, gpu_lifetime: 3y, residual_life: 4y}")
            .find("fleet[0].residual_life: must not exceed the entry's gpu_lifetime") != std::string::npos);
  CHECK(
      err("{site: s, sku: pcie-l4x8, deployment: a, residual_life: 5y}")
          .find("fleet[0].residual_life: must not exceed the GPU lifetime (4 years, from carbon.lifetimes.gpu)") !=
      std::string::npos);
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, gpu_embodied: sunk, residual_life: 1y}")
            .find("fleet[0].residual_life: applies to amortised GPUs only") != std::string::npos);
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, gpu_embodied: sunk, gpu_embodied_sunk: true}")
            .find("fleet[0].gpu_embodied_sunk: is the older spelling of gpu_embodied: sunk") != std::string::npos);
  CHECK(err("{site: s, sku: pcie-l4x8, deployment: a, gpu_embodied: paid}").find("fleet[0].gpu_embodied:") !=
        std::string::npos);
}
