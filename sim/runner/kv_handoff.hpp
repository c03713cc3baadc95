#pragma once
#include <cstdint>
#include <vector>

#include "sim/energy/ledger.hpp"
#include "sim/network/flows.hpp"
#include "sim/serving/handoff.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::runner {

// Moves split requests from their prefill instance to their decode instance: the request queues at the decode
// instance as soon as its first token is out; once that instance has reserved blocks for its KV (at a step
// boundary, when they are free), the prompt's KV crosses the network as a flow sharing links max-min fairly;
// when the last byte has arrived the prefill instance frees the blocks it held and the request decodes from the
// decode instance's next iteration boundary. The transfer's energy is booked to the request in the ledger.
class KvHandoff final : public serving::HandoffSink, public network::FlowSink {
 public:
  KvHandoff(const std::vector<serving::Instance*>& instances, serving::RequestPool* pool,
            network::Network* network, energy::CarbonLedger* ledger)
      : instances_(instances), pool_(pool), network_(network), ledger_(ledger) {}

  void on_handoff(serving::Instance& from, std::uint32_t slot) override;
  void on_kv_reserved(serving::Instance& to, std::uint32_t slot) override;
  void on_flow_done(const network::Transfer& t) override;

  std::uint64_t transfers() const { return transfers_; }  // started
  std::uint64_t arrived() const { return arrived_; }      // finished
  double bytes() const { return bytes_; }
  // Sums over finished transfers (s): time waiting for decode blocks after the first token, and in transit.
  double wait_seconds() const { return wait_s_; }
  double transfer_seconds() const { return transfer_s_; }
  double max_transfer_seconds() const { return max_transfer_s_; }

 private:
  static network::Endpoint endpoint(const serving::Instance& in) {
    return {in.placement().server, in.placement().first_device, in.placement().devices};
  }
  std::vector<serving::Instance*> instances_;  // by instance id
  serving::RequestPool* pool_;
  network::Network* network_;
  energy::CarbonLedger* ledger_;
  std::uint64_t transfers_ = 0, arrived_ = 0;
  double bytes_ = 0, wait_s_ = 0, transfer_s_ = 0, max_transfer_s_ = 0;
};

}  // namespace greenfleet::runner
