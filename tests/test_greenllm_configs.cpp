// The GreenLLM reproduction's configurations (experiments/paper/greenllm/): each loads with every override
// docs/reproduce_greenllm.py applies, is wired as the reproduction needs (split decodes on a sunk old server that
// starts off), and splits requests in a short run. Needs the public traces (skips without them).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

const char* const kConfigs[] = {"chatbot_v100", "chatbot_t4",         "code_v100",
                                "code_t4",      "summarisation_v100", "summarisation_t4"};

std::string config_path(const std::string& stem) {
  return std::string(GREENFLEET_SOURCE_DIR) + "/experiments/paper/greenllm/" + stem + ".yaml";
}

}  // namespace

TEST_CASE("GreenLLM reproduction configs load with the script's overrides") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) return test::skip("no ../shared/data (the Azure 2023 and Mooncake traces)");
  // The knobs of docs/reproduce_greenllm.py: scope, CI, lifetime, mode, old-GPU scales and amortisation.
  const std::vector<std::vector<std::string>> variants = {
      {},
      {"carbon.gpu_method=act", "sites.0.pue=1", "sites.0.carbon_intensity=0", "fleet.0.gpu_lifetime=3y",
       "mode_router.name=always_disaggregated"},
      {"sites.0.carbon_intensity=800", "fleet.0.gpu_lifetime=7y", "mode_router.name=unified",
       "deployments.1.perf_model.step_time_scale=1.3", "fleet.1.gpu_power_scale=0.7"},
      {"fleet.1.gpu_embodied=amortised", "fleet.1.residual_life=3y", "mode_router.name=greenllm"},
  };
  for (const char* stem : kConfigs) {
    CAPTURE(stem);
    for (const auto& overrides : variants) {
      experiment::LoadOptions o;
      o.data_dir = data;
      o.overrides = overrides;
      const experiment::Experiment x = experiment::load_experiment(config_path(stem), test::catalog(), o);
      REQUIRE(x.deployments.size() == 2);
      CHECK(x.deployments[0].disaggregated_decode == "old");
      CHECK(x.deployments[0].model == x.deployments[1].model);
      REQUIRE(x.fleet.size() == 2);
      CHECK(x.fleet[0].deployment == "new");
      CHECK(x.fleet[1].deployment == "old");
      CHECK_FALSE(x.fleet[1].powered);
      CHECK(x.fleet[1].power_policy == "off_when_idle");
      CHECK(x.network.has_value());
      // The model and its KV fit the old GPU (the reason for the model chosen per old GPU).
      const auto& gpu = test::catalog().gpu(test::catalog().server(x.fleet[1].sku).gpu);
      const auto& model = test::catalog().model(x.deployments[1].model);
      CHECK(experiment::kv_cache_bytes(x.deployments[1], gpu, model) > 4e9);
    }
  }
}

TEST_CASE("GreenLLM reproduction configs split requests onto the old GPUs") {
  const std::string data = test::shared_data_dir();
  if (data.empty()) return test::skip("no ../shared/data (the Azure 2023 and Mooncake traces)");
  for (const char* stem : kConfigs) {
    CAPTURE(stem);
    experiment::LoadOptions o;
    o.data_dir = data;
    o.overrides = {"workload.max_requests=30", "mode_router.name=always_disaggregated"};
    const experiment::Experiment x = experiment::load_experiment(config_path(stem), test::catalog(), o);
    runner::Simulation sim(x, test::catalog());
    sim.run();
    CHECK(sim.arrived() == 30);
    CHECK(sim.split_requests() + sim.too_long_to_split() == 30);
    CHECK(sim.split_requests() > 0);
  }
}

TEST_CASE("the reproduction's model shapes give their published parameter counts and KV sizes") {
  const auto& c = test::catalog();
  // Hugging Face model pages: Llama-3.2-3B 3.21B, Llama-3.2-1B 1.24B parameters (tied embeddings counted once).
  CHECK(c.model("llama-3.2-3b").parameters() / 1e9 == doctest::Approx(3.21).epsilon(0.01));
  CHECK(c.model("llama-3.2-1b").parameters() / 1e9 == doctest::Approx(1.24).epsilon(0.01));
  // 2 x layers x kv_heads x head_dim x 2 bytes: 28 x 8 x 128 -> 112 KiB; 16 x 8 x 64 -> 32 KiB.
  CHECK(c.model("llama-3.2-3b").kv_bytes_per_token() == 112 * 1024);
  CHECK(c.model("llama-3.2-1b").kv_bytes_per_token() == 32 * 1024);
}
