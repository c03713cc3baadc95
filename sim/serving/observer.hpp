#pragma once
#include <cstdint>
#include <span>

#include "sim/core/time.hpp"
#include "sim/perf/batch_shape.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::serving {

class Instance;

// One request's part in a step: prefill tokens of its chunk, or (decode) one token per iteration.
struct BatchEntry {
  std::uint32_t slot;
  std::int32_t prefill_chunk;    // 0 for a decode entry
  std::int32_t blocks_before;    // decode entries: KV blocks held before the step
  std::int32_t kv_tokens_before;
};

// A finished step (or a fast-forwarded run of `iterations` decode steps of one batch; `shape` is the first
// iteration's) over [start, end).
struct StepRecord {
  core::SimTime start = 0, end = 0;
  const perf::BatchShape* shape = nullptr;
  std::int64_t iterations = 1;
  double busy_seconds = 0;   // device-busy part of [start, end) (the rest is overhead or transfers)
  double prefill_share = 0;  // share of the busy work that is prefill
  std::span<const BatchEntry> entries;

  std::int64_t tokens(const BatchEntry& e) const { return e.prefill_chunk > 0 ? e.prefill_chunk : iterations; }
};

// Accounting attaches here (metrics, energy meters, carbon ledger, output writers); the serving code never
// writes results itself.
class ServingObserver {
 public:
  virtual ~ServingObserver() = default;
  virtual void on_step(const Instance& /*instance*/, const StepRecord& /*step*/) {}
  // The request is done (completed, rejected, or unfinished at the end of the run) and about to be released.
  virtual void on_request_done(const RequestState& /*request*/) {}
};

}  // namespace greenfleet::serving
