// The lifecycle study (EcoServe's Recycle, docs/LIFECYCLE.md): per-year rows checked by hand against the runs'
// ledgers and the catalog's embodied totals, validation errors, determinism.
#include <doctest/doctest.h>

#include <string>

#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/lifecycle/lifecycle.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const char* kTinyExperiment = R"(name: tiny-lifecycle
seed: 3
sites:
  - name: s
    carbon_intensity: 100
deployments:
  - name: chat
    model: llama-3.1-8b
    scheduler: {max_num_seqs: 64, max_batched_tokens: 2048}
fleet:
  - site: s
    sku: dgx-a100x8-80gb
    count: 1
workload:
  source: synthetic
  synthetic:
    requests: 200
    rate: 8
    prompt_tokens: {distribution: lognormal, mean: 500, sigma: 0.5, max: 4096}
    output_tokens: {distribution: lognormal, mean: 100, sigma: 0.5, max: 1024}
router:
  name: least_outstanding_tokens
)";

const char* kTinyLifecycle = R"(name: tiny
experiment: exp.yaml
horizon_years: 4
generations:
  - {server: dgx-a100x8-80gb, from_year: 0}
  - {server: hgx-h100x8, from_year: 1}
policies:
  - {name: recycle, kind: recycle, gpu_refresh_years: 2, host_life_years: 4}
  - {name: whole, kind: homogeneous, refresh_years: 2}
)";

lifecycle::LifecycleConfig load(const test::TempDir& dir, const std::string& text,
                                const std::vector<std::string>& overrides = {}) {
  dir.write("exp.yaml", kTinyExperiment);
  return lifecycle::load_config(dir.write("life.yaml", text), test::catalog(), overrides, "");
}

