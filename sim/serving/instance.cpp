#include "sim/serving/instance.hpp"

#include "sim/serving/provisioner.hpp"

#include <algorithm>
#include <bit>
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
      kv_blocks_total_(kv_blocks),
      kv_blocks_free_(kv_blocks),
      max_context_(max_context),
      model_(model),
      engine_(engine),
      pool_(pool),
      observer_(observer) {
  kind_ = engine_->register_kind(this);
  if (config_.kv_block_size > 0 && (config_.kv_block_size & (config_.kv_block_size - 1)) == 0)
    block_shift_ = std::countr_zero(static_cast<unsigned>(config_.kv_block_size));
  running_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  prefilling_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  batch_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  head_batch_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  stats_.batch_size_iterations.assign(static_cast<std::size_t>(config_.max_num_seqs) + 1, 0);
}

std::int64_t Instance::admission_blocks(const RequestState& r) const {
  if (config_.kv_allocation == KvAllocation::kReserve)
    return blocks_for(static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens);
  if (r.swapped || r.kv_inbound)  // restore (from host memory or another instance), plus the next token
    return blocks_for(static_cast<std::int64_t>(r.kv_tokens()) + 1);
  return blocks_for(r.prefill_target);
}

RequestState* Instance::front_waiting(int* cls) {
  for (int c = 0; c < 2; ++c) {
    if (waiting_[c].empty()) continue;
    if (cls) *cls = c;
    return &(*pool_)[waiting_[c].front()];
  }
  return nullptr;
}

bool Instance::admissible(const RequestState& r, std::int64_t free_blocks, std::int64_t budget,
                          bool batch_empty) const {
  if (running_.size() >= static_cast<std::size_t>(config_.max_num_seqs)) return false;
  if (budget <= 0 || admission_blocks(r) > free_blocks) return false;
  if (r.swapped || r.kv_inbound) return true;  // joins as a decode: one token of budget
  return config_.chunked_prefill || batch_empty || r.prefill_target - r.prefilled <= budget;
}

void Instance::enqueue(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  r.instance = id_;
  const std::int64_t tokens = static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens;
  if (tokens > max_context_ || blocks_for(tokens) > kv_blocks_total_) {
    ++stats_.rejected;
    finish_request(slot, RequestStatus::kRejected);
    return;
  }
  waiting_[static_cast<int>(r.spec.cls)].push_back(slot);
  outstanding_tokens_ += tokens_left_here(r);
  if (!powered_) {
    provisioner_->on_demand(power_server_);  // queued until the server has booted
    return;
  }
  if (!busy_) {
    start_step();
    return;
  }
  // A fast-forwarded decode run must end at the first iteration boundary after this arrival when the newcomer
  // would be admitted there (the end of the head, if the step has one and it is still running); otherwise the
  // run is exactly what stepping would do.
  if (!ff_run_ || front_waiting() != &r) return;
  const bool in_head = has_head_ && engine_->now() < run_start_;
  const std::int64_t j = in_head ? 0 : completed_iterations_at(engine_->now()) + 1;
  if (j >= run_iterations_) return;
  std::int64_t extra_j = 0;
  const std::int64_t free_then = run_free_start_ - run_extra_blocks(j + 1, &extra_j);
  if (!admissible(r, free_then, config_.max_batched_tokens - shape_.decode_seqs, false)) return;
  kv_blocks_free_ = run_free_start_ - extra_j;  // the run ends after j iterations
  run_iterations_ = j;
  if (!engine_->reschedule_earlier(static_cast<std::uint32_t>(id_), std::max(run_boundary(j), engine_->now()),
                                   core::kPriorityStepEnd))
    throw std::logic_error("a cut decode run had no pending step end");
}

std::int64_t Instance::run_extra_blocks(std::int64_t iterations, std::int64_t* one_fewer) const {
  if (config_.kv_allocation == KvAllocation::kReserve) return 0;
  std::int64_t extra = 0, fewer = 0;
  for (const Entry& e : batch_) {
    if (e.prefill_chunk > 0) continue;
    extra += run_blocks(e, iterations) - e.blocks_before;
    if (one_fewer) fewer += run_blocks(e, iterations - 1) - e.blocks_before;
  }
  if (one_fewer) *one_fewer = fewer;
  return extra;
}

