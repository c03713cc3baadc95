// A decode run cut short goes on in the next step, whose pass over the same requests books the run's tokens
// (Instance::list_continued()). Kept apart from instance.cpp, whose step formation inlines within tight limits.
#include "sim/serving/instance.hpp"

#include <algorithm>
#include <stdexcept>

namespace greenfleet::serving {

template <bool kMulti>
void Instance::book_continued() {
  apply_entries(head_batch_, continued_, engine_->now(), true);
  continued_ = 0;
}

template <bool kMulti>
std::int64_t Instance::list_continued(std::int64_t* min_remaining, std::int64_t* steps, std::int64_t* extra) {
  const KvBlockManager kv = kv_;  // a copy, which the stores below cannot alias: its fields stay in registers
  const std::int64_t tokens = step_tokens<kMulti>();
  const std::vector<Entry>& before = head_batch_;
  const std::size_t n = running_.size();
  const std::int64_t per_entry = continued_ * tokens;
  continued_ = 0;
  // The run the step starts when it lists these decodes only (nobody waits but hand-overs, which wait outside the
  // batch: finish_step() continues a run only then): to the first completion, which the least output left
  // decides (nobody completed in the run just ended: each of its requests emitted per_entry).
  const bool on_demand = kv.on_demand();
  std::int64_t left = run_min_remaining_ - per_entry;
  for (std::size_t i = before.size(); i < n; ++i) {
    const RequestState& r = (*pool_)[running_[i]];
    left = std::min<std::int64_t>(left, r.spec.output_tokens - r.generated);
  }
  const std::int64_t plan_tokens = steps_to_emit<kMulti>(left) * tokens;
  batch_.resize(n);  // empty before: the step lists nothing ahead of its decodes
  Entry* const out = batch_.data();
  std::int64_t taken = 0, ctx_sum = 0, run_blocks = 0, least = *min_remaining;
  // As add_decode() in start_step_impl(), with the sums kept here; and the blocks it holds after plan_tokens more
  // tokens (KvBlockManager::run_blocks() of its entry).
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
    least = std::min<std::int64_t>(least, r.spec.output_tokens - r.generated);
  };
  // The run's requests (running_'s first ones, in order): their tokens first, as apply_entries_impl() books a
  // run nobody completed in.
  for (std::size_t i = 0; i < before.size(); ++i) {
    const Entry& e = before[i];
    RequestState& r = (*pool_)[e.slot];
    r.generated += static_cast<std::int32_t>(per_entry);
    if (on_demand)
      r.kv_blocks = static_cast<std::int32_t>(
          std::max<std::int64_t>(e.blocks_before, kv.blocks_for(e.kv_tokens_before + per_entry)));
    list(i, e.slot, r);
  }
  for (std::size_t i = before.size(); i < n; ++i) list(i, running_[i], (*pool_)[running_[i]]);
  const std::int64_t booked = static_cast<std::int64_t>(before.size()) * per_entry;
  stats_.decode_tokens += static_cast<std::uint64_t>(booked);
  outstanding_tokens_ -= booked;
  kv_.take(taken);
  shape_.decode_seqs += static_cast<std::int32_t>(n);
  shape_.decode_ctx += ctx_sum;
  *min_remaining = least;
  *steps = steps_to_emit<kMulti>(left);
  *extra = run_blocks;
  return static_cast<std::int64_t>(n) * tokens;
}

template void Instance::book_continued<false>();
template void Instance::book_continued<true>();
template std::int64_t Instance::list_continued<false>(std::int64_t*, std::int64_t*, std::int64_t*);
template std::int64_t Instance::list_continued<true>(std::int64_t*, std::int64_t*, std::int64_t*);

}  // namespace greenfleet::serving