std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  test::TempDir dir;
  try {
    load(dir, text, overrides);
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("lifecycle: yearly rows add up by hand from the runs' ledgers") {
  test::TempDir dir;
  const auto config = load(dir, kTinyLifecycle);
  const auto result = lifecycle::run_study(config, test::catalog());
  REQUIRE(result.rows.size() == 8);
  REQUIRE(result.totals.size() == 2);
  // recycle: A100 server for two years, then H100 GPUs (and baseboard) in the A100 host; whole: the H100 server.
  const auto& r = result.rows;
  CHECK(r[0].server == "dgx-a100x8-80gb");
  CHECK(r[2].server == "dgx-a100x8-80gb+hgx-h100x8");
  CHECK(r[2].gpu == "h100-sxm");
  CHECK(r[2].host == "dgx-a100x8-80gb");
  CHECK((r[2].gpu_age == 0 && r[2].host_age == 2 && r[2].gpu_bought && !r[2].host_bought));
  CHECK((r[3].gpu_age == 1 && r[3].host_age == 3 && !r[3].gpu_bought));
  CHECK(r[6].server == "hgx-h100x8");
  CHECK((r[6].gpu_bought && r[6].host_bought));
  // Embodied per year, from the catalog's totals by hand (docs/CARBON.md): A100 SXM card 99.0 kg, H100 SXM 103.0
  // kg; DGX A100 host = 34,560 GB SSD x 0.10999 + 2,000 GB DDR4 x 0.29 + 276.47 fixed = 4,657.7 kg; HGX H100 host
  // 3,355 kg. The runs amortise them over the schedule's lifetimes: GPUs 2 years, hosts 4 (recycle) or 2 (whole).
  const double a100_host_kg = 34560 * 0.10999 + 2000 * 0.29 + 276.47;
  CHECK(r[0].embodied_gpu_t == doctest::Approx(8 * 99.0 / 2 / 1000).epsilon(1e-3));
  CHECK(r[0].embodied_host_t == doctest::Approx(a100_host_kg / 4 / 1000).epsilon(1e-3));
  CHECK(r[2].embodied_gpu_t == doctest::Approx(8 * 103.0 / 2 / 1000).epsilon(1e-3));
  CHECK(r[2].embodied_host_t == doctest::Approx(a100_host_kg / 4 / 1000).epsilon(1e-3));
  CHECK(r[4].embodied_host_t == doctest::Approx(a100_host_kg / 2 / 1000).epsilon(1e-3));
  CHECK(r[6].embodied_host_t == doctest::Approx(3355.0 / 2 / 1000).epsilon(1e-3));
  // Bought: whole cards and hosts in the year of purchase.
  CHECK(r[0].bought_t == doctest::Approx((8 * 99.0 + a100_host_kg) / 1000).epsilon(1e-3));
  CHECK(r[1].bought_t == 0);
  CHECK(r[2].bought_t == doctest::Approx(8 * 103.0 / 1000).epsilon(1e-3));
  CHECK(r[6].bought_t == doctest::Approx((8 * 103.0 + 3355.0) / 1000).epsilon(1e-3));
  // Each year's amounts are its run's ledger totals x 8,760 h / the run's simulated time.
  for (const auto& y : r) {
    const double scale = 8760.0 * 3600 / y.run_seconds;
    CHECK(y.operational_t == doctest::Approx(y.run_operational_kg * scale / 1000).epsilon(1e-12));
    CHECK(y.embodied_gpu_t == doctest::Approx(y.run_embodied_gpu_kg * scale / 1000).epsilon(1e-12));
    CHECK(y.total_t == doctest::Approx(y.operational_t + y.embodied_gpu_t + y.embodied_host_t).epsilon(1e-12));
    CHECK(y.completed == 200);
  }
  // Cumulative sums and policy totals.
  CHECK(r[3].cumulative_t == doctest::Approx(r[0].total_t + r[1].total_t + r[2].total_t + r[3].total_t));
  CHECK(result.totals[0].total_t == doctest::Approx(r[3].cumulative_t));
  CHECK(result.totals[1].total_t == doctest::Approx(r[7].cumulative_t));
  CHECK(r[7].cumulative_at_purchase_t ==
        doctest::Approx(r[4].operational_t + r[5].operational_t + r[6].operational_t + r[7].operational_t +
                        r[4].bought_t + r[6].bought_t));
  // The first year's run is the base experiment itself: its ledger, run independently, gives the same operational
  // carbon and time (lifetimes change embodied carbon only).
  experiment::LoadOptions lo;
  const auto x = experiment::load_experiment(dir.path("exp.yaml"), test::catalog(), lo);
  runner::Simulation sim(x, test::catalog());
  sim.run();
  CHECK(r[0].run_seconds == core::to_seconds(sim.end_time()));
  CHECK(r[0].run_operational_kg == doctest::Approx(sim.ledger().fleet_total().op() / 1000).epsilon(1e-12));
  CHECK(r[4].run_operational_kg == r[0].run_operational_kg);
  // Same H100 GPUs, same work: the recycled server and the new one differ by their hosts' power only.
  CHECK(r[2].run_seconds == r[6].run_seconds);
  CHECK(r[2].run_operational_kg != r[6].run_operational_kg);
  // Identical years reuse one run: recycle's two fleets and whole's two.
  CHECK(result.simulations == 4);
}

TEST_CASE("lifecycle: load growth and grid intensity reach the runs") {
  test::TempDir dir;
  auto config = load(dir, kTinyLifecycle, {"load_growth_per_year=0.5", "carbon_intensity=0", "horizon_years=2"});
  const auto result = lifecycle::run_study(config, test::catalog());
  REQUIRE(result.rows.size() == 4);
  CHECK(result.rows[1].rate_scale == doctest::Approx(1.5));
  CHECK(result.rows[1].run_seconds < result.rows[0].run_seconds);  // the same requests arrive faster
  CHECK(result.rows[0].operational_t == 0);                        // a zero-carbon grid
  CHECK(result.rows[0].energy_mwh > 0);
}

TEST_CASE("lifecycle: the study is deterministic") {
  test::TempDir dir;
  const auto config = load(dir, kTinyLifecycle, {"horizon_years=3"});
  const std::string a = lifecycle::format_csv(lifecycle::run_study(config, test::catalog()));
  const std::string b = lifecycle::format_csv(lifecycle::run_study(config, test::catalog()));
  CHECK(a == b);
  CHECK(a.find("recycle,3,dgx-a100x8-80gb+hgx-h100x8,") != std::string::npos);
}

TEST_CASE("lifecycle: bad files name the file, line and key") {
  const std::string t = kTinyLifecycle;
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = t;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
  };
  std::string e = load_error(replaced("dgx-a100x8-80gb", "dgx-a100x8-80g"));
  CHECK(e.find("life.yaml:5:") != std::string::npos);
  CHECK(e.find("did you mean 'dgx-a100x8-80gb'") != std::string::npos);
  e = load_error(replaced("from_year: 0", "from_year: 1"));
  CHECK(e.find("generations[0].from_year") != std::string::npos);
  e = load_error(replaced("from_year: 1", "from_year: 0"));
  CHECK(e.find("later than the previous") != std::string::npos);
  e = load_error(replaced("name: whole", "name: recycle"));
  CHECK(e.find("names two policies") != std::string::npos);
  e = load_error(replaced("refresh_years: 2}", "refresh_year: 2}"));
  CHECK(e.find("policies[1].refresh_years") != std::string::npos);
  e = load_error(replaced("kind: homogeneous", "kind: homogenous"));
  CHECK(e.find("policies[1].kind") != std::string::npos);
  e = load_error(replaced("hgx-h100x8", "pcie-l40sx4"));
  CHECK(e.find("same GPU count") != std::string::npos);
  e = load_error(replaced("experiment: exp.yaml", "experiment: missing.yaml"));
  CHECK(e.find("life.yaml:2:") != std::string::npos);
  // A file that is not an experiment (here the lifecycle file itself): its own error, after the key naming it.
  e = load_error(replaced("experiment: exp.yaml", "experiment: life.yaml"));
  CHECK(e.find("life.yaml:2:13: experiment: ") != std::string::npos);
  CHECK(e.find("life.yaml:1:1: sites: required list is missing") != std::string::npos);
  e = load_error(t, {"horizon_years=0"});
  CHECK(e.find("horizon_years") != std::string::npos);
  CHECK(load_error(t, {"horizon_years=1"}) == "no error");  // a generation on sale after the horizon is unused
  {
    // ... and said so in a note (the command prints it on stderr), naming its line and key.
    test::TempDir dir;
    CHECK(load(dir, t).notes.empty());
    const auto notes = load(dir, t, {"horizon_years=1"}).notes;
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].find("life.yaml:6:") != std::string::npos);
    CHECK(notes[0].find("generations[1].from_year: 1 is not before horizon_years (1): 'hgx-h100x8' is never "
                        "bought") != std::string::npos);
  }
  e = load_error(t, {"generations.1.from_year=101"});
  CHECK(e.find("generations[1].from_year") != std::string::npos);
  e = load_error(t, {"horizon_year=3"});
  CHECK(e.find("unknown key") != std::string::npos);
}