void Instance::set_run_blocks(std::int64_t iterations) {
  kv_blocks_free_ = run_free_start_ - run_extra_blocks(iterations);
}

core::SimTime Instance::run_boundary(std::int64_t j) const {
  if (j == 0) return run_start_;
  return run_start_ + core::from_seconds(run_cost_.run_seconds(shape_.decode_ctx, j));
}

std::int64_t Instance::completed_iterations_at(core::SimTime t) const {
  if (!busy_ || !ff_run_ || run_iterations_ <= 1 || t <= run_start_) return 0;
  const double elapsed = core::to_seconds(t - run_start_);
  const double c0 = static_cast<double>(shape_.decode_ctx);
  const double dx = static_cast<double>(shape_.decode_seqs);
  const double c_last = c0 + static_cast<double>(run_iterations_ - 1) * dx;
  const perf::DecodeCost& c = run_cost_;
  std::int64_t lo, hi;
  const bool first_dominates_start = c.a1 + c.b1 * c0 >= c.a2 + c.b2 * c0;
  const bool first_dominates_end = c.a1 + c.b1 * c_last >= c.a2 + c.b2 * c_last;
  if (first_dominates_start == first_dominates_end) {
    // One line all along: S(j) = j (fixed + a + b c0) + b dx j (j - 1) / 2, a quadratic solved for j, then
    // checked against the rounded boundaries.
    const double a = first_dominates_start ? c.a1 : c.a2, b = first_dominates_start ? c.b1 : c.b2;
    const double qa = b * dx / 2, qb = c.fixed + a + b * c0 - qa;
    const double j = qa > 0 ? (-qb + std::sqrt(qb * qb + 4 * qa * elapsed)) / (2 * qa) : elapsed / qb;
    const auto guess = static_cast<std::int64_t>(j);
    lo = std::clamp<std::int64_t>(guess - 1, 0, run_iterations_ - 1);
    hi = std::clamp<std::int64_t>(guess + 1, 0, run_iterations_ - 1);
  } else {
    // Iterations only get longer as context grows: the first and last iteration times bracket the count.
    const double first = c.step_seconds(c0), last = c.step_seconds(c_last);
    lo = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / last) - 1, 0, run_iterations_ - 1);
    hi = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / first) + 1, 0, run_iterations_ - 1);
  }
  // The estimate is within one iteration in practice: step from it to the exact count, falling back to a
  // binary search over the bracket when rounding put it further off.
  std::int64_t j = std::clamp<std::int64_t>((lo + hi) / 2, 0, run_iterations_ - 1);
  if (j > 0 && run_boundary(j) > t) {
    if (--j > 0 && run_boundary(j) > t)
      hi = j - 1, lo = 0;
    else
      return j;
  } else {
    if (j + 1 >= run_iterations_ || run_boundary(j + 1) > t) return j;
    if (++j + 1 >= run_iterations_ || run_boundary(j + 1) > t) return j;
    lo = j + 1, hi = run_iterations_ - 1;
  }
  while (lo < hi) {  // largest j in [lo, hi] with run_boundary(j) <= t
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (run_boundary(mid) <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

std::int64_t Instance::outstanding_tokens() const {
  const core::SimTime now = engine_->now();
  if (!has_head_) return outstanding_tokens_ - completed_iterations_at(now) * shape_.decode_seqs;
  if (now < run_start_) return outstanding_tokens_;
  // The head's tokens: its prefill chunks, one output token per decode and per prefill it completes.
  const std::int64_t head_tokens =
      head_shape_.prefill_tokens + head_shape_.decode_seqs + head_shape_.prefill_final_chunks;
  return outstanding_tokens_ - head_tokens - completed_iterations_at(now) * shape_.decode_seqs;
}

std::int64_t Instance::kv_blocks_free() const {
  if (!busy_ || !ff_run_) return kv_blocks_free_;
  const core::SimTime now = engine_->now();
  if (has_head_ && now < run_start_) return run_free_start_;  // the run has taken no block yet
  if (run_iterations_ <= 1) return kv_blocks_free_;
  return run_free_start_ - run_extra_blocks(completed_iterations_at(now) + 1);
}

void Instance::preempt_one() {
  // vLLM's choice: the most recently admitted request, offline ones before any online one.
  std::size_t idx = running_.size() - 1;
  for (std::size_t i = running_.size(); i-- > 0;) {
    if ((*pool_)[running_[i]].spec.cls == workload::RequestClass::kOffline) {
      idx = i;
      break;
    }
  }
  const std::uint32_t slot = running_[idx];
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(idx));
  RequestState& r = (*pool_)[slot];
  end_decode(slot, r);
  ++r.preemptions;
  ++stats_.preemptions;
  kv_blocks_free_ += r.kv_blocks;
  r.kv_blocks = 0;
  const double bytes = r.kv_tokens() * config_.kv_bytes_per_token;
  const double swap_capacity = config_.swap_space_gb * 1e9 * placement_.devices;
  if (config_.preemption == PreemptionMode::kSwap && r.prefill_done() &&
      swap_used_bytes_ + bytes <= swap_capacity) {
    r.swapped = true;
    swap_used_bytes_ += bytes;
    step_extra_s_ += bytes / (config_.swap_bandwidth_gbps * 1e9);
  } else {
    // Recompute: the KV is dropped; a later prefill over prompt + output so far rebuilds it and samples the
    // next token, as vLLM does.
    // Everything produced so far is recomputed, also when the request was preempted mid-recompute.
    const std::int32_t target = r.spec.prompt_tokens + r.generated;
    outstanding_tokens_ += target - (r.prefill_target - r.prefilled);
    r.prefill_target = target;
    r.prefilled = 0;
  }
  waiting_[static_cast<int>(r.spec.cls)].push_front(slot);
}

void Instance::start_step() {
  batch_.clear();
  shape_ = perf::BatchShape{};
  step_extra_s_ = 0;
  std::int64_t budget = config_.max_batched_tokens;
  bool preempted = false;
  // Every decoding request must be able to write one more token; free blocks by preemption until it can. Each
  // needs at most one new block, so with at least one free block per running request there is nothing to check.
  if (config_.kv_allocation == KvAllocation::kOnDemand &&
      kv_blocks_free_ < static_cast<std::int64_t>(running_.size())) {
    for (;;) {
      std::int64_t need = 0;
      for (std::uint32_t slot : running_) {
        const RequestState& r = (*pool_)[slot];
        if (r.prefill_done()) need += std::max<std::int64_t>(0, blocks_for(r.kv_tokens() + 1) - r.kv_blocks);
      }
      if (need <= kv_blocks_free_ || running_.empty()) break;
      preempt_one();
      preempted = true;
    }
  }
  const bool on_demand = config_.kv_allocation == KvAllocation::kOnDemand;
  std::int64_t min_remaining = INT64_MAX;
  // Lists a decode and gives it the block its next token needs (the one-iteration allocation; a fast-forwarded
  // run extends it below).
  auto add_decode = [&](std::uint32_t slot) {
    RequestState& r = (*pool_)[slot];
    const std::int32_t ctx = r.spec.prompt_tokens + r.generated;  // decoding: KV holds ctx - 1 tokens
    batch_.push_back(Entry{slot, 0, r.kv_blocks, ctx - 1});
    if (on_demand && blocks_for(ctx) > r.kv_blocks) {
      ++r.kv_blocks;
      --kv_blocks_free_;
    }
    shape_.decode_seqs += 1;
    shape_.decode_ctx += ctx;
    min_remaining = std::min<std::int64_t>(min_remaining, r.spec.output_tokens - r.generated);
    budget -= 1;
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
  };
  // Decodes first (they hold KV and set TPOT), then unfinished prefills, then admissions: online before offline,
  // FCFS within a class.
  run_free_start_ = kv_blocks_free_;
  prefilling_.clear();  // unfinished prefills, in admission order: usually none, so no second pass
  for (std::uint32_t slot : running_) {
    if ((*pool_)[slot].prefill_done())
      add_decode(slot);
    else
      prefilling_.push_back(slot);
  }
  for (std::uint32_t slot : prefilling_) {
    const RequestState& r = (*pool_)[slot];
    if (budget <= 0) break;
    add_prefill(slot, static_cast<std::int32_t>(std::min<std::int64_t>(r.prefill_target - r.prefilled, budget)));
  }
  // After a preemption nothing is admitted this step, so a request cannot be evicted and re-admitted at once.
  int cls = 0;
  while (!preempted) {
    RequestState* r = front_waiting(&cls);
    if (!r || !admissible(*r, kv_blocks_free_, budget, batch_.empty())) break;
    const std::uint32_t slot = waiting_[cls].front();
    waiting_[cls].pop_front();
    const std::int64_t need = admission_blocks(*r);
    kv_blocks_free_ -= need;
    run_free_start_ -=
        need;  // a decode admitted here (a hand-off's) may start a run: its blocks are not the run's
    r->kv_blocks += static_cast<std::int32_t>(need);
    running_.push_back(slot);
    if (r->swapped || r->kv_inbound) {
      if (r->swapped) {
        const double bytes = kv_bytes(*r);
        swap_used_bytes_ -= bytes;
        step_extra_s_ += bytes / (config_.swap_bandwidth_gbps * 1e9);
        r->swapped = false;
      }
      r->kv_inbound = false;  // a hand-off's KV was transferred before it arrived
      begin_decode(slot, *r);
      add_decode(slot);
    } else {
      if (r->first_scheduled < 0) r->first_scheduled = engine_->now();
      const std::int64_t left = r->prefill_target - r->prefilled;
      add_prefill(slot, static_cast<std::int32_t>(config_.chunked_prefill ? std::min(left, budget) : left));
    }
  }
  if (batch_.empty()) {
    busy_ = false;
    // Preemption can only empty the batch if it evicted everyone; the waiting requests are then admissible.
    if (preempted && queued() != 0) {
      start_step();
      return;
    }
    if (provisioner_) provisioner_->on_instance_idle(power_server_);
    return;
  }
  if (config_.check_invariants) check_invariants();
  busy_ = true;
  step_start_ = run_start_ = engine_->now();
  has_head_ = false;
  core::SimTime end;
  if (config_.fast_forward && shape_.prefill_seqs == 0 && step_extra_s_ == 0 && !preempted) {
    // Decode-only and nobody admissible now, so nobody is admissible before the run ends (free blocks only
    // shrink while it runs): run to the first completion or the first iteration the cache cannot hold.
    run_iterations_ = plan_run(min_remaining);
    run_cost_ = model_->decode_cost_cached(shape_.decode_seqs);
    ff_run_ = true;
    end = run_start_ + std::max<core::SimTime>(
                           1, core::from_seconds(run_cost_.run_seconds(shape_.decode_ctx, run_iterations_)));
  } else {
    step_cost_ = model_->step_cost(shape_);
    end = step_start_ + std::max<core::SimTime>(1, core::from_seconds(step_cost_.seconds + step_extra_s_));
    // Stepping, the steps fast-forward would fold into one run are timed as that run is: from where it starts,
    // by the running sum of their (here individually priced) times, rounded once. Rounding each step instead
    // lets the two modes' clocks drift apart by up to half a nanosecond per iteration, enough after thousands
    // of iterations for an arrival to fall between them and join a different step.
    if (!config_.fast_forward && shape_.prefill_seqs == 0 && step_extra_s_ == 0 && !preempted) {
      if (!stepped_run_ || stepped_run_end_ != step_start_) {
        stepped_run_start_ = step_start_;
        stepped_run_seconds_ = 0;
      }
      stepped_run_seconds_ += step_cost_.seconds;
      end = std::max(step_start_ + 1, stepped_run_start_ + core::from_seconds(stepped_run_seconds_));
      stepped_run_ = true;
      stepped_run_end_ = end;
    } else {
      stepped_run_ = false;
    }
    ff_run_ = false;
    run_iterations_ = 1;
    if (config_.fast_forward && step_extra_s_ == 0 && !preempted) {
      run_start_ = end;
      if (fold_run())
        end = run_start_ + std::max<core::SimTime>(
                               1, core::from_seconds(run_cost_.run_seconds(shape_.decode_ctx, run_iterations_)));
      else
        run_start_ = step_start_;
    }
  }
  engine_->schedule_tracked(end, core::kPriorityStepEnd, kind_, static_cast<std::uint32_t>(id_));
}

std::int64_t Instance::plan_run(std::int64_t min_remaining) {
  std::int64_t k = min_remaining;
  const std::int64_t extra = run_extra_blocks(k);
  if (extra > run_free_start_) {
    std::int64_t lo = 1, hi = k;  // extra(1) fits: the preemption check made sure
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo + 1) / 2;
      if (run_extra_blocks(mid) <= run_free_start_)
        lo = mid;
      else
        hi = mid - 1;
    }
    k = lo;
    set_run_blocks(k);
  } else {
    kv_blocks_free_ = run_free_start_ - extra;
  }
  return k;
}

