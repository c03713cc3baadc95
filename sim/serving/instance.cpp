#include "sim/serving/instance.hpp"

#include "sim/serving/provisioner.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace greenfleet::serving {

Instance::Instance(std::int32_t id, Placement placement, SchedulerConfig config, std::int64_t kv_blocks,
                   std::int32_t max_context, const perf::PerfModel* model, core::Engine* engine, RequestPool* pool,
                   ServingObserver* observer)
    : id_(id),
      placement_(placement),
      config_(config),
      max_context_(max_context),
      model_(model),
      engine_(engine),
      pool_(pool),
      observer_(observer),
      policy_(config),
      kv_(config, kv_blocks, placement.devices) {
  kind_ = engine_->register_kind(this);
  tracker_ = engine_->new_tracker();
  running_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  prefilling_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  batch_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  head_batch_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  stats_.batch_size_iterations.assign(static_cast<std::size_t>(config_.max_num_seqs) + 1, 0);
}

void Instance::enqueue(std::uint32_t slot) {
  const LoadNotice notice{this};
  RequestState& r = (*pool_)[slot];
  r.instance = id_;
  if (role_ == InstanceRole::kPrefill) r.leave_after_prefill = true;
  const std::int64_t tokens = static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens;
  // A request that leaves after its first token needs KV here for its prompt and that token only.
  const std::int64_t kv_here =
      r.leave_after_prefill ? std::min<std::int64_t>(tokens, r.spec.prompt_tokens + 1) : tokens;
  if (r.mode == RequestMode::kSpeculative && !spec_)
    throw std::logic_error("a speculative request joined an instance without a draft instance");
  if (tokens > max_context_ || kv_.blocks_for(kv_here) > kv_.total() ||
      (r.mode == RequestMode::kSpeculative && !spec_->draft->can_hold(r))) {
    ++stats_.rejected;
    finish_request(slot, RequestStatus::kRejected);
    return;
  }
  policy_.push_back(slot, r);
  outstanding_tokens_ += tokens_left_here(r);
  pending_prefill_ += r.prefill_target - r.prefilled;
  if (!power_.on()) {
    power_.request_boot();  // queued until the server has booted
    return;
  }
  if (!timer_.busy) {
    start_step();
    return;
  }
  // A fast-forwarded decode run must end at the first iteration boundary after this arrival when the newcomer
  // would be admitted there (the end of the head, if the step has one and it is still running); otherwise the
  // run is exactly what stepping would do.
  if (!timer_.ff_run || policy_.front(*pool_) != &r) return;
  const bool in_head = has_head_ && engine_->now() < timer_.run_start;
  core::SimTime cut_at = -1;  // run_boundary(j), when counting the iterations done computed it
  const std::int64_t j = in_head ? 0 : timer_.completed_iterations_at(engine_->now(), cut_at) + 1;
  if (j >= timer_.run_iterations) return;
  // A prompt in a prefill-only step runs before the decodes' next iteration has taken its blocks.
  const bool alone = policy_.separate_prefill_steps() && !BatchPolicy::joins_as_decode(r);
  const std::int64_t decode_budget =
      policy_.token_budget() - static_cast<std::int64_t>(shape_.decode_seqs) * tokens_per_step_;
  // The free count now (the run's planned end, or a cut's) is a lower bound on the free blocks at any boundary up
  // to the run's end: when the newcomer fits in it, it fits at boundary j + 1, and the blocks the run has taken
  // by then are summed by the next step's pass (defer_free()) instead of here.
  std::int64_t extra_j = -1;
  if (alone || !policy_.admissible(r, seqs_held(), kv_, kv_.free(), decode_budget, false)) {
    extra_j = 0;
    const std::int64_t free_then = run_free_start_ - run_extra_blocks(j + 1, &extra_j);
    if (alone ? !policy_.admissible(r, seqs_held(), kv_, run_free_start_ - extra_j, policy_.token_budget(), true)
              : !policy_.admissible(r, seqs_held(), kv_, free_then, decode_budget, false))
      return;
  }
  // A speculative request also needs its draft's blocks, which only this instance's steps change.
  if (spec_ && r.mode == RequestMode::kSpeculative &&
      spec_->draft->whole_request_blocks(r) > spec_->draft->kv_.free())
    return;
  // The run ends after j iterations.
  if (j > 0 && extra_j < 0 && kv_.on_demand())
    defer_free();
  else
    kv_.set_free(run_free_start_ - std::max<std::int64_t>(extra_j, 0)), free_stale_ = false;
  timer_.run_iterations = j;
  if (cut_at < 0) cut_at = timer_.run_boundary(j);
  if (!engine_->reschedule_earlier(tracker_, std::max(cut_at, engine_->now()), core::kPriorityStepEnd))
    throw std::logic_error("a cut decode run had no pending step end");
}

template <bool kMulti>
std::int64_t Instance::run_extra_blocks_impl(std::int64_t iterations, std::int64_t* one_fewer) const {
  if (!kv_.on_demand()) return 0;
  // A copy, whose block size and shift are read once instead of at each decode entry.
  const KvBlockManager kv = kv_;
  std::int64_t extra = 0, fewer = 0;
  const std::int64_t tokens = iterations * step_tokens<kMulti>(), fewer_tokens = tokens - step_tokens<kMulti>();
  for (const Entry& e : batch_) {
    if (e.prefill_chunk > 0) continue;
    extra += kv.run_blocks(e, tokens) - e.blocks_before;
    if (one_fewer) fewer += kv.run_blocks(e, fewer_tokens) - e.blocks_before;
  }
  if (one_fewer) *one_fewer = fewer;
  return extra;
}

