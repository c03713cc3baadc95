#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::serving {

enum class RequestStatus : std::uint8_t { kCompleted = 0, kUnfinished = 1, kRejected = 2 };

// A request in flight. Lives in a RequestPool slot from arrival until it is reported, so memory follows the
// number of requests in flight, not the length of the trace.
struct RequestState {
  workload::RequestSpec spec;
  std::int32_t instance = -1;
  std::int32_t prefilled = 0;   // prompt tokens whose KV is computed
  std::int32_t generated = 0;   // output tokens produced (the first comes with the end of prefill)
  std::int32_t kv_blocks = 0;   // blocks reserved on its instance
  std::int32_t preemptions = 0;
  core::SimTime first_scheduled = -1;
  core::SimTime first_token = -1;
  core::SimTime completion = -1;
  RequestStatus status = RequestStatus::kUnfinished;

  bool prefill_done() const { return prefilled >= spec.prompt_tokens; }
  std::int32_t remaining_output() const { return spec.output_tokens - generated; }
};

// Slots recycled through a free list: no allocation per request once the pool has grown to the peak in flight.
class RequestPool {
 public:
  std::uint32_t acquire(const workload::RequestSpec& spec) {
    std::uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      slots_[slot] = RequestState{};
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    slots_[slot].spec = spec;
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