bool Instance::fold_run() {
  // The step's end decides nothing when every running request is in it, each of its prefills completes there,
  // nobody completes there and nobody waits: the next step would then be a decode run of the whole batch.
  // Arrivals during the step cut the run to nothing (enqueue), exactly when they would join the next step.
  if (queued() != 0 || batch_.size() != running_.size() || shape_.prefill_final_chunks != shape_.prefill_seqs ||
      role_ == InstanceRole::kPrefill)  // a prefill instance's finished prompts leave: the batch changes
    return false;
  std::vector<Entry>& run = head_batch_;  // built here, swapped into batch_ below
  run.clear();
  perf::BatchShape run_shape;
  std::int64_t min_remaining = INT64_MAX;
  std::int64_t first_blocks = 0;  // blocks the run's first iteration takes
  for (const Entry& e : batch_) {
    const RequestState& r = (*pool_)[e.slot];
    const std::int32_t generated = r.generated + 1;  // every entry's step ends by sampling a token
    if (generated >= r.spec.output_tokens) return false;
    const std::int32_t ctx = r.spec.prompt_tokens + generated;
    // The blocks held after the step: a decode's next block and a prefill's admission are taken already.
    run.push_back(Entry{e.slot, 0, r.kv_blocks, ctx - 1});
    first_blocks += run_blocks(run.back(), 1) - r.kv_blocks;
    run_shape.decode_seqs += 1;
    run_shape.decode_ctx += ctx;
    min_remaining = std::min<std::int64_t>(min_remaining, r.spec.output_tokens - generated);
  }
  // The run's first iteration must fit without preempting anyone, as the next step would check.
  if (config_.kv_allocation == KvAllocation::kOnDemand && first_blocks > kv_blocks_free_) return false;
  std::swap(batch_, head_batch_);
  head_shape_ = shape_;
  shape_ = run_shape;
  has_head_ = true;
  run_free_start_ = kv_blocks_free_;
  run_iterations_ = plan_run(min_remaining);
  run_cost_ = model_->decode_cost_cached(shape_.decode_seqs);
  ff_run_ = true;
  return true;
}

