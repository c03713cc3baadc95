#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/ring_queue.hpp"
#include "sim/serving/kv_block_manager.hpp"
#include "sim/serving/request_state.hpp"
#include "sim/serving/scheduler_config.hpp"

namespace greenfleet::serving {

// Which requests an instance runs next (vLLM / Sarathi style): two FCFS waiting queues, online requests always
// admitted before offline ones; whether the head of the queues can join the step being formed (sequence limit,
// token budget, chunked prefill, KV blocks); how large a prefill chunk it gets; and whom to preempt.
class BatchPolicy {
 public:
  explicit BatchPolicy(const SchedulerConfig& config)
      : max_num_seqs_(config.max_num_seqs),
        max_batched_tokens_(config.max_batched_tokens),
        chunked_prefill_(config.chunked_prefill),
        separate_(!config.chunked_prefill && config.prefill_steps == PrefillSteps::kSeparate),
        reserve_(config.kv_allocation == KvAllocation::kReserve) {}

  std::int64_t token_budget() const { return max_batched_tokens_; }
  // Prefill-only steps (PrefillSteps::kSeparate, chunked prefill off): a step either admits prompts alone, the
  // running decodes sitting it out, or runs the decodes and admits only requests that join as decodes.
  bool separate_prefill_steps() const { return separate_; }
  // A waiting request whose KV exists (swapped out, or handed over by another instance) joins as a decode.
  static bool joins_as_decode(const RequestState& r) { return r.swapped || r.kv_inbound; }
  bool reserve() const { return reserve_; }

  void push_back(std::uint32_t slot, const RequestState& r) {
    waiting_[static_cast<int>(r.spec.cls)].push_back(slot);
  }
  // A preempted request goes back to the front of its queue.
  void push_front(std::uint32_t slot, const RequestState& r) {
    waiting_[static_cast<int>(r.spec.cls)].push_front(slot);
  }
  std::size_t queued() const { return waiting_[0].size() + waiting_[1].size(); }
  // The head of the waiting queues (the online front, else the offline front), or null; its class in *cls.
  const RequestState* front(const RequestPool& pool, int* cls = nullptr) const {
    for (int c = 0; c < 2; ++c) {
      if (waiting_[c].empty()) continue;
      if (cls) *cls = c;
      return &pool[waiting_[c].front()];
    }
    return nullptr;
  }
  std::uint32_t pop(int cls) {
    const std::uint32_t slot = waiting_[cls].front();
    waiting_[cls].pop_front();
    return slot;
  }

  // Whether `r`, at the head of the queues, joins a step that already holds `running` sequences, has `budget`
  // tokens left and `free_blocks` blocks free (and is empty so far: `batch_empty`).
  bool admissible(const RequestState& r, std::size_t running, const KvBlockManager& kv, std::int64_t free_blocks,
                  std::int64_t budget, bool batch_empty) const {
    if (running >= static_cast<std::size_t>(max_num_seqs_)) return false;
    if (budget <= 0 || kv.admission_blocks(r, reserve_) > free_blocks) return false;
    if (joins_as_decode(r)) return true;  // one token of budget
    return chunked_prefill_ || batch_empty || r.prefill_target - r.prefilled <= budget;
  }
  // The prefill chunk an admitted request gets from what is left of the budget.
  std::int32_t chunk(std::int64_t left, std::int64_t budget) const {
    return static_cast<std::int32_t>(chunked_prefill_ ? std::min(left, budget) : left);
  }
  // vLLM's choice of whom to preempt: the most recently admitted request, offline ones before any online one.
  std::size_t victim(const std::vector<std::uint32_t>& running, const RequestPool& pool) const {
    for (std::size_t i = running.size(); i-- > 0;)
      if (pool[running[i]].spec.cls == workload::RequestClass::kOffline) return i;
    return running.size() - 1;
  }

  // Every waiting slot, online first, each queue in order (for checks).
  template <class F>
  void for_each_waiting(F f) const {
    for (const auto& q : waiting_)
      for (std::size_t i = 0; i < q.size(); ++i) f(q[i]);
  }
  // Empties the queues, online first, each in order.
  template <class F>
  void drain(F f) {
    for (auto& q : waiting_) {
      while (!q.empty()) {
        f(q.front());
        q.pop_front();
      }
    }
  }

 private:
  std::int32_t max_num_seqs_;
  std::int64_t max_batched_tokens_;
  bool chunked_prefill_;
  bool separate_;
  bool reserve_;
  core::RingQueue<std::uint32_t> waiting_[2];  // [online, offline]
};

}  // namespace greenfleet::serving