std::int64_t Instance::outstanding_tokens() const {
  const core::SimTime now = engine_->now();
  // Every sequence of a run emits tokens_per_step_ tokens in each iteration before its last (nobody completes
  // before the last).
  if (!has_head_) return outstanding_tokens_ - timer_.completed_iterations_at(now) * timer_.run_growth;
  if (now < timer_.run_start) return outstanding_tokens_;
  // The head's tokens: its prefill chunks, one output token per decode and per prefill it completes.
  const std::int64_t head_tokens = head_shape_.prefill_tokens +
                                   static_cast<std::int64_t>(head_shape_.decode_seqs) * tokens_per_step_ +
                                   head_shape_.prefill_final_chunks;
  return outstanding_tokens_ - head_tokens - timer_.completed_iterations_at(now) * timer_.run_growth;
}

std::int64_t Instance::kv_blocks_free() const {
  if (!timer_.busy || !timer_.ff_run) return kv_.free();
  const core::SimTime now = engine_->now();
  if (has_head_ && now < timer_.run_start) return run_free_start_;  // the run has taken no block yet
  return free_in_run(timer_.completed_iterations_at(now));
}

void Instance::preempt_one() {
  const std::size_t idx = policy_.victim(running_, *pool_);
  const std::uint32_t slot = running_[idx];
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(idx));
  RequestState& r = (*pool_)[slot];
  end_decode(slot, r);
  ++r.preemptions;
  ++stats_.preemptions;
  const double swap_seconds = kv_.evict(r);
  if (swap_seconds >= 0) {
    step_extra_s_ += swap_seconds;
  } else {
    // Recompute: the KV is dropped; a later prefill over prompt + output so far rebuilds it and samples the
    // next token, as vLLM does.
    // Everything produced so far is recomputed, also when the request was preempted mid-recompute.
    const std::int32_t target = r.spec.prompt_tokens + r.generated;
    outstanding_tokens_ += target - (r.prefill_target - r.prefilled);
    pending_prefill_ += target - (r.prefill_target - r.prefilled);
    r.prefill_target = target;
    r.prefilled = 0;
  }
  policy_.push_front(slot, r);
}

inline bool Instance::waits_for_draft(const RequestState& r) const {
  return spec_ && r.mode == RequestMode::kSpeculative && r.draft_blocks == 0 &&
         spec_->draft->whole_request_blocks(r) > spec_->draft->kv_.free();
}

bool Instance::prompt_ready_alone() const {
  const RequestState* head = policy_.front(*pool_);
  return head && !BatchPolicy::joins_as_decode(*head) &&
         policy_.admissible(*head, seqs_held(), kv_, kv_.free(), policy_.token_budget(), true) &&
         !waits_for_draft(*head);
}