void Instance::on_event(const core::Event&) {
  // A cut run moves its pending step end earlier in place (Engine::reschedule_earlier), so every step end that
  // fires is current.
  finish_step();
}

void Instance::report_step(core::SimTime start, core::SimTime end, const perf::BatchShape& shape,
                           const std::vector<Entry>& entries, std::int64_t iterations, double busy_seconds,
                           double prefill_share) {
  StepRecord rec;
  rec.start = start;
  rec.end = end;
  rec.shape = &shape;
  rec.iterations = iterations;
  rec.busy_seconds = busy_seconds;
  rec.prefill_share = prefill_share;
  rec.entries = std::span<const Entry>(entries.data(), entries.size());
  observer_->on_step(*this, rec);
}

bool Instance::apply_entries(const std::vector<Entry>& entries, std::int64_t k, core::SimTime now, bool run) {
  // A run's blocks were taken from the free count when it was planned (plan_run); its requests get them now. A
  // single step's decodes got theirs when it was formed.
  const bool run_blocks_due = run && config_.kv_allocation == KvAllocation::kOnDemand;
  bool any_done = false;
  for (const Entry& e : entries) {
    RequestState& r = (*pool_)[e.slot];
    if (e.prefill_chunk > 0) {
      r.prefilled += e.prefill_chunk;
      stats_.prefill_tokens += static_cast<std::uint64_t>(e.prefill_chunk);
      outstanding_tokens_ -= e.prefill_chunk;
      if (r.prefill_done()) {
        r.generated += 1;  // the step that completes a prefill samples the next output token
        if (r.first_token < 0) r.first_token = now;
        if (leaves_here(r))
          any_done = true;  // handed on in finish_step, which compacts the batch
        else
          begin_decode(e.slot, r);
        stats_.decode_tokens += 1;
        outstanding_tokens_ -= 1;
      }
    } else {
      r.generated += static_cast<std::int32_t>(k);
      if (run_blocks_due) r.kv_blocks = run_blocks(e, k);
      stats_.decode_tokens += static_cast<std::uint64_t>(k);
      outstanding_tokens_ -= k;
    }
    any_done |= r.generated >= r.spec.output_tokens;
  }
  return any_done;
}

