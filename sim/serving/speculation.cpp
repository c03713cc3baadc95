#include "sim/serving/speculation.hpp"

#include <algorithm>
#include <stdexcept>

#include "sim/serving/instance.hpp"

// The speculative parts of Instance (speculation.hpp), apart from instance.cpp: the plain paths never call them,
// and kept here they leave instance.cpp's inlining budget to its hot paths.
namespace greenfleet::serving {

void Instance::clear_draft_phase() {
  has_draft_ = false;
  draft_wait_s_ = 0;
  draft_.entries.clear();
  draft_.shape = perf::BatchShape{};
  draft_count_.fill(0);  // a fixed size: stored in line, where filling gamma + 1 called memset
  draft_context_.fill(0);
  draft_drafted_ = 0;
  draft_verifies_ = 0;
  verify_listed_ = verify_tokens_ = 0;
  verify_short_.clear();
}

std::int64_t Instance::form_running_spec() {
  clear_draft_phase();
  const Speculation& spec = *spec_;
  const std::int32_t gamma = spec.gamma;
  const bool on_demand = kv_.on_demand();
  const bool sampled = spec.sampled;
  plain_decodes_.clear();
  // A full round (gamma drafts, gamma + 1 tokens verified) is the usual case: for those only their count and
  // their contexts' sum are kept, and every sum of the shape follows from them after the pass. Short rounds (a
  // request's last one or two) add their own terms to `short_`.
  const std::int32_t n_full = gamma + 1;
  std::int64_t full = 0, full_past = 0, emitted = 0;
  bool done = false;
  ShortSums short_{};
  // The pool's slots, read once: nothing in the pass adds a request to the pool. And a copy of the block
  // arithmetic's constants, which the pass's stores into requests cannot change.
  RequestState* const slots = running_.empty() ? nullptr : &(*pool_)[0];
  const KvBlockManager blocks = kv_;
  std::int64_t taken = 0;  // blocks the verify chunks take, from the free count once after the pass
  // One pass per acceptance mode, and one more for vLLM's block size of 16 (blocks by a constant shift), so that
  // neither is tested per request. kShift: log2 of the block size, or -1 for any other size.
  auto pass = [&]<bool kSampled, int kShift>() {
    for (std::uint32_t slot : running_) {
      RequestState& r = slots[slot];
      if (!r.prefill_done()) {
        prefilling_.push_back(slot);
        continue;
      }
      if (r.mode != RequestMode::kSpeculative) {
        plain_decodes_.push_back(slot);
        continue;
      }
      // Verifying since the end of the step that finished its prefill or swapped it back in (begin_verify()).
      if (!r.decoding) [[unlikely]]
        throw std::logic_error("a running speculative request is not verifying");
      // As add_verify_entry(): its drafts (no more than it still needs after the target's own token) and the
      // target's own position, verified in one chunk after its KV. The chunk is not listed in batch_: the
      // ledger charges it by accrual (StepRecord::verify_tokens) and its round is credited here.
      const std::int32_t past = r.spec.prompt_tokens + r.generated - 1;
      if (r.spec.output_tokens - r.generated - 1 < gamma) [[unlikely]] {
        list_short_round(slot, r, past, &short_);
        continue;
      }
      const std::int64_t end = past + n_full;
      const std::int64_t more =
          (kShift >= 0 ? (end + (std::int64_t{1} << kShift) - 1) >> kShift : blocks.blocks_for(end)) - r.kv_blocks;
      if (on_demand && more > 0) {
        r.kv_blocks += static_cast<std::int32_t>(more);
        taken += more;
      }
      ++full;
      full_past += past;
      // The round's result, credited now (see rounds_emitted_): at most gamma + 1 tokens, which it still needs.
      const std::int32_t round = r.verify_rounds;
      const std::int32_t t = kSampled ? spec.round_tokens(r.spec.id, round) : spec.expected_tokens_at(round);
      r.generated += t;
      r.verify_rounds = round + 1;
      emitted += t;
      done |= r.generated >= r.spec.output_tokens;
    }
  };
  const bool by_16 = blocks.block_size() == 16;
  if (sampled)
    by_16 ? pass.template operator()<true, 4>() : pass.template operator()<true, -1>();
  else
    by_16 ? pass.template operator()<false, 4>() : pass.template operator()<false, -1>();
  kv_.take(taken);
  // Each full round's terms: tokens n, attention context n * past + n (n + 1) / 2, KV tokens past + n, and its
  // drafts' context past + 1 (note_drafts).
  const std::int64_t tokens = full * n_full + short_.tokens;
  const std::int64_t seqs = full + short_.seqs;
  const std::int64_t attn_ctx = n_full * full_past + full * (n_full * (n_full + 1) / 2) + short_.attn_ctx;
  const std::int64_t kv_tokens = full_past + full * n_full + short_.kv_tokens;
  draft_count_[static_cast<std::size_t>(gamma)] += full;
  draft_context_[static_cast<std::size_t>(gamma)] += full_past + full;
  draft_drafted_ += full * gamma;  // the others were tallied by note_drafts
  draft_verifies_ += static_cast<std::int32_t>(full);
  verify_listed_ = static_cast<std::int32_t>(seqs);
  verify_tokens_ = seqs > 0 ? n_full : 0;
  rounds_emitted_ = emitted + short_.emitted;
  rounds_done_ = done || short_.done;
  // Integer-valued terms far below 2^53: their sum in doubles is exact whatever the order, so this is the value
  // adding each entry's term would give.
  shape_.prefill_tokens += tokens;
  shape_.prefill_seqs += static_cast<std::int32_t>(seqs);
  shape_.prefill_final_chunks += static_cast<std::int32_t>(seqs);
  shape_.prefill_attn_ctx += static_cast<double>(attn_ctx);
  shape_.prefill_kv_tokens += kv_tokens;
  return tokens;
}

void Instance::list_short_round(std::uint32_t slot, RequestState& r, std::int32_t past, ShortSums* sums) {
  const std::int32_t gamma = spec_->gamma;
  const std::int32_t drafts = std::min(gamma, r.spec.output_tokens - r.generated - 1);
  const std::int32_t n = drafts + 1;  // not listed in batch_, as form_running_spec()'s full rounds
  const std::int64_t more = kv_.blocks_for(past + n) - r.kv_blocks;
  if (kv_.on_demand() && more > 0) {
    r.kv_blocks += static_cast<std::int32_t>(more);
    kv_.take(more);
  }
  sums->tokens += n;
  sums->seqs += 1;
  sums->attn_ctx += static_cast<std::int64_t>(n) * past + n * (n + 1) / 2;
  sums->kv_tokens += past + n;
  // Its charges accrue (StepRecord::verify_tokens) but for the tokens it did not take, listed.
  if (drafts > 0) note_drafts(slot, drafts, past + 1, false);
  note_short(slot, gamma - drafts);
  // Its round's result, credited now, no more than it still had to produce.
  const std::int32_t t =
      std::min(spec_->round_tokens(r.spec.id, r.verify_rounds), r.spec.output_tokens - r.generated);
  r.generated += t;
  ++r.verify_rounds;
  sums->emitted += t;
  sums->done |= r.generated >= r.spec.output_tokens;
}

bool Instance::apply_rounds(std::int64_t k, core::SimTime now, bool run) {
  // The verifying requests' rounds were credited to them when the step was formed: the instance's counts now.
  const std::int64_t tokens = rounds_emitted_;
  stats_.decode_tokens += static_cast<std::uint64_t>(tokens);
  outstanding_tokens_ -= tokens;
  stats_.verify_rounds += static_cast<std::uint64_t>(verify_listed_);
  stats_.verify_tokens += static_cast<std::uint64_t>(tokens);
  // count_step() counted the step's batch_, which does not list them: it ran with them.
  auto& hist = stats_.batch_size_iterations;
  hist[batch_.size()] -= static_cast<std::uint64_t>(k);
  hist[batch_.size() + static_cast<std::size_t>(verify_listed_)] += static_cast<std::uint64_t>(k);
  bool any_done = rounds_done_;
  rounds_emitted_ = 0;
  rounds_done_ = false;
  // The step's other entries (plain decodes, prefills, admissions), in their order.
  if (!batch_.empty()) any_done |= apply_entries(batch_, k, now, run);
  return any_done;
}

void Instance::uncredit_rounds() {
  const std::int32_t gamma = spec_->gamma;
  // A short round drafted gamma - fewer tokens, every token its request still needed after the target's own: the
  // request had output - 1 - drafts tokens before it.
  for (const VerifyShort& v : verify_short_) {
    RequestState& r = (*pool_)[v.slot];
    r.generated = r.spec.output_tokens - 1 - (gamma - v.fewer);
    --r.verify_rounds;
  }
  // The full rounds: every running request that was verifying when the step was formed (the step's admissions
  // are not yet), but for the short ones; a full round's tokens are its round's, uncapped.
  for (std::uint32_t slot : running_) {
    RequestState& r = (*pool_)[slot];
    if (r.mode != RequestMode::kSpeculative || !r.decoding) continue;
    if (std::any_of(verify_short_.begin(), verify_short_.end(),
                    [&](const VerifyShort& v) { return v.slot == slot; }))
      continue;
    --r.verify_rounds;
    r.generated -= spec_->round_tokens(r.spec.id, r.verify_rounds);
  }
  rounds_emitted_ = 0;
  rounds_done_ = false;
}

void Instance::add_draft_prefill(std::uint32_t slot, std::int32_t chunk, std::int32_t past) {
  (*pool_)[slot].draft_prefilled = past + chunk;
  draft_.entries.push_back(Entry{slot, chunk, 0, past});
  const double n = chunk, p = past;
  draft_.shape.prefill_tokens += chunk;
  draft_.shape.prefill_seqs += 1;
  draft_.shape.prefill_attn_ctx += n * p + n * (n + 1) / 2;
  draft_.shape.prefill_kv_tokens += past + chunk;
}

std::int32_t Instance::add_verify_entry(std::uint32_t slot) {
  RequestState& r = (*pool_)[slot];
  const std::int32_t drafts = std::min(spec_->gamma, r.spec.output_tokens - r.generated - 1);
  const std::int32_t n = drafts + 1, past = r.spec.prompt_tokens + r.generated - 1;  // its KV: prefill done
  batch_.push_back(Entry{slot, n, r.kv_blocks, past});
  const std::int64_t more = kv_.blocks_for(past + n) - r.kv_blocks;
  if (kv_.on_demand() && more > 0) {
    r.kv_blocks += static_cast<std::int32_t>(more);
    kv_.take(more);
  }
  const double dn = n, dp = past;
  shape_.prefill_tokens += n;
  shape_.prefill_seqs += 1;
  shape_.prefill_final_chunks += 1;
  shape_.prefill_attn_ctx += dn * dp + dn * (dn + 1) / 2;
  shape_.prefill_kv_tokens += past + n;
  // Its drafts: a draft entry is marked by blocks_before 1 and starts at the context the target has produced.
  if (drafts > 0) note_drafts(slot, drafts, past + 1, true);
  return n;
}

void Instance::price_draft(std::int64_t prefill_tokens) {
  const perf::PerfModel& m = *spec_->draft->model_;
  // Drafting iteration j runs the requests with more than j drafts (each at its context + j); the first also
  // runs the draft prefills. Tallied by draft count as the entries were listed (note_drafts), so the phase costs
  // O(gamma) model calls.
  const auto& count = draft_count_;
  const auto& context = draft_context_;
  const std::int64_t drafted = draft_drafted_;
  const std::int32_t verifies = draft_verifies_;
  // Sequences and their total context in iteration j: the suffix sums over draft counts > j.
  std::int64_t seqs = verifies, ctx = 0;
  for (std::int32_t d = 1; d <= spec_->gamma; ++d) ctx += context[static_cast<std::size_t>(d)];
  perf::BatchShape first = draft_.shape;
  first.decode_seqs = verifies;
  first.decode_ctx = ctx;
  const perf::StepCost c0 = m.step_cost(first);
  double seconds = c0.seconds, busy = c0.busy_seconds;
  const double prefill_busy = c0.prefill_share * c0.busy_seconds;
  std::int64_t iterations = 1;
  for (std::int32_t j = 1; j < spec_->gamma; ++j) {
    // Leaving: the requests with exactly j drafts; the others' contexts grow by one.
    seqs -= count[static_cast<std::size_t>(j)];
    ctx -= context[static_cast<std::size_t>(j)] + (j - 1) * count[static_cast<std::size_t>(j)];
    if (seqs == 0) break;
    ctx += seqs;
    const perf::DecodeCost dc = m.decode_cost_cached(static_cast<std::int32_t>(seqs));
    seconds += dc.step_seconds(static_cast<double>(ctx));
    busy += dc.busy_step_seconds(static_cast<double>(ctx));  // a host floor's wait is not busy
    ++iterations;
  }
  draft_.start = timer_.step_start;
  draft_.end = timer_.step_start + std::max<core::SimTime>(1, core::from_seconds(seconds));
  draft_.busy_seconds = busy;
  draft_.prefill_share = busy > 0 ? prefill_busy / busy : 0;
  draft_.iterations = iterations;
  draft_.drafted = drafted;
  // For the ledger every entry is charged by its tokens, as prefill chunks are: its prompt chunk or its drafts.
  draft_.shape.prefill_tokens = prefill_tokens + drafted;
  draft_.shape.prefill_seqs += verifies;
  draft_wait_s_ = seconds + (verifies > 0 ? spec_->link_seconds(verifies) : 0.0);
  has_draft_ = true;
}

void Instance::reserve_draft(RequestState& r) {
  const std::int64_t need = whole_request_blocks(r);
  kv_.take(need);
  draft_held_ += need;
  r.draft_blocks = static_cast<std::int32_t>(need);
}

void Instance::release_draft(RequestState& r) {
  kv_.give(r.draft_blocks);
  draft_held_ -= r.draft_blocks;
  r.draft_blocks = 0;
}

void Instance::book_draft(const DraftPhase& d, std::int32_t verify_tokens, std::span<const VerifyShort> shorts,
                          core::SimTime idle_until) {
  stats_.steps += 1;
  stats_.iterations += static_cast<std::uint64_t>(d.iterations);
  stats_.busy_time += d.end - d.start;
  stats_.prefill_tokens += static_cast<std::uint64_t>(d.shape.prefill_tokens - d.drafted);
  stats_.decode_tokens += static_cast<std::uint64_t>(d.drafted);
  // Its sequences: the draft prefills and the verify chunks with drafts (price_draft).
  const std::size_t b =
      std::min(static_cast<std::size_t>(d.shape.prefill_seqs), stats_.batch_size_iterations.size() - 1);
  stats_.batch_size_iterations[b] += static_cast<std::uint64_t>(d.iterations);
  if (!observer_) return;
  StepRecord rec;
  rec.start = d.start;
  rec.end = d.end;
  rec.shape = &d.shape;
  rec.iterations = 1;
  rec.busy_seconds = d.busy_seconds;
  rec.prefill_share = d.prefill_share;
  rec.entries = std::span<const Entry>(d.entries.data(), d.entries.size());
  // The verifying requests' drafts: gamma each, but for those that drafted fewer.
  rec.verify_tokens = verify_tokens > 0 ? verify_tokens - 1 : 0;
  rec.verify_short = shorts;
  rec.idle_until = idle_until;
  observer_->on_step(*this, rec);
}

void Instance::set_speculation(const Speculation* spec) {
  if (!spec || !spec->draft || spec->draft == this) throw std::logic_error("speculation needs another instance");
  if (spec->gamma < 1 || spec->gamma > Speculation::kMaxGamma)
    throw std::logic_error("speculation: gamma out of range");
  if (spec->expected != spec->expected_tokens()) throw std::logic_error("speculation: prepare() not called");
  spec_ = spec;
  update_finish_kind();
  spec->draft->role_ = InstanceRole::kDraft;
  // Its batches are this instance's speculative requests: its histogram spans this instance's batch sizes.
  auto& hist = spec->draft->stats_.batch_size_iterations;
  if (hist.size() < stats_.batch_size_iterations.size()) hist.resize(stats_.batch_size_iterations.size(), 0);
  draft_.entries.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  plain_decodes_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
  verify_short_.reserve(static_cast<std::size_t>(config_.max_num_seqs));
}

void Instance::begin_verify(std::uint32_t slot, RequestState& r) {
  r.decoding = true;
  if (observer_) observer_->on_verify_begin(*this, slot);
}

void Instance::verify_span(std::uint32_t slot, bool begins) {
  if (begins)
    observer_->on_verify_begin(*this, slot);
  else
    observer_->on_verify_end(*this, slot);
}

void Instance::note_short(std::uint32_t slot, std::int32_t fewer) {
  verify_short_.push_back(VerifyShort{slot, fewer});
}

}  // namespace greenfleet::serving