template <bool kMulti, bool kSpec>
void Instance::start_step_impl() {
  // Hides the member: without a draft instance every speculative branch below is compiled out.
  const Speculation* const spec_ = kSpec ? this->spec_ : nullptr;
  // Requests whose KV arrived join as decodes (their blocks were reserved when they were admitted).
  const std::size_t joined = ready_.size();
  if (!ready_.empty()) {
    for (std::uint32_t slot : ready_) {
      running_.push_back(slot);
      begin_decode(slot, (*pool_)[slot]);
    }
    ready_.clear();
  }
  std::size_t parked_now = 0;                      // admitted this step with their KV still to come
  if (continued_) std::swap(batch_, head_batch_);  // the continued run's entries, booked below
  batch_.clear();
  shape_ = perf::BatchShape{};
  step_extra_s_ = 0;
  std::int64_t budget = policy_.token_budget();
  bool preempted = false;
  // Prefill-only steps (vLLM v0 without chunked prefill): when the head of the queues is a prompt that can be
  // admitted now, this step admits prompts alone; the running decodes sit it out and take no blocks for it.
  const bool separate = policy_.separate_prefill_steps();
  bool prefill_only = false;
  if (separate) [[unlikely]] {
    if (free_stale_) settle_free(head_batch_, continued_);
    prefill_only = prompt_ready_alone();
  }
  // Every decoding request must be able to write the KV of its next step's tokens; free blocks by preemption
  // until it can. Each needs at most blocks_for(tokens_per_step_) new blocks (one, for plain decode), so with that
  // many free blocks per running request there is nothing to check.
  const std::int64_t tokens = step_tokens<kMulti>();
  // A speculative request's verify chunk writes up to gamma + 1 tokens' KV (the rejected ones' is dropped after).
  const std::int32_t verify_max = spec_ ? spec_->gamma + 1 : 0;
  const std::int64_t max_new_blocks =
      std::max<std::int64_t>(kMulti ? kv_.blocks_for(tokens) : 1, spec_ ? kv_.blocks_for(verify_max) : 0);
  bool check_blocks =
      kv_.on_demand() && kv_.free() < static_cast<std::int64_t>(running_.size()) * max_new_blocks && !prefill_only;
  if (check_blocks && free_stale_) [[unlikely]] {  // a lower bound (defer_free()): the true count decides
    settle_free(head_batch_, continued_);
    check_blocks = kv_.free() < static_cast<std::int64_t>(running_.size()) * max_new_blocks;
  }
  // A continued run is booked in the pass below that lists its requests; these paths need it booked now.
  if (continued_ && (kSpec || prefill_only || check_blocks || running_.size() != head_batch_.size() + joined))
      [[unlikely]]
    book_continued<kMulti>();
  if (check_blocks) {
    for (;;) {
      std::int64_t need = 0;
      for (std::uint32_t slot : running_) {
        const RequestState& r = (*pool_)[slot];
        if (r.prefill_done())
          need += std::max<std::int64_t>(
              0, kv_.blocks_for(r.kv_tokens() +
                                (spec_ && r.mode == RequestMode::kSpeculative ? verify_max : tokens)) -
                     r.kv_blocks);
      }
      if (need <= kv_.free() || running_.empty()) break;
      preempt_one();
      preempted = true;
    }
  }
  const bool on_demand = kv_.on_demand();
  std::int64_t min_remaining = INT64_MAX;
  // Lists a decode and gives it the blocks its next step's tokens need (the one-iteration allocation; a
  // fast-forwarded run extends it below).
  auto add_decode = [&](std::uint32_t slot) {
    RequestState& r = (*pool_)[slot];
    const std::int32_t ctx = r.spec.prompt_tokens + r.generated;  // decoding: KV holds ctx - 1 tokens
    batch_.push_back(Entry{slot, 0, r.kv_blocks, ctx - 1});
    const std::int64_t more = kv_.blocks_for(ctx - 1 + tokens) - r.kv_blocks;
    if (on_demand && more > 0) {
      r.kv_blocks += static_cast<std::int32_t>(more);
      kv_.take(more);
    }
    shape_.decode_seqs += 1;
    shape_.decode_ctx += ctx;
    min_remaining = std::min<std::int64_t>(min_remaining, r.spec.output_tokens - r.generated);
    budget -= tokens;
  };
  auto add_prefill = [&](std::uint32_t slot, std::int32_t chunk) {
    const RequestState& r = (*pool_)[slot];
    const double n = chunk, past = r.prefilled;
    batch_.push_back(Entry{slot, chunk, r.kv_blocks, r.prefilled});
    shape_.prefill_tokens += chunk;
    shape_.prefill_seqs += 1;
    shape_.prefill_final_chunks += r.prefilled + chunk >= r.prefill_target ? 1 : 0;
    shape_.prefill_attn_ctx += n * past + n * (n + 1) / 2;
    shape_.prefill_kv_tokens += r.prefilled + chunk;
    budget -= chunk;
    // A speculative request's prompt is prefilled on its draft instance too, once: a recompute after a preemption
    // redoes only what the draft has not prefilled yet (it keeps its KV).
    if (spec_ && r.mode == RequestMode::kSpeculative && r.draft_prefilled < r.spec.prompt_tokens) {
      const std::int32_t from = std::max(r.prefilled, r.draft_prefilled);
      const std::int32_t to = std::min(r.prefilled + chunk, r.spec.prompt_tokens);
      if (to > from) add_draft_prefill(slot, to - from, from);
    }
  };
  // A speculative request's round: its draft proposes up to gamma tokens (no more than it still needs after the
  // target's own token), and the target verifies them and its own position in one chunk after its context.
  auto add_verify = [&](std::uint32_t slot) { budget -= add_verify_entry(slot); };
  // Decodes first (they hold KV and set TPOT), then unfinished prefills, then admissions: online before offline,
  // FCFS within a class.
  run_free_start_ = kv_.free();
  prefilling_.clear();  // unfinished prefills, in admission order: usually none, so no second pass
  // A continued run's pass (below): the blocks the next run takes over continued_steps iterations when its batch
  // is the continued_entries listed there.
  std::int64_t continued_extra = -1, continued_steps = -1;
  std::size_t continued_entries = 0;
  if (prefill_only) {
    // The decodes wait (and, chunking being off, nobody is mid-prefill); a speculative prompt admitted below may
    // still prefill on its draft, so the draft phase starts empty.
    if (spec_) clear_draft_phase();
  } else if (!spec_ && continued_) {
    // The run just cut short goes on with the same requests and those whose KV arrived after them (all
    // decodes): one pass books the run's tokens and lists them, summing the blocks the next run takes.
    budget -= list_continued<kMulti>(&min_remaining, &continued_steps, &continued_extra);
    continued_entries = batch_.size();
  } else if (!spec_) {  // the common case: no request here reads a draft (the request's mode is in another cache
                        // line)
    for (std::uint32_t slot : running_) {
      if ((*pool_)[slot].prefill_done())
        add_decode(slot);
      else
        prefilling_.push_back(slot);
    }
  } else {
    budget -= form_running_spec();
    for (std::uint32_t slot : plain_decodes_) add_decode(slot);
  }
  for (std::uint32_t slot : prefilling_) {
    const RequestState& r = (*pool_)[slot];
    if (budget <= 0) break;
    add_prefill(slot, static_cast<std::int32_t>(std::min<std::int64_t>(r.prefill_target - r.prefilled, budget)));
  }
  // After a preemption nothing is admitted this step, so a request cannot be evicted and re-admitted at once.
  int cls = 0;
  while (!preempted) {
    const RequestState* head = policy_.front(*pool_, &cls);
    // Separate steps: prompts only in a prefill-only step, and only requests that rejoin as decodes in the other.
    if (!head || (separate && BatchPolicy::joins_as_decode(*head) == prefill_only) ||
        !policy_.admissible(*head, seqs_held(), kv_, kv_.free(), budget,
                            batch_.empty() && (!spec_ || verify_listed_ == 0)))
      break;
    if (waits_for_draft(*head)) break;  // its draft instance has no room for it yet
    // A swapped-out speculative request comes back as a verify chunk: blocks for its KV and up to gamma + 1 more.
    const bool spec_swapped =
        spec_ && head->mode == RequestMode::kSpeculative && head->swapped && !policy_.reserve();
    const std::int64_t spec_swap_need = spec_swapped
                                            ? kv_.blocks_for(static_cast<std::int64_t>(head->kv_tokens()) +
                                                             std::min(spec_->gamma + 1, head->remaining_output()))
                                            : 0;
    if (spec_swapped && spec_swap_need > kv_.free()) break;
    const std::uint32_t slot = policy_.pop(cls);
    RequestState& r = (*pool_)[slot];
    if (spec_ && r.mode == RequestMode::kSpeculative && r.draft_blocks == 0) spec_->draft->reserve_draft(r);
    const std::int64_t need = spec_swapped ? spec_swap_need : kv_.admission_blocks(r, policy_.reserve());
    kv_.take(need);
    // A decode admitted here (a hand-off's) may start a run at once: its blocks are not the run's.
    run_free_start_ -= need;
    r.kv_blocks += static_cast<std::int32_t>(need);
    if (r.awaiting_kv) {
      // Blocks reserved for a hand-over whose KV has yet to cross: it waits outside the batch (the transfer
      // starts now, below) and joins when it has arrived (kv_arrived()).
      r.kv_inbound = false;
      r.kv_reserved = engine_->now();
      parked_.push_back(slot);
      ++parked_now;
      continue;
    }
    running_.push_back(slot);
    if (r.swapped || r.kv_inbound) {
      if (r.swapped) step_extra_s_ += kv_.swap_in(r);
      r.kv_inbound = false;  // a hand-off's KV was transferred before it arrived
      if (spec_ && r.mode == RequestMode::kSpeculative) {
        add_verify(slot);
      } else {
        begin_decode(slot, r);
        add_decode(slot);
      }
    } else {
      if (r.first_scheduled < 0) r.first_scheduled = engine_->now();
      add_prefill(slot, policy_.chunk(r.prefill_target - r.prefilled, budget));
    }
  }
  // Transfers into the blocks reserved above start now; their ends come as events, never from inside this call.
  if (parked_now) {
    for (std::size_t i = parked_.size() - parked_now; i < parked_.size(); ++i)
      handoff_->on_kv_reserved(*this, parked_[i]);
    restart_stretch_ = true;
  }
  if (batch_.empty() && (!spec_ || verify_listed_ == 0)) {  // (verifying requests are not listed in batch_)
    timer_.busy = false;
    // Preemption can only empty the batch if it evicted everyone; the waiting requests are then admissible.
    if (preempted && queued() != 0) {
      start_step_impl<kMulti, kSpec>();
      return;
    }
    if (parked_.empty()) power_.report_idle();
    if (host_) note_host_busy(false);
    return;
  }
  // The decodes sitting out a prefill-only step take no share of it (the ledger's per-decode accrual).
  if (separate) [[unlikely]]
    step_decode_tokens_ = prefill_only && batch_.size() < running_.size() ? 0 : tokens_per_step_;
  if (config_.check_invariants) check_invariants();
  timer_.busy = true;
  if (host_) host_step_started();
  timer_.step_start = timer_.run_start = engine_->now();
  has_head_ = false;
  run_in_order_ = false;
  if (spec_ && (!draft_.entries.empty() || draft_verifies_ > 0)) price_draft(draft_.shape.prefill_tokens);
  core::SimTime end;
  const bool decode_only = shape_.prefill_seqs == 0 && step_extra_s_ == 0 && !preempted;
  if (config_.fast_forward && decode_only) {
    // Decode-only and nobody admissible now, so nobody is admissible before the run ends (free blocks only
    // shrink while it runs): run to the first completion or the first iteration the cache cannot hold.
    std::int64_t steps = steps_to_emit<kMulti>(min_remaining);
    // But a step that is not prefill-only admits no prompt, admissible or not: one at the head that this step's
    // admissions (of requests joining as decodes) uncovered runs in a prefill-only step at the next boundary.
    if (separate && !prefill_only && prompt_ready_alone()) [[unlikely]]
      steps = 1;
    const std::int64_t iterations = plan_run<kMulti>(
        steps, steps == continued_steps && batch_.size() == continued_entries ? continued_extra : -1);
    // Its batch is every running request, in order, when it lists as many (book_continued()).
    run_in_order_ = batch_.size() == running_.size();
    run_min_remaining_ = min_remaining;
    run_planned_ = iterations;
    timer_.begin_run(model_->decode_cost_cached(shape_.decode_seqs), shape_, iterations, tokens_per_step_);
    end = timer_.run_end();
  } else {
    timer_.step_cost = model_->step_cost(shape_);
    if (restart_stretch_) timer_.stepped_run = false;  // the stretch restarts here, as a run would
    // Stepping, the steps fast-forward would fold into one run are timed as that run is: from where it starts,
    // by the running sum of their (here individually priced) times, rounded once.
    end = timer_.single_step_end(step_extra_s_ + draft_wait_s_, !config_.fast_forward && decode_only);
    timer_.ff_run = false;
    timer_.run_iterations = 1;
    if (config_.fast_forward && step_extra_s_ == 0 && !has_draft_ && !preempted) {
      timer_.run_start = end;
      if (fold_run<kMulti>())
        end = timer_.run_end();
      else
        timer_.run_start = timer_.step_start;
    }
  }
  restart_stretch_ = false;
  engine_->schedule_tracked(end, core::kPriorityStepEnd, kind_, tracker_);
}