void Instance::count_step(core::SimTime end, std::int64_t iterations, std::size_t batch) {
  stats_.steps += 1;
  stats_.iterations += static_cast<std::uint64_t>(iterations);
  stats_.busy_time += end - step_start_;
  stats_.batch_size_iterations[batch] += static_cast<std::uint64_t>(iterations);
}

double Instance::busy_seconds_to(core::SimTime end, std::int64_t iterations) const {
  const double elapsed = core::to_seconds(end - step_start_);
  if (ff_run_) return std::max(0.0, elapsed - static_cast<double>(iterations) * run_cost_.overhead);
  return std::min(step_cost_.busy_seconds, elapsed);
}

void Instance::finish_head() {
  count_step(run_start_, 1, head_batch_.size());
  if (observer_)
    report_step(step_start_, run_start_, head_shape_, head_batch_, 1, step_cost_.busy_seconds,
                step_cost_.prefill_share);
  apply_entries(head_batch_, 1, run_start_, false);  // nobody completes here (fold_run made sure)
  step_start_ = run_start_;
  has_head_ = false;
}

void Instance::finish_step() {
  const core::SimTime now = engine_->now();
  if (has_head_) finish_head();
  const std::int64_t k = run_iterations_;
  bool any_done = false;
  if (k > 0) {  // not a head whose run was cut to nothing
    count_step(now, k, batch_.size());
    if (observer_)
      report_step(step_start_, now, shape_, batch_, k, busy_seconds_to(now, k),
                  ff_run_ ? 0.0 : step_cost_.prefill_share);
    any_done = apply_entries(batch_, k, now, ff_run_);
  }
  busy_ = false;
  ff_run_ = false;
  run_iterations_ = 1;
  if (any_done) {
    stepped_run_ = false;  // the batch changes: fast-forward would start a new run
    // Stable compaction keeps admission order, which decides who gets prefill budget first.
    std::size_t w = 0;
    for (std::uint32_t slot : running_) {
      if ((*pool_)[slot].generated >= (*pool_)[slot].spec.output_tokens)
        finish_request(slot, RequestStatus::kCompleted);
      else if (leaves_here((*pool_)[slot]))
        hand_off(slot);
      else
        running_[w++] = slot;
    }
    running_.resize(w);
  }
  if (!running_.empty() || queued() != 0)
    start_step();
  else if (provisioner_)
    provisioner_->on_instance_idle(power_server_);
}

