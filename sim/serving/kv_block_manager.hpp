#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>

#include "sim/serving/observer.hpp"
#include "sim/serving/request_state.hpp"
#include "sim/serving/scheduler_config.hpp"

namespace greenfleet::serving {

// An instance's paged KV cache: the free block count, how many blocks a request or a run needs, and where a
// preempted request's KV goes (host memory when swapping and there is room, else dropped for recompute). Blocks
// are counted here; each request's own count lives in its RequestState.
class KvBlockManager {
 public:
  KvBlockManager(const SchedulerConfig& config, std::int64_t blocks, std::int32_t devices)
      : block_size_(config.kv_block_size),
        on_demand_(config.kv_allocation == KvAllocation::kOnDemand),
        swap_(config.preemption == PreemptionMode::kSwap),
        kv_bytes_per_token_(config.kv_bytes_per_token),
        swap_capacity_bytes_(config.swap_space_gb * 1e9 * devices),
        swap_bytes_per_s_(config.swap_bandwidth_gbps * 1e9),
        total_(blocks),
        free_(blocks) {
    if (block_size_ > 0 && (block_size_ & (block_size_ - 1)) == 0)
      block_shift_ = std::countr_zero(static_cast<unsigned>(block_size_));
  }

  std::int64_t blocks_for(std::int64_t tokens) const {
    // Block sizes are powers of two in practice (vLLM: 16); a shift keeps a division off the per-step path.
    if (block_shift_ >= 0) return (tokens + block_size_ - 1) >> block_shift_;
    return (tokens + block_size_ - 1) / block_size_;
  }
  std::int32_t block_size() const { return block_size_; }
  bool on_demand() const { return on_demand_; }
  std::int64_t total() const { return total_; }
  std::int64_t free() const { return free_; }
  void take(std::int64_t blocks) { free_ -= blocks; }
  void give(std::int64_t blocks) { free_ += blocks; }
  void set_free(std::int64_t blocks) { free_ = blocks; }
  // Tokens a decode step writes per sequence (Instance::set_tokens_per_step).
  void set_step_tokens(std::int32_t tokens) { step_tokens_ = tokens; }

  // Blocks a waiting request needs to be admitted: with reserve allocation its whole context; a request whose KV
  // exists elsewhere (swapped out, or handed over by another instance) its KV plus its next step's tokens;
  // otherwise its prefill.
  std::int64_t admission_blocks(const RequestState& r, bool reserve) const {
    if (reserve) return blocks_for(static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens);
    if (r.swapped || r.kv_inbound) return blocks_for(static_cast<std::int64_t>(r.kv_tokens()) + step_tokens_);
    return blocks_for(r.prefill_target);
  }
  // Blocks a decode entry holds once its run has written `tokens` more tokens' KV (on-demand allocation).
  std::int32_t run_blocks(const BatchEntry& e, std::int64_t tokens) const {
    return static_cast<std::int32_t>(
        std::max<std::int64_t>(e.blocks_before, blocks_for(e.kv_tokens_before + tokens)));
  }
  double kv_bytes(const RequestState& r) const { return r.kv_tokens() * kv_bytes_per_token_; }

  // A preempted request's KV: moved to host memory when swapping and it fits (returns the transfer seconds,
  // and marks it swapped), else dropped (returns a negative number; the caller arranges the recompute).
  double evict(RequestState& r) {
    free_ += r.kv_blocks;
    r.kv_blocks = 0;
    const double bytes = kv_bytes(r);
    if (!swap_ || !r.prefill_done() || swap_used_bytes_ + bytes > swap_capacity_bytes_) return -1;
    r.swapped = true;
    swap_used_bytes_ += bytes;
    return bytes / swap_bytes_per_s_;
  }
  // A swapped request comes back: the transfer seconds.
  double swap_in(RequestState& r) {
    const double bytes = kv_bytes(r);
    swap_used_bytes_ -= bytes;
    r.swapped = false;
    return bytes / swap_bytes_per_s_;
  }
  // A request leaves (done, or handed on): its blocks and any host memory it held.
  void release(RequestState& r) {
    if (r.swapped) swap_used_bytes_ -= kv_bytes(r);
    free_ += r.kv_blocks;
    r.kv_blocks = 0;
  }

 private:
  std::int32_t block_size_;
  std::int32_t step_tokens_ = 1;
  int block_shift_ = -1;
  bool on_demand_;
  bool swap_;
  double kv_bytes_per_token_;
  double swap_capacity_bytes_;
  double swap_bytes_per_s_;
  double swap_used_bytes_ = 0;
  std::int64_t total_;
  std::int64_t free_;
};

}  // namespace greenfleet::serving