template <bool kMulti>
std::int64_t Instance::plan_run(std::int64_t min_remaining, std::int64_t known_extra) {
  std::int64_t k = min_remaining;
  const std::int64_t extra = known_extra >= 0 ? known_extra : run_extra_blocks_impl<kMulti>(k);
  if (extra > run_free_start_) {
    std::int64_t lo = 1, hi = k;  // extra(1) fits: the preemption check made sure
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo + 1) / 2;
      if (run_extra_blocks_impl<kMulti>(mid) <= run_free_start_)
        lo = mid;
      else
        hi = mid - 1;
    }
    k = lo;
    kv_.set_free(run_free_start_ - run_extra_blocks_impl<kMulti>(k));
  } else {
    kv_.set_free(run_free_start_ - extra);
  }
  return k;
}

// Out of line: inlined, it makes GCC inline less of the rest of start_step_impl (docs/PERFORMANCE.md).
template <bool kMulti>
bool Instance::fold_run() {
  // The step's end decides nothing when every running request is in it, each of its prefills completes there,
  // nobody completes there and nobody waits: the next step would then be a decode run of the whole batch.
  // Arrivals during the step cut the run to nothing (enqueue), exactly when they would join the next step.
  if (queued() != 0 || batch_.size() != running_.size() || shape_.prefill_final_chunks != shape_.prefill_seqs)
    return false;
  // A split request's finished prompt leaves, a speculative one's next step is a verify: not a decode run. They
  // run only where a hand-off sink or a draft is set (their fields lie in another cache line).
  if (handoff_ || spec_)
    for (const Entry& e : batch_) {
      const RequestState& r = (*pool_)[e.slot];
      if (r.leave_after_prefill || r.mode == RequestMode::kSpeculative) return false;
    }
  std::vector<Entry>& run = head_batch_;  // built here, swapped into batch_ below
  run.clear();
  // Room for every entry first (both lists hold max_num_seqs already), so that the pass below never reallocates:
  // with no call left in it, its pointers and the copy of the block manager's fields stay in registers.
  run.reserve(batch_.size());
  const KvBlockManager kv = kv_;
  const RequestState* const pool = &(*pool_)[0];
  perf::BatchShape run_shape;
  std::int64_t min_remaining = INT64_MAX;
  std::int64_t first_blocks = 0;  // blocks the run's first iteration takes
  const std::int32_t tokens = step_tokens<kMulti>();
  for (const Entry& e : batch_) {
    const RequestState& r = pool[e.slot];
    // Every entry's step ends by sampling: a finished prefill its first token, a decode its step's tokens.
    const std::int32_t generated = r.generated + (e.prefill_chunk > 0 ? 1 : tokens);
    if (generated >= r.spec.output_tokens) return false;
    const std::int32_t ctx = r.spec.prompt_tokens + generated;
    // The blocks held after the step: a decode's next blocks and a prefill's admission are taken already.
    if (run.size() == run.capacity()) __builtin_unreachable();  // reserved above
    run.push_back(Entry{e.slot, 0, r.kv_blocks, ctx - 1});
    first_blocks += kv.run_blocks(run.back(), tokens) - r.kv_blocks;
    run_shape.decode_seqs += 1;
    run_shape.decode_ctx += ctx;
    min_remaining = std::min<std::int64_t>(min_remaining, r.spec.output_tokens - generated);
  }
  // The run's first iteration must fit without preempting anyone, as the next step would check.
  if (kv_.on_demand() && first_blocks > kv_.free()) return false;
  std::swap(batch_, head_batch_);
  head_shape_ = shape_;
  shape_ = run_shape;
  has_head_ = true;
  run_free_start_ = kv_.free();
  const std::int64_t iterations = plan_run<kMulti>(steps_to_emit<kMulti>(min_remaining));
  timer_.begin_run(model_->decode_cost_cached(shape_.decode_seqs), shape_, iterations, tokens_per_step_);
  return true;
}