void Instance::accept(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  if (!r.prefill_done() || r.generated < 1) throw std::logic_error("accept: a hand-off comes after the prefill");
  r.kv_inbound = true;
  enqueue(slot);
}

void Instance::set_role(InstanceRole role, HandoffSink* sink) {
  if (role == InstanceRole::kPrefill && !sink) throw std::logic_error("a prefill instance needs a hand-off sink");
  role_ = role;
  handoff_ = sink;
}

void Instance::hand_off(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  kv_blocks_free_ += r.kv_blocks;  // its KV leaves with it (the sink models the transfer)
  r.kv_blocks = 0;
  ++stats_.handed_off;
  handoff_->on_handoff(*this, slot);
}

void Instance::power_on() {
  powered_ = true;
  if (!busy_ && (!running_.empty() || queued() != 0)) start_step();
}

void Instance::finish_request(std::uint32_t slot, RequestStatus status) {
  RequestState& r = (*pool_)[slot];
  r.status = status;
  if (status == RequestStatus::kCompleted) {
    r.completion = engine_->now();
    ++stats_.completed;
  }
  if (r.swapped) swap_used_bytes_ -= r.kv_tokens() * config_.kv_bytes_per_token;
  kv_blocks_free_ += r.kv_blocks;
  r.kv_blocks = 0;
  end_decode(slot, r);
  if (observer_) observer_->on_request_done(slot, r);
  pool_->release(slot);
}

