#pragma once
#include <cstdint>

namespace greenfleet::serving {

enum class KvAllocation { kOnDemand, kReserve };
enum class PreemptionMode { kRecompute, kSwap };
// Without chunked prefill, how prompts share steps with decodes. kMixed (ours): a whole prompt joins the running
// decodes' step when it fits the budget they leave. kSeparate (vLLM v0's default scheduler, `_schedule_default`):
// when the head of the queues is a prompt that can be admitted, the step admits prompts alone and the running
// decodes sit it out.
enum class PrefillSteps { kMixed, kSeparate };

// An instance's scheduler settings (the deployment's `scheduler:` and `engine:` keys, docs/EXPERIMENTS.md).
struct SchedulerConfig {
  std::int32_t max_num_seqs = 256;
  std::int32_t max_batched_tokens = 2048;  // token budget per step
  bool chunked_prefill = true;
  PrefillSteps prefill_steps = PrefillSteps::kMixed;  // read only with chunked_prefill off
  std::int32_t kv_block_size = 16;
  // on_demand (vLLM): blocks for the prefill at admission, one more whenever a sequence crosses a block
  // boundary, preempting the newest request when the cache is full. reserve: prompt + output blocks at
  // admission, never preempts.
  KvAllocation kv_allocation = KvAllocation::kOnDemand;
  PreemptionMode preemption = PreemptionMode::kRecompute;
  double swap_bandwidth_gbps = 25;  // GB/s host<->device for swap preemption (PCIe Gen4 x16, achieved)
  double swap_space_gb = 4;         // host memory for swapped KV per instance device (vLLM's default 4 GiB)
  double kv_bytes_per_token = 0;    // set from the model when the instance is built
  bool fast_forward = true;
  bool check_invariants = false;  // verify block and token accounting at every step (tests, debugging)
};

}  // namespace greenfleet::serving