void Instance::on_event(const core::Event&) {
  const LoadNotice notice{this};
  // A cut run moves its pending step end earlier in place (Engine::reschedule_earlier), so every step end that
  // fires is current.
  if (finish_kind_ == 2) [[likely]] {  // one compare for the plain path, not a jump table
    finish_step<false, true>();
    return;
  }
  switch (finish_kind_) {
    case 0:
      finish_step<false, false>();
      break;
    case 1:
      finish_step<true, false>();
      break;
    default:
      finish_step<true, true>();
      break;
  }
}

void Instance::report_step(core::SimTime start, core::SimTime end, const perf::BatchShape& shape,
                           const std::vector<Entry>& entries, std::int64_t iterations, double busy_seconds,
                           double prefill_share) {
  StepRecord rec;
  rec.start = start;
  rec.end = end;
  rec.shape = &shape;
  rec.iterations = iterations;
  rec.tokens_per_step = step_decode_tokens_;
  rec.busy_seconds = busy_seconds;
  rec.prefill_share = prefill_share;
  rec.entries = std::span<const Entry>(entries.data(), entries.size());
  if (verify_tokens_ != 0) [[unlikely]] {  // 0 but on a target instance
    rec.verify_tokens = verify_tokens_;
    rec.verify_short = std::span<const VerifyShort>(verify_short_.data(), verify_short_.size());
  }
  observer_->on_step(*this, rec);
}

// Inlined into apply_entries_impl: once per speculative request and round, where a call costs as much as the
// work. Returns the round's tokens.
inline std::int32_t Instance::apply_verify(RequestState& r) {
  const std::int32_t t =
      std::min(spec_->round_tokens(r.spec.id, r.verify_rounds), r.spec.output_tokens - r.generated);
  r.generated += t;
  ++r.verify_rounds;
  stats_.decode_tokens += static_cast<std::uint64_t>(t);
  outstanding_tokens_ -= t;
  ++stats_.verify_rounds;
  stats_.verify_tokens += static_cast<std::uint64_t>(t);
  return t;
}