TEST_CASE("lifecycle: the B200 generation and a recycled SKU") {
  const auto& c = test::catalog();
  // B200 card by EcoServe's formula, by hand: 1.05 x (180 GB x 0.24 + 0.004 x 297.48 + 2000 / 1100 x 28.75
  // + 1000 / 700 x 6.5 + 44.60 + 0.925) = 159.05 kg.
  CHECK(energy::ecoserve_gpu_card(c.gpu("b200"), c).total ==
        doctest::Approx(1.05 *
                        (180 * 0.24 + 0.004 * 297.48 + 2000.0 / 1100 * 28.75 + 1000.0 / 700 * 6.5 + 44.60 + 0.925))
            .epsilon(1e-6));
  const auto& b = c.server("dgx-b200x8");
  CHECK((b.gpu == "b200" && b.gpu_count == 8 && b.scale_up_link == "nvlink5"));
  // The A100 host carrying B200s: the host's parts, the new GPUs and fabric, fans re-priced by 0.10 x the TDP
  // difference (400 W + 0.10 x 8 x (1000 - 400) = 880 W).
  const auto s = lifecycle::recycled_server(c, "dgx-a100x8-80gb", "dgx-b200x8");
  CHECK(s.id == "dgx-a100x8-80gb+dgx-b200x8");
  CHECK((s.gpu == "b200" && s.gpu_count == 8 && s.scale_up_link == "nvlink5"));
  CHECK((s.cpu == "epyc-7742" && s.dram_gb == 2000 && s.ssd_gb == 34560 && s.pcie_link == "pcie4-x16"));
  CHECK(s.chassis_w == 880);
  CHECK(lifecycle::recycled_server(c, "hgx-h100x8", "hgx-h100x8").id == "hgx-h100x8");
}

