#include "sim/experiment/engine_presets.hpp"

#include <fmt/format.h>

#include <array>
#include <stdexcept>

namespace greenfleet::experiment {

namespace {

// Sources: each engine's own defaults, as cited; `greenfleet` is ours.
constexpr std::array<EnginePreset, 6> kPresets{{
    {.name = "greenfleet", .source = "ours (the defaults of the scheduler keys above)"},
    {.name = "vllm-v0",
     .chunked_prefill = false,
     .context_budget_unchunked = true,
     .separate_prefill_unchunked = true,
     .source = "vLLM `SchedulerConfig` (`max_num_batched_tokens = max(max_model_len, 2048)` without chunked "
               "prefill), `EngineArgs` (`max_num_seqs` 256) and `vllm/core/scheduler.py`, "
               "`Scheduler._schedule_default` (prefills first; no decode in a step that schedules prefills)"},
    {.name = "vllm-v1",
     .context_budget_unchunked = true,
     .source = "vLLM `EngineArgs.get_batch_defaults` for the OpenAI API server on GPUs under 70 GB and the A100; "
               "on larger GPUs (H100, H200, MI300X) vLLM uses 8192 and 1024: set them explicitly"},
    {.name = "sarathi",
     .max_batched_tokens = 512,
     .source = "Sarathi-Serve (Agrawal et al., \"Taming Throughput-Latency Tradeoff in LLM Inference with "
               "Sarathi-Serve\", OSDI 2024): chunked prefills with stall-free batching under a token budget, 512 "
               "in its strict-latency configurations and 2048 in its relaxed ones (evaluation section); the "
               "sequence cap is vLLM's, which Sarathi-Serve builds on"},
    {.name = "tensorrt-llm",
     .chunked_prefill = false,
     .max_num_seqs = 2048,
     .max_batched_tokens = 8192,
     .source = "TensorRT-LLM's `trtllm-build` defaults (`--max_batch_size` 2048, `--max_num_tokens` 8192; "
               "https://nvidia.github.io/TensorRT-LLM/commands/trtllm-build.html) with chunked context off, its "
               "default; a prompt longer than the budget, which TensorRT-LLM rejects, runs whole in a step of its "
               "own here"},
    {.name = "fastchat-hf-2023",
     .chunked_prefill = false,
     .max_num_seqs = 1,
     .context_budget_unchunked = true,
     .host_bound_2023 = true,
     .source = "ML.ENERGY's 2023 leaderboard benchmark (ml-energy/leaderboard, `benchmark.py`, later "
               "`scripts/benchmark.py`): the model loaded by FastChat's `load_model` as a Hugging Face "
               "Transformers model (eager PyTorch) on one GPU, one prompt at a time (batch 1, the script's "
               "default), generated token by token with the KV cache. Also sets `host_time_per_layer` (the GPU's "
               "fitted value) and prices the GPU's decode power with its 2023 power line read at each step's "
               "weight-bandwidth utilisation (docs/MODELS.md, \"Old GPUs\"); on GPUs without that fit (all but "
               "the A100 80 GB, A40 and V100 PCIe) set `host_time_per_layer`, and the power line is still needed"},
}};

std::string budget_text(const EnginePreset& p) {
  return p.chunked_prefill || !p.context_budget_unchunked ? fmt::format("{}", p.max_batched_tokens)
                                                          : "max(model context, 2048)";
}

}  // namespace

std::span<const EnginePreset> engine_presets() { return kPresets; }

const EnginePreset& engine_preset(std::string_view name) {
  for (const EnginePreset& p : kPresets)
    if (p.name == name) return p;
  throw std::out_of_range(fmt::format("no engine preset '{}'", name));
}

std::string engine_presets_text() {
  std::string out = fmt::format("{:<18} {:<8} {:<26} {:>12} {:<9} {}\n", "preset", "chunked", "max_batched_tokens",
                                "max_num_seqs", "prefill", "host-bound (2023)");
  for (const EnginePreset& p : kPresets)
    out += fmt::format("{:<18} {:<8} {:<26} {:>12} {:<9} {}\n", p.name, p.chunked_prefill, budget_text(p),
                       p.max_num_seqs, p.separate_prefill(p.chunked_prefill) ? "separate" : "mixed",
                       p.host_bound_2023 ? "yes" : "no");
  return out;
}

std::string engine_presets_markdown() {
  std::string out =
      "| preset | chunked_prefill | max_batched_tokens | max_num_seqs | prefill_steps | source |\n"
      "|---|---|---|---|---|---|\n";
  for (const EnginePreset& p : kPresets)
    out += fmt::format("| `{}`{} | `{}` | {} | {} | `{}` | {} |\n", p.name, &p == &kPresets[0] ? " (default)" : "",
                       p.chunked_prefill, budget_text(p), p.max_num_seqs,
                       p.separate_prefill(p.chunked_prefill) ? "separate" : "mixed", p.source);
  return out;
}

}  // namespace greenfleet::experiment
