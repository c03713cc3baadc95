#include "sim/runner/kv_handoff.hpp"

#include <algorithm>

namespace greenfleet::runner {

void KvHandoff::on_handoff(serving::Instance&, std::uint32_t slot) {
  serving::RequestState& r = (*pool_)[slot];
  instances_[static_cast<std::size_t>(r.decode_instance)]->accept(slot);
}

void KvHandoff::on_kv_reserved(serving::Instance& to, std::uint32_t slot) {
  const serving::RequestState& r = (*pool_)[slot];
  const serving::Instance& from = *instances_[static_cast<std::size_t>(r.prefill_instance)];
  // The prompt's KV (and the first token's, written by the decode side's first step, is not moved).
  const double bytes = from.kv_bytes(r);
  ++transfers_;
  bytes_ += bytes;
  network_->transfer(endpoint(from), endpoint(to), bytes, this, slot);
}

void KvHandoff::on_flow_done(const network::Transfer& t) {
  const auto slot = static_cast<std::uint32_t>(t.tag);
  const serving::RequestState& r = (*pool_)[slot];
  serving::Instance& from = *instances_[static_cast<std::size_t>(r.prefill_instance)];
  // Sent from the prefill instance's site: the energy of the NICs and switches on the path is booked there.
  ledger_->book_transfer(slot, static_cast<std::size_t>(from.placement().site), t.start, t.end, t.joules);
  ++arrived_;
  wait_s_ += core::to_seconds(r.kv_reserved - r.first_token);
  const double transit = core::to_seconds(t.end - t.start);
  transfer_s_ += transit;
  max_transfer_s_ = std::max(max_transfer_s_, transit);
  from.release_held(slot);
  instances_[static_cast<std::size_t>(r.decode_instance)]->kv_arrived(slot);
}

}  // namespace greenfleet::runner