void Instance::check_invariants() const {
  std::int64_t held = 0, outstanding = 0;
  auto fail = [&](const std::string& what) {
    throw std::logic_error("instance " + std::to_string(id_) + " invariant broken: " + what);
  };
  for (std::uint32_t slot : running_) {
    const RequestState& r = (*pool_)[slot];
    held += r.kv_blocks;
    outstanding += tokens_left_here(r);
    if (r.kv_blocks < blocks_for(r.kv_tokens())) fail("a running request holds fewer blocks than its KV");
    if (r.decoding != r.prefill_done()) fail("a running request's decode state disagrees with its prefill");
    if (!r.prefill_done() && r.prefill_target != r.spec.prompt_tokens + r.generated)
      fail("a prefill does not cover the prompt and the tokens produced so far");
  }
  for (const auto& q : waiting_)
    for (std::size_t i = 0; i < q.size(); ++i) {
      const RequestState& r = (*pool_)[q[i]];
      if (r.kv_blocks != 0) fail("a waiting request holds blocks");
      if (r.decoding) fail("a waiting request is marked decoding");
      outstanding += tokens_left_here(r);
    }
  // During a step the batch's allocations for it are already taken.
  if (held + kv_blocks_free_ != kv_blocks_total_) fail("blocks held + free != total");
  if (kv_blocks_free_ < 0) fail("negative free blocks");
  if (outstanding != outstanding_tokens_) fail("outstanding token count drifted");
}

void Instance::abandon_all(core::SimTime end) {
  if (busy_ && has_head_) {
    if (end >= run_start_) {
      finish_head();  // it ended by `end`, as its own event would have
    } else {
      // The head is in flight: it is the step, and its run never starts.
      kv_blocks_free_ = run_free_start_;
      std::swap(batch_, head_batch_);
      shape_ = head_shape_;
      ff_run_ = false;
      run_iterations_ = 1;
      run_start_ = step_start_;
      has_head_ = false;
    }
  }
  if (busy_ && end > step_start_) {
    // Book the step in flight up to the end of the run, so busy time, energy and carbon are not lost. A
    // fast-forwarded run is credited with the iterations it completed by then, and its devices were busy as
    // stepping would have booked them: fully in those iterations, and in the one cut short for as much of it
    // as its own busy part lasts.
    const std::int64_t done = ff_run_ ? completed_iterations_at(end) : 0;
    double busy = 0;
    if (!ff_run_) {
      busy = busy_seconds_to(end, 0);
    } else {
      const core::SimTime cut_at = run_boundary(done);
      const double cut_ctx = static_cast<double>(shape_.decode_ctx + done * shape_.decode_seqs);
      busy = busy_seconds_to(cut_at, done) +
             std::min(run_cost_.step_seconds(cut_ctx) - run_cost_.overhead, core::to_seconds(end - cut_at));
    }
    count_step(end, done, batch_.size());
    if (observer_)
      report_step(step_start_, end, shape_, batch_, std::max<std::int64_t>(1, done), busy,
                  ff_run_ ? 0.0 : step_cost_.prefill_share);
    // Its completed iterations produced tokens, as the steps stepping finished did (blocks: below).
    if (done > 0) apply_entries(batch_, done, end, false);
  }
  if (busy_ && ff_run_ && config_.kv_allocation == KvAllocation::kOnDemand)
    for (const Entry& e : batch_)  // the blocks the run took (finish_step would have assigned them)
      (*pool_)[e.slot].kv_blocks = run_blocks(e, run_iterations_);
  busy_ = false;
  ff_run_ = false;
  stepped_run_ = false;
  run_iterations_ = 1;
  for (std::uint32_t slot : running_) finish_request(slot, RequestStatus::kUnfinished);
  running_.clear();
  for (auto& q : waiting_) {
    while (!q.empty()) {
      finish_request(q.front(), RequestStatus::kUnfinished);
      q.pop_front();
    }
  }
}

}  // namespace greenfleet::serving
