// GreenLLM's closed form (sim/study/greenllm_theory.*, docs/THEORY.md): the formulas by hand on a toy case, the
// break-even CI, sunk vs amortised old GPUs, and the terms derived from an experiment's models.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/components.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/study/greenllm_theory.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

// A toy unit of work: 10 s on the new GPU at 300 W, of which a 2 s prefill at 400 W; the decode takes 12 s at
// 250 W on the old GPU. New GPUs cost 0.01 g/s of embodied carbon.
study::TheoryTerms toy() {
  study::TheoryTerms t;
  t.tn = 10, t.tn_prefill = 2, t.to = 12;
  t.pn = 300, t.pn_prefill = 400, t.po = 250;
  t.rn = 0.01, t.ro = 0;
  t.pue = 1.5;
  return t;
}

std::string experiment_yaml(const std::string& old_entry_extra, const std::string& modes) {
  return "name: theory\nseed: 5\nsites:\n  - {name: dc, pue: 1.2, carbon_intensity: 300}\n"
         "deployments:\n  - {name: new, model: llama-2-7b" +
         modes +
         "}\n"
         "  - {name: old, model: llama-2-7b}\n"
         "fleet:\n  - {site: dc, sku: azure-nc24ads-a100-v4, count: 1, deployment: new}\n"
         "  - {site: dc, sku: pcie-v100x8, count: 1, deployment: old" +
         old_entry_extra +
         "}\n"
         "network: {tor_switch: greensku-rack}\nrouter: {name: least_outstanding_tokens}\n"
         "workload: {source: synthetic, deployment: new, synthetic: {requests: 5, rate: 1, prompt_tokens: "
         "{distribution: constant, value: 500}, output_tokens: {distribution: constant, value: 21}}}\n";
}

const std::string kModes = ", modes: {disaggregated: {decode: old}}";

}  // namespace

TEST_CASE("theory: the closed form by hand on a toy case") {
  const study::TheoryTerms t = toy();
  for (const double ci : {0.0, 100.0, 261.0, 800.0}) {
    const double g_per_j = ci * 1.5 / 3.6e6;
    const double base = g_per_j * 300 * 10 + 0.01 * 10;  // CI PUE Pn Tn + rn Tn
    const double green =
        g_per_j * (400 * 2 + 250 * 12) + 0.01 * 2 + 0;  // CI PUE (Pn'Tn' + Po To) + rn Tn' + ro To
    CHECK(study::carbon_base(t, ci) == doctest::Approx(base).epsilon(1e-12));
    CHECK(study::carbon_green(t, ci) == doctest::Approx(green).epsilon(1e-12));
    CHECK(study::savings_percent(t, ci) == doctest::Approx(100 * (1 - green / base)).epsilon(1e-12));
  }
  // At zero CI only embodied carbon counts: 1 - 0.02 / 0.1.
  CHECK(study::savings_percent(t, 0) == doctest::Approx(80.0));
}

TEST_CASE("theory: the break-even CI, sunk vs amortised old GPUs") {
  study::TheoryTerms t = toy();
  // Disaggregation adds 3800 - 3000 = 800 J and saves 0.01 x 8 = 0.08 g of embodied carbon:
  // CI* = 0.08 / (800 x 1.5 / 3.6e6) = 240 g/kWh.
  REQUIRE(study::break_even_ci(t));
  CHECK(*study::break_even_ci(t) == doctest::Approx(240.0));
  CHECK(std::abs(study::savings_percent(t, *study::break_even_ci(t))) < 1e-9);
  CHECK(study::savings_percent(t, 200) > 0);
  CHECK(study::savings_percent(t, 300) < 0);
  // Amortising the old GPUs (0.001 g/s over its 12 s) costs 0.012 g: CI* = 0.068 / (800 x 1.5 / 3.6e6) = 204.
  t.ro = 0.001;
  CHECK(*study::break_even_ci(t) == doctest::Approx(204.0));
  CHECK(study::savings_percent(t, 0) == doctest::Approx(100 * (1 - (0.02 + 0.012) / 0.1)));
  // Equal energy: no crossing.
  t.po = 2200.0 / 12;
  CHECK(!study::break_even_ci(t));
  // Less energy and less embodied carbon: the break-even CI is negative (savings at every CI).
  t.po = 100;
  REQUIRE(study::break_even_ci(t));
  CHECK(*study::break_even_ci(t) < 0);
  CHECK(study::savings_percent(t, 800) > 0);
}

