#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::serving {

enum class RequestStatus : std::uint8_t { kCompleted = 0, kUnfinished = 1, kRejected = 2 };

// How a request is served (chosen per request by the mode router): whole on one instance; split with its
// prefill on one instance and its decode on another, the KV crossing the network between them; or speculative,
// the target model's instance verifying tokens that a draft model on another instance proposes (Speculation).
enum class RequestMode : std::uint8_t { kUnified = 0, kDisaggregated = 1, kSpeculative = 2 };
inline const char* to_string(RequestMode m) {
  return m == RequestMode::kUnified         ? "unified"
         : m == RequestMode::kDisaggregated ? "disaggregated"
                                            : "speculative";
}

// A request in flight: its progress, wherever it runs. Lives in a RequestPool slot from arrival until it is
// reported, so memory follows the number of requests in flight, not the length of the trace, and an instance can
// hand it on to another. Observers keep their own per-request data in side tables indexed by the slot.
// A field added here must be reset in RequestPool::acquire too (the size check below is the reminder).
// Field order matters: the scheduler touches the first cache line (progress counters, then the spec's lengths)
// for every request in every step.
struct alignas(64) RequestState {
  std::int32_t prefilled = 0;       // tokens of the current prefill whose KV is computed
  std::int32_t prefill_target = 0;  // tokens the current prefill covers: the prompt, or prompt + output so far
                                    // when a preempted request recomputes its KV
  std::int32_t generated = 0;       // output tokens produced (the first comes with the end of prefill)
  std::int32_t kv_blocks = 0;       // blocks reserved on its instance
  workload::RequestSpec spec;
  std::int32_t instance = -1;
  std::int32_t preemptions = 0;
  bool swapped = false;     // KV lives in host memory after a swap preemption
  bool decoding = false;    // between on_decode_begin and on_decode_end (set by its instance)
  bool kv_inbound = false;  // handed over by another instance: its KV arrives with it (Instance::accept)
  core::SimTime first_scheduled = -1;
  core::SimTime first_token = -1;
  core::SimTime completion = -1;
  RequestStatus status = RequestStatus::kUnfinished;
  // Split requests (read once per hand-off, so kept past the first two cache lines).
  RequestMode mode = RequestMode::kUnified;
  bool leave_after_prefill = false;  // its instance hands it on once its first token is out
  bool awaiting_kv = false;          // admitted by its decode instance, its KV still in transit
  std::int32_t prefill_instance = -1;
  std::int32_t decode_instance = -1;                   // where it decodes, or drafts when speculative
  std::int32_t draft_blocks = 0;                       // speculative: blocks its draft instance holds for it
  std::int32_t verify_rounds = 0;                      // speculative: draft-and-verify rounds done
  std::int32_t draft_prefilled = 0;                    // speculative: prompt tokens whose draft KV exists
  std::int32_t held_blocks = 0;                        // blocks its prefill instance holds until the KV has left
  core::SimTime kv_reserved = -1;                      // decode blocks reserved: the transfer starts
  core::SimTime kv_arrived = -1;                       // the transfer ended: it may decode
  float predicted_ttft_s = -1, predicted_tpot_s = -1;  // the mode router's, for its chosen mode (-1: none)

  bool prefill_done() const { return prefilled >= prefill_target; }
  // Tokens whose KV exists (or must be restored): the last generated token's KV is written by the next step.
  std::int32_t kv_tokens() const { return prefill_done() ? spec.prompt_tokens + generated - 1 : prefilled; }
  // Context a decode step of this request attends to (the new token included).
  std::int64_t decode_context() const { return static_cast<std::int64_t>(spec.prompt_tokens) + generated; }
  std::int32_t remaining_output() const { return spec.output_tokens - generated; }
};

static_assert(sizeof(RequestState) == 192, "RequestState changed: update the reset in RequestPool::acquire");

// Slots recycled through a free list: no allocation per request once the pool has grown to the peak in flight.
class RequestPool {
 public:
  std::uint32_t acquire(const workload::RequestSpec& spec) {
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      // Reset everything but the spec (assigned below, so the prefix-hash vector keeps its capacity).
      RequestState& r = slots_[slot];
      r.prefilled = r.generated = r.kv_blocks = 0;
      r.instance = -1;
      r.preemptions = 0;
      r.swapped = r.decoding = r.kv_inbound = false;
      r.first_scheduled = r.first_token = r.completion = -1;
      r.status = RequestStatus::kUnfinished;
      r.mode = RequestMode::kUnified;
      r.leave_after_prefill = r.awaiting_kv = false;
      r.prefill_instance = r.decode_instance = -1;
      r.held_blocks = r.draft_blocks = r.verify_rounds = r.draft_prefilled = 0;
      r.kv_reserved = r.kv_arrived = -1;
      r.predicted_ttft_s = r.predicted_tpot_s = -1;
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[slot].spec = spec;
    slots_[slot].prefill_target = spec.prompt_tokens;
    ++live_;
    return slot;
  }
  void release(std::uint32_t slot) {
    free_.push_back(slot);
    --live_;
  }
  RequestState& operator[](std::uint32_t slot) { return slots_[slot]; }
  const RequestState& operator[](std::uint32_t slot) const { return slots_[slot]; }
  std::size_t live() const { return live_; }
  std::size_t capacity() const { return slots_.size(); }

 private:
  std::vector<RequestState> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t live_ = 0;
};

}  // namespace greenfleet::serving