TEST_CASE("lifecycle: every year loads before the first run; a server listed twice; hosts younger than GPUs") {
  test::TempDir dir;
  // A generation whose server cannot hold the deployment (Llama-3.1-8B's 16 GB of weights on a 16 GB T4) used to
  // fail in run_study, after the years before it were simulated, naming only the experiment's --set fleet SKU.
  // Every distinct year is loaded with the file: the error names the generation, the policy and the year.
  std::string on_t4 = kTinyLifecycle;
  on_t4.replace(on_t4.find("hgx-h100x8"), 10, "pcie-t4x4");
  const std::string e = load_error(on_t4, {"policies=[{name: whole, kind: homogeneous, refresh_years: 2}]"});
  CHECK(e.find("life.yaml:6:14: ") != std::string::npos);
  CHECK(e.find("generations[1].server: policy 'whole' year 3 (pcie-t4x4): ") != std::string::npos);
  CHECK(e.find("exp.yaml (--set fleet[0].sku)") != std::string::npos);
  // The years' notes are gathered once each, with the base's.
  std::string noted = kTinyExperiment;
  noted.insert(noted.find("    prompt_tokens"), "    arrivals: poisson\n    cv: 2\n");
  dir.write("exp.yaml", noted);
  const auto config = lifecycle::load_config(dir.write("life.yaml", kTinyLifecycle), test::catalog(), {}, "");
  REQUIRE(config.notes.size() == 1);
  CHECK(config.notes[0].find("workload.synthetic.cv: no effect with arrivals: poisson") != std::string::npos);

  // The same server in two generations buys nothing new (or goes back to an older one): refused, naming both.
  std::string twice = kTinyLifecycle;
  twice.insert(twice.find("policies:"), "  - {server: dgx-a100x8-80gb, from_year: 3}\n");
  const std::string e2 = load_error(twice);
  CHECK(e2.find("life.yaml:7:14: generations[2].server: 'dgx-a100x8-80gb' is listed already") !=
        std::string::npos);
  CHECK(e2.find("life.yaml:5:14: generations[0].server)") != std::string::npos);
  CHECK(load_error(kTinyLifecycle, {"generations.1.server=dgx-a100x8-80gb"}).find("is listed already") !=
        std::string::npos);

  // Hosts replaced more often than the GPUs (host_life_years below gpu_refresh_years) is the reverse of Recycle,
  // and a schedule all the same (docs/LIFECYCLE.md): in year 3 the A100 GPUs bought in year 1 move into a new H100
  // host.
  const auto reverse = load(
      dir, kTinyLifecycle,
      {"horizon_years=3", "policies=[{name: hosts, kind: recycle, gpu_refresh_years: 4, host_life_years: 2}]"});
  const auto result = lifecycle::run_study(reverse, test::catalog(), true);
  REQUIRE(result.rows.size() == 3);
  CHECK(result.rows[2].server == "hgx-h100x8+dgx-a100x8-80gb");
  CHECK((result.rows[2].host_bought && !result.rows[2].gpu_bought && result.rows[2].gpu_age == 2));
}