template <bool kMulti, bool kSettle>
bool Instance::apply_entries_impl(const std::vector<Entry>& entries, std::int64_t k, core::SimTime now, bool run) {
  // A run's blocks were taken from the free count when it was planned (plan_run); its requests get them now. A
  // single step's decodes got theirs when it was formed.
  const bool run_blocks_due = kSettle || (run && kv_.on_demand());
  const std::int64_t per_entry = k * step_tokens<kMulti>();  // what each decode emits, unless it completes first
  bool any_done = false;
  std::int64_t run_taken = 0;  // kSettle: the blocks the run's k iterations took (settle_free()'s sum)
  for (const Entry& e : entries) {
    RequestState& r = (*pool_)[e.slot];
    if (e.prefill_chunk > 0) {
      if (spec_ && r.prefill_done()) {  // a speculative request's verify chunk
        apply_verify(r);
        if (!r.decoding) [[unlikely]]
          begin_verify(e.slot, r);  // swapped back in this step: verifying from the next
        any_done |= r.generated >= r.spec.output_tokens;
        continue;
      }
      r.prefilled += e.prefill_chunk;
      stats_.prefill_tokens += static_cast<std::uint64_t>(e.prefill_chunk);
      outstanding_tokens_ -= e.prefill_chunk;
      pending_prefill_ -= e.prefill_chunk;
      if (r.prefill_done()) {
        r.generated += 1;  // the step that completes a prefill samples the next output token
        if (r.first_token < 0) r.first_token = now;
        if (leaves_here(r))
          any_done = true;                             // handed on in finish_step, which compacts the batch
        else if (r.mode != RequestMode::kSpeculative)  // its rounds are chunks, accrued from the next step
          begin_decode(e.slot, r);
        else
          begin_verify(e.slot, r);
        stats_.decode_tokens += 1;
        outstanding_tokens_ -= 1;
      }
    } else {
      // step_tokens per iteration, but no more than it still had to produce (a run of single tokens never
      // passes a completion).
      const std::int64_t emitted =
          kMulti ? std::min<std::int64_t>(per_entry, r.spec.output_tokens - r.generated) : per_entry;
      r.generated += static_cast<std::int32_t>(emitted);
      if (run_blocks_due) {
        r.kv_blocks = kv_.run_blocks(e, per_entry);
        if (kSettle) run_taken += r.kv_blocks - e.blocks_before;
      }
      stats_.decode_tokens += static_cast<std::uint64_t>(emitted);
      outstanding_tokens_ -= emitted;
    }
    any_done |= r.generated >= r.spec.output_tokens;
  }
  if (kSettle) {
    kv_.give(stale_extra_ - run_taken);
    free_stale_ = false;
  }
  return any_done;
}

void Instance::count_step(core::SimTime end, std::int64_t iterations, std::size_t batch) {
  stats_.steps += 1;
  stats_.iterations += static_cast<std::uint64_t>(iterations);
  stats_.busy_time += end - timer_.step_start;
  stats_.batch_size_iterations[batch] += static_cast<std::uint64_t>(iterations);
}

template <bool kMulti>
void Instance::finish_head() {
  count_step(timer_.run_start, 1, head_batch_.size());
  if (observer_)
    report_step(timer_.step_start, timer_.run_start, head_shape_, head_batch_, 1, timer_.step_cost.busy_seconds,
                timer_.step_cost.prefill_share);
  apply_entries_impl<kMulti>(head_batch_, 1, timer_.run_start, false);  // nobody completes here (fold_run)
  timer_.step_start = timer_.run_start;
  has_head_ = false;
}

template <bool kMulti, bool kPlain>
void Instance::finish_step() {
  const core::SimTime now = engine_->now();
  if (has_head_) finish_head<kMulti>();
  if (!kPlain && has_draft_) {
    spec_->draft->book_draft(draft_, verify_tokens_, verify_short_, now);
    has_draft_ = false;
  }
  const std::int64_t k = timer_.run_iterations;
  bool any_done = false;
  if (k > 0) {  // not a head whose run was cut to nothing
    count_step(now, k, batch_.size());
    if (observer_)
      // A single step that ran to its end was busy for its busy part exactly (its rounded duration may fall
      // short of it by a fraction of a nanosecond when the whole step is busy).
      report_step(timer_.step_start, now, shape_, batch_, k,
                  timer_.ff_run ? timer_.busy_seconds_to(now, k) : timer_.step_cost.busy_seconds,
                  timer_.ff_run ? 0.0 : timer_.step_cost.prefill_share);
    // A run cut short (so nobody completed in it) over the running requests in order, with nobody waiting but
    // hand-overs (so the next step lists the same decodes and maybe more, and parks): the next step, formed below,
    // books its tokens as it lists them again (list_continued()). Not on the plain path: there only an arrival
    // cuts a run (enqueue), and it waits.
    const RequestState* waiting;
    if (!kPlain && verify_listed_ != 0) [[unlikely]]
      any_done = apply_rounds(k, now, timer_.ff_run);
    else if (!kPlain && timer_.ff_run && run_in_order_ && k < run_planned_ && !spec_ &&
             (!(waiting = policy_.front(*pool_)) || waiting->awaiting_kv))
      continued_ = k;
    else if (free_stale_)  // a run cut by an arrival (which waits, so it was not continued above)
      any_done = apply_entries_impl<kMulti, true>(batch_, k, now, true);
    else
      any_done = apply_entries_impl<kMulti>(batch_, k, now, timer_.ff_run);
  }
  timer_.busy = false;
  timer_.ff_run = false;
  timer_.run_iterations = 1;
  if (any_done) {
    timer_.stepped_run = false;  // the batch changes: fast-forward would start a new run
    // Stable compaction keeps admission order, which decides who gets prefill budget first.
    std::size_t w = 0;
    std::uint32_t* const kept = running_.data();  // (the range below holds running_'s storage too)
    for (std::uint32_t slot : running_) {
      if ((*pool_)[slot].generated >= (*pool_)[slot].spec.output_tokens)
        finish_request(slot, RequestStatus::kCompleted);
      else if (!kPlain && leaves_here((*pool_)[slot]))
        hand_off(slot);
      else
        kept[w++] = slot;
    }
    running_.resize(w);
  }
  if (!running_.empty() || queued() != 0 || (!kPlain && !ready_.empty())) {
    if constexpr (kPlain)
      start_step_impl<kMulti, false>();
    else
      spec_ ? start_step_impl<kMulti, true>() : start_step_impl<kMulti, false>();
  } else {
    if (kPlain || parked_.empty()) power_.report_idle();
    if (!kPlain && host_) note_host_busy(false);
  }
}

