#include <doctest/doctest.h>

#include <string>

#include "sim/core/error.hpp"
#include "sim/experiment/engine_presets.hpp"
#include "sim/experiment/experiment.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {
experiment::DeploymentConfig load(const std::string& scheduler) {
  const std::string yaml =
      "name: presets\nsites: [{name: s, pue: 1.1, carbon_intensity: 100}]\n"
      "deployments:\n  - name: d\n    model: llama-2-7b\n    scheduler: " +
      scheduler +
      "\nfleet: [{site: s, sku: hgx-h100x8, count: 1}]\n"
      "workload: {source: synthetic, synthetic: {requests: 10, rate: 1, "
      "prompt_tokens: {distribution: constant, value: 100}, "
      "output_tokens: {distribution: constant, value: 10}}}\n";
  test::TempDir dir;
  return experiment::load_experiment(dir.write("x.yaml", yaml), test::catalog(), {}).deployments.at(0);
}
}  // namespace

TEST_CASE("engine presets set scheduler defaults from the engine's source, explicit keys override") {
  const auto plain = load("{}");
  CHECK(plain.scheduler.chunked_prefill);
  CHECK(plain.scheduler.max_batched_tokens == 2048);
  CHECK(plain.scheduler.max_num_seqs == 256);
  // vLLM v0: no chunked prefill, so the budget is max(max_model_len, 2048): Llama-2-7B's 4,096 tokens.
  const auto v0 = load("{preset: vllm-v0}");
  CHECK_FALSE(v0.scheduler.chunked_prefill);
  CHECK(v0.scheduler.max_batched_tokens == 4096);
  CHECK(v0.scheduler.max_num_seqs == 256);
  const auto v0_chunked = load("{preset: vllm-v0, chunked_prefill: true}");
  CHECK(v0_chunked.scheduler.max_batched_tokens == 2048);
  const auto v0_budget = load("{preset: vllm-v0, max_batched_tokens: 8192}");
  CHECK(v0_budget.scheduler.max_batched_tokens == 8192);
  const auto v1 = load("{preset: vllm-v1}");
  CHECK(v1.scheduler.chunked_prefill);
  CHECK(v1.scheduler.max_batched_tokens == 2048);
  const auto v1_whole = load("{preset: vllm-v1, chunked_prefill: false}");
  CHECK(v1_whole.scheduler.max_batched_tokens == 4096);
  CHECK_THROWS_AS(load("{preset: trt}"), core::InputError);
}

TEST_CASE("engine presets: every declared preset loads with the defaults its declaration states") {
  // The declaration drives the loader, `greenfleet list presets` and the docs' table. This checks the wiring (a
  // preset missing from the loader's choices, or a default the loader reads from elsewhere), not the values,
  // which come from the same table: the cases above and test_engine_2023.cpp check those as literals. (The 2023
  // preset needs a GPU with a fitted host time, which the H100 lacks: its floor is checked in
  // test_engine_2023.cpp.)
  const auto presets = experiment::engine_presets();
  REQUIRE(presets.size() >= 6);
  CHECK(presets.front().name == "greenfleet");
  const std::string table = experiment::engine_presets_text() + experiment::engine_presets_markdown();
  for (const auto& p : presets) {
    CAPTURE(p.name);
    CHECK(table.find(std::string(p.name)) != std::string::npos);
    const auto d = load("{preset: " + std::string(p.name) + "}");
    CHECK(d.scheduler.chunked_prefill == p.chunked_prefill);
    CHECK(d.scheduler.max_num_seqs == p.max_num_seqs);
    CHECK(d.scheduler.max_batched_tokens == p.budget(p.chunked_prefill, 4096));  // Llama-2-7B's context
    CHECK((d.scheduler.prefill_steps == serving::PrefillSteps::kSeparate) ==
          p.separate_prefill(p.chunked_prefill));
    CHECK(d.engine_2023 == p.host_bound_2023);
  }
  CHECK_THROWS_AS(experiment::engine_preset("vllm"), std::out_of_range);
}

TEST_CASE("engine presets: vllm-v0 runs prompts in prefill-only steps; the others mix them with decodes") {
  using serving::PrefillSteps;
  CHECK(load("{}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{chunked_prefill: false}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{preset: vllm-v0}").scheduler.prefill_steps == PrefillSteps::kSeparate);
  // vLLM v0 with chunked prefill schedules prompt chunks beside the decodes (`_schedule_chunked_prefill`).
  CHECK(load("{preset: vllm-v0, chunked_prefill: true}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{preset: vllm-v0, prefill_steps: mixed}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{preset: vllm-v1, chunked_prefill: false}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{preset: tensorrt-llm}").scheduler.prefill_steps == PrefillSteps::kMixed);
  CHECK(load("{chunked_prefill: false, prefill_steps: separate}").scheduler.prefill_steps ==
        PrefillSteps::kSeparate);
  // Separate steps need whole prompts; an unknown mode is refused with the known ones.
  CHECK_THROWS_WITH_AS(load("{prefill_steps: separate}"), doctest::Contains("prefill_steps"), core::InputError);
  CHECK_THROWS_WITH_AS(load("{preset: vllm-v0, chunked_prefill: true, prefill_steps: separate}"),
                       doctest::Contains("chunked_prefill: false"), core::InputError);
  CHECK_THROWS_AS(load("{chunked_prefill: false, prefill_steps: alone}"), core::InputError);
}

TEST_CASE("engine presets: sarathi chunks prompts to a 512-token budget, tensorrt-llm runs whole prompts") {
  const auto sarathi = load("{preset: sarathi}");
  CHECK(sarathi.scheduler.chunked_prefill);
  CHECK(sarathi.scheduler.max_batched_tokens == 512);
  CHECK(sarathi.scheduler.max_num_seqs == 256);
  CHECK(load("{preset: sarathi, max_batched_tokens: 2048}").scheduler.max_batched_tokens == 2048);
  const auto trt = load("{preset: tensorrt-llm}");
  CHECK_FALSE(trt.scheduler.chunked_prefill);
  CHECK(trt.scheduler.max_batched_tokens == 8192);
  CHECK(trt.scheduler.max_num_seqs == 2048);
  const auto trt_chunked = load("{preset: tensorrt-llm, chunked_prefill: true, max_num_seqs: 64}");
  CHECK(trt_chunked.scheduler.chunked_prefill);
  CHECK(trt_chunked.scheduler.max_batched_tokens == 8192);
  CHECK(trt_chunked.scheduler.max_num_seqs == 64);
}
