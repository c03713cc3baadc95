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
  std::int32_t prefill_chunk;  // 0 for a decode entry
  std::int32_t blocks_before;  // decode entries: KV blocks held before the step
  std::int32_t kv_tokens_before;
};

// A verifying request (a speculative one whose prefill is done) that took `fewer` tokens fewer than
// StepRecord::verify_tokens in a step: its last rounds, which draft fewer than gamma tokens.
struct VerifyShort {
  std::uint32_t slot;
  std::int32_t fewer;
};

// A finished step (or a fast-forwarded run of `iterations` decode steps of one batch; `shape` is the first
// iteration's) over [start, end).
struct StepRecord {
  core::SimTime start = 0, end = 0;
  const perf::BatchShape* shape = nullptr;
  std::int64_t iterations = 1;
  // Tokens each decode entry, and each request decoding on the instance, processes per iteration: 0 in a
  // prefill-only step (SchedulerConfig::prefill_steps), which the instance's decodes sit out.
  std::int32_t tokens_per_step = 1;
  double busy_seconds = 0;   // device-busy part of [start, end) (the rest is overhead or transfers)
  double prefill_share = 0;  // share of the busy work that is prefill
  std::span<const BatchEntry> entries;
  // Speculative decoding: tokens each request verifying on the target instance (between on_verify_begin and
  // on_verify_end) takes in this step, on the target (its verify chunk, gamma + 1) or on its draft instance (its
  // drafts, gamma); 0 when they sit the step out. They are not in `entries`: their charges accrue like decodes',
  // less `verify_short`'s tokens for those that took fewer.
  std::int32_t verify_tokens = 0;
  std::span<const VerifyShort> verify_short;
  // The instance is idle from `end` until `idle_until` (when later than `end`) and takes no step in between: a
  // draft instance waits for its target's step to end after drafting for it. An observer may book that wait with
  // this record (the ledger does when verify_tokens > 0) or as the gap before the instance's next step.
  core::SimTime idle_until = 0;

  std::int64_t tokens(const BatchEntry& e) const {
    return e.prefill_chunk > 0 ? e.prefill_chunk : iterations * tokens_per_step;
  }
};

// Accounting attaches here (metrics, energy meters, carbon ledger, output writers); the serving code never
// writes results itself.
class ServingObserver {
 public:
  // The signals an observer handles, so a fan-out can skip the others (steps are the hottest signal).
  // Observers keep their per-request data in their own side tables indexed by the request's pool slot: a slot
  // is live from on_request_begin to on_request_done, and recycled afterwards.
  enum Signals : unsigned { kSteps = 1, kDecodeSpans = 2, kRequests = 4, kAll = 7 };
  virtual ~ServingObserver() = default;
  virtual unsigned signals() const { return kSteps | kRequests; }
  virtual void on_step(const Instance& /*instance*/, const StepRecord& /*step*/) {}
  // The request starts (its prefill completed, or its KV was swapped back in) or stops (completed, preempted,
  // abandoned) being a decode of `instance`. In between it takes StepRecord::tokens_per_step tokens in every
  // iteration of every step there, so amounts shared alike by all decodes of a step can accrue per instance and be
  // settled per request here, instead of touching every request in every step.
  virtual void on_decode_begin(const Instance& /*instance*/, std::uint32_t /*slot*/) {}
  virtual void on_decode_end(const Instance& /*instance*/, std::uint32_t /*slot*/) {}
  // The same for a speculative request verifying on target `instance` (part of kDecodeSpans): from the step after
  // the one that finished its prefill (or swapped it back in) it takes StepRecord::verify_tokens tokens in every
  // step of `instance` and of its draft instance, until it stops (completed, preempted, abandoned).
  virtual void on_verify_begin(const Instance& /*instance*/, std::uint32_t /*slot*/) {}
  virtual void on_verify_end(const Instance& /*instance*/, std::uint32_t /*slot*/) {}
  // The request arrived and holds pool slot `slot` until it is done.
  virtual void on_request_begin(std::uint32_t /*slot*/, const RequestState& /*request*/) {}
  // The request is done (completed, rejected, or unfinished at the end of the run) and about to be released.
  virtual void on_request_done(std::uint32_t /*slot*/, const RequestState& /*request*/) {}
};

}  // namespace greenfleet::serving