void Instance::accept(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  if (!r.prefill_done() || r.generated < 1) throw std::logic_error("accept: a hand-off comes after the prefill");
  r.kv_inbound = true;
  r.awaiting_kv = true;  // admitted with blocks reserved, it waits for its KV (on_kv_reserved, kv_arrived)
  enqueue(slot);
}

void Instance::set_role(InstanceRole role, HandoffSink* sink) {
  if (role == InstanceRole::kPrefill && !sink) throw std::logic_error("a prefill instance needs a hand-off sink");
  role_ = role;
  handoff_ = sink;
  update_finish_kind();
}

void Instance::hand_off(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  // Its blocks stay taken until its KV has left (release_held()), which the transfer decides.
  r.held_blocks = r.kv_blocks;
  held_for_transfer_ += r.kv_blocks;
  r.kv_blocks = 0;
  r.leave_after_prefill = false;
  r.prefill_instance = id_;
  ++stats_.handed_off;
  handoff_->on_handoff(*this, slot);
}

void Instance::release_held(std::uint32_t slot) {
  const LoadNotice notice{this};
  RequestState& r = (*pool_)[slot];
  kv_.give(r.held_blocks);
  held_for_transfer_ -= r.held_blocks;
  run_free_start_ += r.held_blocks;  // inside a run: its plan started from that many more free blocks
  r.held_blocks = 0;
  wake_for_change();
  // The last KV it was sending has left and it has nothing else: its server may power off (provisioner).
  if (!holds_work()) power_.report_idle();
}

void Instance::kv_arrived(std::uint32_t slot) {
  const LoadNotice notice{this};
  RequestState& r = (*pool_)[slot];
  const auto it = std::find(parked_.begin(), parked_.end(), slot);
  if (it == parked_.end() || !r.awaiting_kv) throw std::logic_error("kv_arrived: the request was not in transit");
  parked_.erase(it);
  r.awaiting_kv = false;
  r.kv_arrived = engine_->now();
  ready_.push_back(slot);
  wake_for_change();
}

void Instance::wake_for_change() {
  restart_stretch_ = true;
  if (!power_.on()) return;
  if (!timer_.busy) {
    if (!running_.empty() || queued() != 0 || !ready_.empty()) start_step();
    return;
  }
  cut_run();
}

void Instance::host_step_started() {
  if (host_cpu_side_)
    note_host_busy(true);
  else  // a GPU instance: the step is priced by the host's state at its start (docs/CPU_MODEL.md)
    model_ = host_->busy_at(engine_->now()) ? busy_model_ : idle_model_;
}

void Instance::host_load_changed() {
  restart_stretch_ = true;
  if (power_.on() && timer_.busy) cut_run();
}

void Instance::cut_run() {
  if (!timer_.ff_run) return;  // a single step: the next one, at its end, sees the change
  const core::SimTime now = engine_->now();
  const bool in_head = has_head_ && now < timer_.run_start;
  const std::int64_t j = in_head ? 0 : timer_.completed_iterations_at(now) + 1;
  if (j >= timer_.run_iterations) return;  // the run ends at that boundary anyway
  if (j > 0 && kv_.on_demand())
    defer_free();  // its j iterations' blocks are summed when the next step lists them
  else
    kv_.set_free(run_free_start_), free_stale_ = false;
  timer_.run_iterations = j;
  if (!engine_->reschedule_earlier(tracker_, std::max(timer_.run_boundary(j), now), core::kPriorityStepEnd))
    throw std::logic_error("a cut decode run had no pending step end");
}

void Instance::set_tokens_per_step(std::int32_t tokens) {
  if (tokens < 1) throw std::logic_error("a decode step emits at least one token per sequence");
  tokens_per_step_ = step_decode_tokens_ = tokens;
  update_finish_kind();
  kv_.set_step_tokens(tokens);
}

void Instance::power_on() {
  const LoadNotice notice{this};
  power_.set_on(true);
  if (!timer_.busy && (!running_.empty() || queued() != 0 || !ready_.empty())) start_step();
}

void Instance::finish_request(std::uint32_t slot, RequestStatus status) {
  RequestState& r = (*pool_)[slot];
  r.status = status;
  if (status == RequestStatus::kCompleted) {
    r.completion = engine_->now();
    ++stats_.completed;
  }
  kv_.release(r);
  if (spec_ && r.draft_blocks > 0) spec_->draft->release_draft(r);
  end_decode(slot, r);
  if (observer_) observer_->on_request_done(slot, r);
  pool_->release(slot);
}

void Instance::check_invariants() const {
  std::int64_t held = 0, outstanding = 0, pending = 0;
  auto fail = [&](const std::string& what) {
    throw std::logic_error("instance " + std::to_string(id_) + " invariant broken: " + what);
  };
  for (std::uint32_t slot : running_) {
    const RequestState& r = (*pool_)[slot];
    held += r.kv_blocks;
    outstanding += tokens_left_here(r);
    pending += r.prefill_target - r.prefilled;
    if (r.kv_blocks < kv_.blocks_for(r.kv_tokens())) fail("a running request holds fewer blocks than its KV");
    // A speculative request verifies (`decoding`) from the end of the step that swapped it back in.
    if (r.mode == RequestMode::kSpeculative ? r.decoding && !r.prefill_done() : r.decoding != r.prefill_done())
      fail("a running request's decode state disagrees with its prefill");
    if (!r.prefill_done() && r.prefill_target != r.spec.prompt_tokens + r.generated)
      fail("a prefill does not cover the prompt and the tokens produced so far");
  }
  for (const auto* list : {&parked_, &ready_})
    for (std::uint32_t slot : *list) {
      const RequestState& r = (*pool_)[slot];
      held += r.kv_blocks;
      outstanding += tokens_left_here(r);
      pending += r.prefill_target - r.prefilled;
      if (r.awaiting_kv != (list == &parked_)) fail("a request in transit is not parked, or the reverse");
    }
  held += held_for_transfer_ + draft_held_;
  policy_.for_each_waiting([&](std::uint32_t slot) {
    const RequestState& r = (*pool_)[slot];
    if (r.kv_blocks != 0) fail("a waiting request holds blocks");
    if (r.decoding) fail("a waiting request is marked decoding");
    outstanding += tokens_left_here(r);
    pending += r.prefill_target - r.prefilled;
  });
  // During a step the batch's allocations for it are already taken.
  if (held + kv_.free() != kv_.total()) fail("blocks held + free != total");
  if (kv_.free() < 0) fail("negative free blocks");
  // The step just formed credited its verifying requests' rounds (rounds_emitted_), counted at its end.
  if (outstanding + rounds_emitted_ != outstanding_tokens_) fail("outstanding token count drifted");
  if (pending != pending_prefill_) fail("pending prefill token count drifted");
}

