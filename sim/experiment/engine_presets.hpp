#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace greenfleet::experiment {

// `deployments[].scheduler.preset`: the scheduler defaults of a serving engine, declared once here; the loader
// reads its defaults from this table, `greenfleet list presets` prints it, and the preset table of
// docs/EXPERIMENTS.md is generated from it (`greenfleet list --markdown`). Keys set explicitly override a preset.
struct EnginePreset {
  std::string_view name;
  bool chunked_prefill = true;
  std::int32_t max_num_seqs = 256;
  std::int32_t max_batched_tokens = 2048;
  // Without chunked prefill the step budget defaults to max(the model's context, 2048) instead (vLLM's
  // SchedulerConfig rule, so a prompt of any admissible length fits one step).
  bool context_budget_unchunked = false;
  // Without chunked prefill waiting prompts run in prefill-only steps ahead of the decodes (vLLM v0).
  bool separate_prefill_unchunked = false;
  // The 2023 engine: a host-time floor on every step and the GPU priced on its 2023 power line
  // (docs/MODELS.md, "Old GPUs").
  bool host_bound_2023 = false;
  std::string_view source;

  // The defaults once chunked_prefill is known (set explicitly or by the preset).
  std::int32_t budget(bool chunked, std::int32_t model_context) const {
    if (!chunked && context_budget_unchunked) return model_context > 2048 ? model_context : 2048;
    return max_batched_tokens;
  }
  bool separate_prefill(bool chunked) const { return !chunked && separate_prefill_unchunked; }
};

// Every preset, the default (`greenfleet`) first.
std::span<const EnginePreset> engine_presets();
// The preset named `name`; throws std::out_of_range when there is none (the loader validates names first).
const EnginePreset& engine_preset(std::string_view name);
// The table for `greenfleet list presets` (plain text) or docs/EXPERIMENTS.md (markdown).
std::string engine_presets_text();
std::string engine_presets_markdown();

}  // namespace greenfleet::experiment
