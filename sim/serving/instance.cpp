#include "sim/serving/instance.hpp"

#include <algorithm>

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
  running_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  batch_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  stats_.batch_size_iterations.assign(static_cast<std::size_t>(config_.max_num_seqs) + 1, 0);
}

std::int64_t Instance::blocks_for(const RequestState& r) const {
  // Reserve-on-admission: a request holds the blocks for its whole prompt and output from the start, so the
  // cache can never overflow mid-decode.
  const std::int64_t tokens = static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens;
  return (tokens + config_.kv_block_size - 1) / config_.kv_block_size;
}

bool Instance::can_admit_front() const {
  if (waiting_.empty() || running_.size() >= static_cast<std::size_t>(config_.max_num_seqs)) return false;
  const RequestState& r = (*pool_)[waiting_.front()];
  if (blocks_for(r) > kv_blocks_free_) return false;
  // Called when every running request is decoding: each of them takes one token of the budget.
  const std::int64_t budget = config_.max_batched_tokens - static_cast<std::int64_t>(running_.size());
  if (budget <= 0) return false;
  return config_.chunked_prefill || running_.empty() || r.spec.prompt_tokens <= budget;
}

void Instance::enqueue(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  r.instance = id_;
  const std::int64_t tokens = static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens;
  if (tokens > max_context_ || blocks_for(r) > kv_blocks_total_) {
    ++stats_.rejected;
    finish_request(slot, RequestStatus::kRejected);
    return;
  }
  waiting_.push_back(slot);
  outstanding_tokens_ += tokens;
  if (!busy_) {
    start_step();
    return;
  }
  // A fast-forwarded decode run must end at the first iteration boundary after this arrival when the newcomer
  // could join there; otherwise the run is exactly what stepping would do.
  if (run_iterations_ > 1 && waiting_.size() == 1 && can_admit_front()) {
    const std::int64_t k = completed_iterations_at(engine_->now()) + 1;
    if (k < run_iterations_) {
      run_iterations_ = k;
      ++generation_;
      engine_->schedule(std::max(run_boundary(k), engine_->now()), core::kPriorityStepEnd, kind_,
                        static_cast<std::uint32_t>(id_), generation_);
    }
  }
}

core::SimTime Instance::run_boundary(std::int64_t j) const {
  return step_start_ + core::from_seconds(model_->decode_run_seconds(shape_.decode_seqs, shape_.decode_ctx, j));
}