void Instance::abandon_all(core::SimTime end) {
  const LoadNotice notice{this};
  if (free_stale_) settle_free(batch_, timer_.run_iterations);
  // The rounds of a step in flight never finished: its verifying requests had them credited at its start.
  if (timer_.busy && rounds_emitted_ > 0) uncredit_rounds();
  // A step in flight that waited for drafts: the drafting phase ran, up to `end`, on the draft instance.
  const double draft_wait = has_draft_ ? draft_wait_s_ : 0.0;
  if (timer_.busy && has_draft_) {
    if (end > draft_.start) {
      DraftPhase d = draft_;  // a copy, once at the end of a run
      if (end < d.end) {
        d.busy_seconds = std::min(d.busy_seconds, core::to_seconds(end - d.start));
        d.end = end;
      }
      spec_->draft->book_draft(d, verify_tokens_, verify_short_, d.end);
    }
    has_draft_ = false;
  }
  if (timer_.busy && has_head_) {
    if (end >= timer_.run_start) {
      if (tokens_per_step_ == 1)  // it ended by `end`, as its own event would have
        finish_head<false>();
      else
        finish_head<true>();
    } else {
      // The head is in flight: it is the step, and its run never starts.
      kv_.set_free(run_free_start_);
      std::swap(batch_, head_batch_);
      shape_ = head_shape_;
      timer_.ff_run = false;
      timer_.run_iterations = 1;
      timer_.run_start = timer_.step_start;
      has_head_ = false;
    }
  }
  if (timer_.busy && end > timer_.step_start) {
    // Book the step in flight up to the end of the run, so busy time, energy and carbon are not lost. A
    // fast-forwarded run is credited with the iterations it completed by then, and its devices were busy as
    // stepping would have booked them: fully in those iterations, and in the one cut short for as much of it
    // as its own busy part lasts.
    const std::int64_t done = timer_.ff_run ? timer_.completed_iterations_at(end) : 0;
    double busy = 0;
    if (!timer_.ff_run) {
      // Its own work comes after the wait for drafts.
      busy = draft_wait > 0 ? std::clamp(core::to_seconds(end - timer_.step_start) - draft_wait, 0.0,
                                         timer_.step_cost.busy_seconds)
                            : timer_.busy_seconds_to(end, 0);
    } else {
      const core::SimTime cut_at = timer_.run_boundary(done);
      const double cut_ctx = static_cast<double>(shape_.decode_ctx + done * timer_.run_growth);
      busy = timer_.busy_seconds_to(cut_at, done) +
             std::min(timer_.run_cost.busy_step_seconds(cut_ctx), core::to_seconds(end - cut_at));
    }
    count_step(end, done, batch_.size());
    if (observer_)
      report_step(timer_.step_start, end, shape_, batch_, std::max<std::int64_t>(1, done), busy,
                  timer_.ff_run ? 0.0 : timer_.step_cost.prefill_share);
    // Its completed iterations produced tokens, as the steps stepping finished did (blocks: below).
    if (done > 0) apply_entries(batch_, done, end, false);
  }
  if (timer_.busy && timer_.ff_run && kv_.on_demand())
    for (const Entry& e : batch_)  // the blocks the run took (finish_step would have assigned them)
      (*pool_)[e.slot].kv_blocks = kv_.run_blocks(e, timer_.run_iterations * tokens_per_step_);
  timer_.busy = false;
  timer_.ff_run = false;
  timer_.stepped_run = false;
  timer_.run_iterations = 1;
  for (std::uint32_t slot : running_) finish_request(slot, RequestStatus::kUnfinished);
  running_.clear();
  for (auto* list : {&parked_, &ready_}) {
    for (std::uint32_t slot : *list) finish_request(slot, RequestStatus::kUnfinished);
    list->clear();
  }
  policy_.drain([&](std::uint32_t slot) { finish_request(slot, RequestStatus::kUnfinished); });
}

// One token per sequence per step is every instance today: the hot paths are compiled for it, with the count a
// constant, and once more for a count known only at run time.
void Instance::start_step() {
  if (tokens_per_step_ == 1)
    spec_ ? start_step_impl<false, true>() : start_step_impl<false, false>();
  else
    spec_ ? start_step_impl<true, true>() : start_step_impl<true, false>();
}

std::int64_t Instance::run_extra_blocks(std::int64_t iterations, std::int64_t* one_fewer) const {
  return tokens_per_step_ == 1 ? run_extra_blocks_impl<false>(iterations, one_fewer)
                               : run_extra_blocks_impl<true>(iterations, one_fewer);
}

bool Instance::apply_entries(const std::vector<Entry>& entries, std::int64_t k, core::SimTime now, bool run) {
  return tokens_per_step_ == 1 ? apply_entries_impl<false>(entries, k, now, run)
                               : apply_entries_impl<true>(entries, k, now, run);
}

}  // namespace greenfleet::serving
