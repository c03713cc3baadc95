// A decode run cut short goes on in the next step, whose pass over the same requests books the run's tokens
// (Instance::list_continued()). Kept apart from instance.cpp, whose step formation inlines within tight limits.
#include "sim/serving/instance.hpp"

#include <algorithm>
#include <stdexcept>

namespace greenfleet::serving {

template <bool kMulti>
void Instance::book_continued() {
  if (free_stale_) settle_free(head_batch_, continued_);
  apply_entries(head_batch_, continued_, engine_->now(), true);
  continued_ = 0;
}

void Instance::settle_free(const std::vector<Entry>& run, std::int64_t iterations) {
  if (!free_stale_ || iterations <= 0) throw std::logic_error("settle_free: no cut run's free count to settle");
  std::int64_t extra = 0;
  const std::int64_t tokens = iterations * tokens_per_step_;
  for (const Entry& e : run)
    if (e.prefill_chunk == 0) extra += kv_.run_blocks(e, tokens) - e.blocks_before;
  kv_.give(stale_extra_ - extra);
  free_stale_ = false;
}

namespace {

struct ContinuedSums {
  std::int64_t cut = 0;        // blocks the cut run's iterations took
  std::int64_t taken = 0;      // blocks the next iteration takes
  std::int64_t run = 0;        // blocks plan_tokens more tokens take
  std::int64_t kv_tokens = 0;  // the entries' KV tokens
};

// The continued run's entries `in` (n of them, on-demand blocks): books per_entry tokens into each request (pool
// `pool`) and lists it in `out` as a decode holding the blocks its KV now needs, taking those of its next
// iteration's `tokens` (`out` may be `in`: each entry is read before it is written). kShift: log2 of the block
// size, or -1 for any size.
template <int kShift>
[[gnu::always_inline]] inline ContinuedSums continue_entries(const BatchEntry* in, BatchEntry* out, std::size_t n,
                                                             RequestState* pool, std::int64_t per_entry,
                                                             std::int64_t tokens, std::int64_t plan_tokens,
                                                             const KvBlockManager& kv) {
  auto blocks_for = [&](std::int64_t t) {
    if constexpr (kShift >= 0)
      return (t + ((std::int64_t{1} << kShift) - 1)) >> kShift;
    else
      return kv.blocks_for(t);
  };
  ContinuedSums s;
  const auto emitted = static_cast<std::int32_t>(per_entry);
  for (const BatchEntry* const end = in + n; in != end; ++in, ++out) {
    const BatchEntry e = *in;
    RequestState& r = pool[e.slot];
    r.generated += emitted;
    const std::int64_t kv_tokens = e.kv_tokens_before + per_entry;
    const std::int64_t held = std::max<std::int64_t>(e.blocks_before, blocks_for(kv_tokens));
    const std::int64_t next = std::max<std::int64_t>(held, blocks_for(kv_tokens + tokens));
    r.kv_blocks = static_cast<std::int32_t>(next);
    *out = BatchEntry{e.slot, 0, static_cast<std::int32_t>(held), static_cast<std::int32_t>(kv_tokens)};
    s.cut += held - e.blocks_before;
    s.taken += next - held;
    s.run += std::max<std::int64_t>(held, blocks_for(kv_tokens + plan_tokens)) - held;
    s.kv_tokens += kv_tokens;
  }
  return s;
}

}  // namespace

template <bool kMulti>
std::int64_t Instance::list_continued(std::int64_t* min_remaining, std::int64_t* steps, std::int64_t* extra) {
  const KvBlockManager kv = kv_;  // a copy, which the stores below cannot alias: its fields stay in registers
  const std::int64_t tokens = step_tokens<kMulti>();
  // The run's entries, listed again in place (each is read before it is rewritten), the joiners after them; the
  // vector then becomes the step's batch_ (emptied by start_step_impl()), which saves initialising a fresh one.
  std::vector<Entry>& listed = head_batch_;
  const std::size_t nb = listed.size();
  const std::size_t n = running_.size();
  const std::int64_t per_entry = continued_ * tokens;
  continued_ = 0;
  // The run the step starts when it lists these decodes only (nobody waits but hand-overs, which wait outside the
  // batch: finish_step() continues a run only then): to the first completion, which the least output left
  // decides (nobody completed in the run just ended: each of its requests emitted per_entry).
  const bool on_demand = kv.on_demand();
  std::int64_t left = run_min_remaining_ - per_entry;  // the least of the run's requests (they emitted per_entry)
  for (std::size_t i = nb; i < n; ++i) {
    const RequestState& r = (*pool_)[running_[i]];
    left = std::min<std::int64_t>(left, r.spec.output_tokens - r.generated);
  }
  const std::int64_t plan_tokens = steps_to_emit<kMulti>(left) * tokens;
  listed.resize(n);  // the joiners' entries (batch_ is empty: the step lists nothing ahead of its decodes)
  Entry* const out = listed.data();
  std::int64_t taken = 0, ctx_sum = 0, run_blocks = 0, cut_blocks = 0;
  // As add_decode() in start_step_impl(), with the sums kept here; and the blocks it holds after plan_tokens more
  // tokens (KvBlockManager::run_blocks() of its entry). The least output left is `left`, found above.
  auto list = [&](std::size_t i, std::uint32_t slot, RequestState & r) __attribute__((always_inline)) {
    const std::int32_t ctx = r.spec.prompt_tokens + r.generated;  // decoding: KV holds ctx - 1 tokens
    const std::int32_t held = r.kv_blocks;
    out[i] = Entry{slot, 0, held, ctx - 1};
    if (on_demand) {
      const std::int64_t more = kv.blocks_for(ctx - 1 + tokens) - held;
      if (more > 0) {
        r.kv_blocks = held + static_cast<std::int32_t>(more);
        taken += more;
      }
      run_blocks += std::max<std::int64_t>(held, kv.blocks_for(ctx - 1 + plan_tokens)) - held;
    }
    ctx_sum += ctx;
  };
  // The run's requests (running_'s first ones, in order): their tokens first, as apply_entries_impl() books a
  // run nobody completed in. Each one's KV then holds its entry's tokens and per_entry more (its context less
  // one: the list above, without reading the request's lengths), and the blocks the run's iterations took.
  if (on_demand) {
    // vLLM's block size (16) gets shifts by a constant; any other, KvBlockManager::blocks_for().
    const ContinuedSums sums =
        kv.block_size() == 16
            ? continue_entries<4>(out, out, nb, &(*pool_)[0], per_entry, tokens, plan_tokens, kv)
            : continue_entries<-1>(out, out, nb, &(*pool_)[0], per_entry, tokens, plan_tokens, kv);
    cut_blocks = sums.cut;
    taken = sums.taken;
    run_blocks = sums.run;
    ctx_sum = sums.kv_tokens + static_cast<std::int64_t>(nb);  // each context is its KV's tokens and one
  } else {
    for (std::size_t i = 0; i < nb; ++i) {
      const std::uint32_t slot = out[i].slot;
      RequestState& r = (*pool_)[slot];
      r.generated += static_cast<std::int32_t>(per_entry);
      list(i, slot, r);
    }
  }
  for (std::size_t i = nb; i < n; ++i) list(i, running_[i], (*pool_)[running_[i]]);
  std::swap(batch_, listed);
  const std::int64_t booked = static_cast<std::int64_t>(nb) * per_entry;
  stats_.decode_tokens += static_cast<std::uint64_t>(booked);
  outstanding_tokens_ -= booked;
  if (free_stale_) {
    // The cut left the free count at the run's planned end (defer_free()): its j iterations took cut_blocks, which
    // is run_extra_blocks(j) of its entries. The step listed nothing before this pass, so the step's free start
    // moves with it.
    const std::int64_t fix = stale_extra_ - cut_blocks;
    kv_.give(fix);
    run_free_start_ += fix;
    free_stale_ = false;
  }
  kv_.take(taken);
  shape_.decode_seqs += static_cast<std::int32_t>(n);
  shape_.decode_ctx += ctx_sum;
  *min_remaining = std::min(*min_remaining, left);
  *steps = steps_to_emit<kMulti>(left);
  *extra = run_blocks;
  return static_cast<std::int64_t>(n) * tokens;
}

template void Instance::book_continued<false>();
template void Instance::book_continued<true>();
template std::int64_t Instance::list_continued<false>(std::int64_t*, std::int64_t*, std::int64_t*);
template std::int64_t Instance::list_continued<true>(std::int64_t*, std::int64_t*, std::int64_t*);

}  // namespace greenfleet::serving