std::int64_t Instance::completed_iterations_at(core::SimTime t) const {
  if (!busy_ || run_iterations_ <= 1 || t <= step_start_) return 0;
  // Iterations only get longer as context grows, so the first and last iteration times bracket the count and
  // the binary search below touches a handful of candidates.
  const double elapsed = core::to_seconds(t - step_start_);
  const double first = model_->decode_step_seconds(shape_.decode_seqs, shape_.decode_ctx);
  const double last = model_->decode_step_seconds(
      shape_.decode_seqs, shape_.decode_ctx + (run_iterations_ - 1) * static_cast<std::int64_t>(shape_.decode_seqs));
  std::int64_t lo = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / last) - 1, 0, run_iterations_ - 1);
  std::int64_t hi = std::clamp<std::int64_t>(static_cast<std::int64_t>(elapsed / first) + 1, 0, run_iterations_ - 1);
  if (run_boundary(lo) > t) lo = 0;             // rounding guard: keep run_boundary(lo) <= t
  if (hi < run_iterations_ - 1 && run_boundary(hi + 1) <= t) hi = run_iterations_ - 1;
  while (lo < hi) {  // largest j in [lo, hi] with run_boundary(j) <= t
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (run_boundary(mid) <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

std::int64_t Instance::outstanding_tokens() const {
  return outstanding_tokens_ - completed_iterations_at(engine_->now()) * shape_.decode_seqs;
}

void Instance::start_step() {
  batch_.clear();
  shape_ = perf::BatchShape{};
  std::int64_t budget = config_.max_batched_tokens;
  auto add_prefill = [&](std::uint32_t slot, std::int32_t chunk) {
    const RequestState& r = (*pool_)[slot];
    const double n = chunk, past = r.prefilled;
    batch_.push_back(Entry{slot, chunk});
    shape_.prefill_tokens += chunk;
    shape_.prefill_seqs += 1;
    shape_.prefill_attn_ctx += n * past + n * (n + 1) / 2;
    shape_.prefill_kv_tokens += r.prefilled + chunk;
    budget -= chunk;
  };
  // Decodes first (they hold KV and set TPOT), then unfinished prefills, then new admissions in FCFS order.
  for (std::uint32_t slot : running_) {
    const RequestState& r = (*pool_)[slot];
    if (!r.prefill_done()) continue;
    batch_.push_back(Entry{slot, 0});
    shape_.decode_seqs += 1;
    shape_.decode_ctx += static_cast<std::int64_t>(r.spec.prompt_tokens) + r.generated;
    budget -= 1;
  }
  for (std::uint32_t slot : running_) {
    const RequestState& r = (*pool_)[slot];
    if (r.prefill_done()) continue;
    if (budget <= 0) break;
    add_prefill(slot, static_cast<std::int32_t>(std::min<std::int64_t>(r.spec.prompt_tokens - r.prefilled, budget)));
  }
  while (!waiting_.empty() && running_.size() < static_cast<std::size_t>(config_.max_num_seqs) && budget > 0) {
    const std::uint32_t slot = waiting_.front();
    RequestState& r = (*pool_)[slot];
    const std::int64_t need = blocks_for(r);
    if (need > kv_blocks_free_) break;
    if (!config_.chunked_prefill && r.spec.prompt_tokens > budget && !batch_.empty()) break;
    waiting_.pop_front();
    kv_blocks_free_ -= need;
    r.kv_blocks = static_cast<std::int32_t>(need);
    r.first_scheduled = engine_->now();
    running_.push_back(slot);
    const std::int64_t chunk = config_.chunked_prefill ? std::min<std::int64_t>(r.spec.prompt_tokens, budget)
                                                       : r.spec.prompt_tokens;
    add_prefill(slot, static_cast<std::int32_t>(chunk));
  }
  if (batch_.empty()) {
    busy_ = false;
    return;
  }
  std::int64_t k = 1;
  double seconds;
  if (config_.fast_forward && shape_.prefill_seqs == 0 && !can_admit_front()) {
    // Nothing can change before the first completion: run all iterations up to it as one event.
    k = INT64_MAX;
    for (const Entry& e : batch_) k = std::min<std::int64_t>(k, (*pool_)[e.slot].remaining_output());
    seconds = model_->decode_run_seconds(shape_.decode_seqs, shape_.decode_ctx, k);
  } else {
    seconds = model_->step_seconds(shape_);
  }
  busy_ = true;
  step_start_ = engine_->now();
  run_iterations_ = k;
  const core::SimTime duration = std::max<core::SimTime>(1, core::from_seconds(seconds));
  engine_->schedule(step_start_ + duration, core::kPriorityStepEnd, kind_, static_cast<std::uint32_t>(id_),
                    generation_);
}

void Instance::on_event(const core::Event& e) {
  if (e.payload != generation_) return;  // superseded by a cut run
  finish_step();
}

void Instance::finish_step() {
  const core::SimTime now = engine_->now();
  const std::int64_t k = run_iterations_;
  stats_.steps += 1;
  stats_.iterations += static_cast<std::uint64_t>(k);
  stats_.busy_time += now - step_start_;
  stats_.batch_size_iterations[batch_.size()] += static_cast<std::uint64_t>(k);
  if (observer_) observer_->on_step(*this, step_start_, now, shape_, k);

  bool any_done = false;
  for (const Entry& e : batch_) {
    RequestState& r = (*pool_)[e.slot];
    if (e.prefill_chunk > 0) {
      r.prefilled += e.prefill_chunk;
      stats_.prefill_tokens += static_cast<std::uint64_t>(e.prefill_chunk);
      outstanding_tokens_ -= e.prefill_chunk;
      if (r.prefill_done()) {
        r.generated = 1;  // the prefill step samples the first output token
        r.first_token = now;
        stats_.decode_tokens += 1;
        outstanding_tokens_ -= 1;
      }
    } else {
      r.generated += static_cast<std::int32_t>(k);
      stats_.decode_tokens += static_cast<std::uint64_t>(k);
      outstanding_tokens_ -= k;
    }
    any_done |= r.generated >= r.spec.output_tokens;
  }
  if (any_done) {
    // Stable compaction keeps admission order, which decides who gets prefill budget first.
    std::size_t w = 0;
    for (std::uint32_t slot : running_) {
      if ((*pool_)[slot].generated >= (*pool_)[slot].spec.output_tokens) finish_request(slot, RequestStatus::kCompleted);
      else running_[w++] = slot;
    }
    running_.resize(w);
  }
  busy_ = false;
  run_iterations_ = 1;
  if (!running_.empty() || !waiting_.empty()) start_step();
}

void Instance::finish_request(std::uint32_t slot, RequestStatus status) {
  RequestState& r = (*pool_)[slot];
  r.status = status;
  if (status == RequestStatus::kCompleted) {
    r.completion = engine_->now();
    ++stats_.completed;
  }
  kv_blocks_free_ += r.kv_blocks;
  r.kv_blocks = 0;
  if (observer_) observer_->on_request_done(r);
  pool_->release(slot);
}

void Instance::abandon_all() {
  ++generation_;
  busy_ = false;
  for (std::uint32_t slot : running_) finish_request(slot, RequestStatus::kUnfinished);
  running_.clear();
  while (!waiting_.empty()) {
    finish_request(waiting_.front(), RequestStatus::kUnfinished);
    waiting_.pop_front();
  }
}

}  // namespace greenfleet::serving