TEST_CASE("theory: terms derived from the experiment's perf, power and embodied models") {
  test::TempDir dir;
  const auto derive = [&](const std::string& extra, std::int32_t batch) {
    const std::string file = dir.write("x.yaml", experiment_yaml(extra, kModes));
    const experiment::Experiment x = experiment::load_experiment(file, test::catalog(), {});
    study::TheoryOptions o;
    o.decode_batch = batch;
    return study::derive_theory(x, test::catalog(), o);
  };
  const study::Theory sunk = derive(", gpu_embodied: sunk", 8);
  CHECK(sunk.setup.prompt_tokens == 500);
  CHECK(sunk.setup.output_tokens == 21);
  CHECK(sunk.setup.requests_read == 5);
  CHECK(sunk.setup.requests_used == 5);
  CHECK(sunk.setup.max_tokens == 4096);  // Llama-2-7B's context; both GPUs' KV caches hold more
  CHECK(sunk.setup.new_gpu == "a100-pcie-80gb");
  CHECK(sunk.setup.old_gpu == "v100-pcie-32gb");
  CHECK(sunk.terms.ro == 0);
  CHECK(sunk.terms.pue == 1.2);
  // The new GPUs amortised over the default 4 years, by EcoServe's card model.
  const auto& cat = test::catalog();
  const double a100_kg = energy::ecoserve_gpu_card(cat.gpu("a100-pcie-80gb"), cat).total;
  CHECK(sunk.terms.rn == doctest::Approx(a100_kg * 1000 / (4 * 8760 * 3600.0)));
  // The old decode: 20 iterations of 8 sequences from a context of 8 x 501, per request.
  const experiment::PerfContext ctx{cat, cat.gpu("v100-pcie-32gb"), cat.model("llama-2-7b"), "llama-2-7b", 1};
  const std::string file = dir.write("y.yaml", experiment_yaml("", kModes));
  const experiment::Experiment x = experiment::load_experiment(file, cat, {});
  const auto pm = experiment::perf_models().create(experiment::perf_kind_for(x.deployments[1], "v100-pcie-32gb"),
                                                   x.deployments[1].perf_params, ctx);
  CHECK(sunk.terms.to == doctest::Approx(pm->decode_cost(8).run_seconds(8 * 501, 20) / 8).epsilon(1e-12));
  CHECK(sunk.terms.tn > sunk.terms.tn_prefill);
  CHECK(sunk.terms.tn_prefill > 0);
  // Powers lie between the GPUs' idle and their phase power (step overhead runs at idle).
  const auto& a100 = cat.gpu("a100-pcie-80gb");
  CHECK(sunk.terms.pn_prefill > a100.power.idle_w);
  CHECK(sunk.terms.pn_prefill <= doctest::Approx(a100.power.prefill_w));  // to rounding: all prefill
  CHECK(sunk.terms.po > cat.gpu("v100-pcie-32gb").power.idle_w);
  // Amortised over a residual life of 2 years instead: the old rate appears and the break-even CI drops.
  const study::Theory amortised = derive(", residual_life: 2y", 8);
  const double v100_kg = energy::ecoserve_gpu_card(cat.gpu("v100-pcie-32gb"), cat).total;
  CHECK(amortised.terms.ro == doctest::Approx(v100_kg * 1000 / (2 * 8760 * 3600.0)));
  CHECK(amortised.terms.to == sunk.terms.to);
  CHECK(study::savings_percent(amortised.terms, 0) < study::savings_percent(sunk.terms, 0));
  // A larger decode batch shortens each request's share of the decode.
  CHECK(derive(", gpu_embodied: sunk", 32).terms.to < sunk.terms.to);
  // The lifetime table's rate follows the new GPUs' lifetime.
  CHECK(study::new_gpu_rate(sunk.setup, 4) == doctest::Approx(sunk.terms.rn));
  CHECK(study::new_gpu_rate(sunk.setup, 3) > study::new_gpu_rate(sunk.setup, 7));
}

TEST_CASE("theory: an experiment without a disaggregated deployment is bad input naming file:line and key") {
  test::TempDir dir;
  const std::string file = dir.write("x.yaml", experiment_yaml("", ""));
  const experiment::Experiment x = experiment::load_experiment(file, test::catalog(), {});
  try {
    study::derive_theory(x, test::catalog(), {});
    FAIL("expected an InputError");
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(file + ":6:3: deployments") != std::string::npos);  // the value, as the loader names keys
    CHECK(msg.find("modes.disaggregated.decode") != std::string::npos);
  }
}

TEST_CASE("theory: a deployment on a host-bound engine is refused, naming its key, not priced without its floor") {
  test::TempDir dir;
  for (const std::string& scheduler : {std::string("scheduler: {host_time_per_layer: 1ms}"),
                                       std::string("scheduler: {preset: fastchat-hf-2023}")}) {
    CAPTURE(scheduler);
    std::string yaml = experiment_yaml("", kModes);
    const std::string old = "{name: old, model: llama-2-7b}";
    yaml.replace(yaml.find(old), old.size(), "{name: old, model: llama-2-7b, " + scheduler + "}");
    const std::string file = dir.write("x.yaml", yaml);
    const experiment::Experiment x = experiment::load_experiment(file, test::catalog(), {});
    try {
      study::derive_theory(x, test::catalog(), {});
      FAIL("expected an InputError");
    } catch (const core::InputError& e) {
      const std::string msg = e.what();
      CHECK(msg.find(file + ":") != std::string::npos);
      CHECK(msg.find("host_time_per_layer") != std::string::npos);
      CHECK(msg.find("'old'") != std::string::npos);
    }
  }
}
