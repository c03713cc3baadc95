#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/network/flows.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::routing {

// An estimate of serving some work on one instance: how long it takes and what it emits.
struct Estimate {
  double seconds = 0;
  double joules = 0;    // GPU energy of the instance's devices, at the wall (PUE not included)
  double carbon_g = 0;  // operational (joules x CI now x PUE) plus embodied carbon of the devices' time
};

// What a router may read besides the instances themselves: the clock, each site's grid carbon intensity and PUE
// now, and estimates of time, energy and carbon from the same performance and power models that price the run
// (an instance's perf model; its server's GPU power and embodied rates as the carbon ledger uses them). It is a
// read-only view built by the simulation; routers keep no pointer into it past a decision.
class RoutingContext {
 public:
  // `servers` (by server index, an instance's Placement::server) must outlive the context.
  RoutingContext(const core::Engine* engine, const std::vector<energy::ServerPower>* servers)
      : engine_(engine), servers_(servers) {}
  RoutingContext() = default;  // for tests of routers that read nothing but the instances

  core::SimTime now() const { return engine_ ? engine_->now() : 0; }
  // Grid carbon intensity (gCO2e/kWh) and PUE at the site of `instance` now.
  double carbon_intensity(const serving::Instance& instance) const;
  double pue(const serving::Instance& instance) const;
  // The grid carbon intensity series of the site of `instance` over the whole run (nullptr without one): what a
  // router with a perfect forecast reads ahead.
  const energy::CarbonSignal* carbon_signal(const serving::Instance& instance) const;

  // A prefill of `prompt_tokens` alone on `instance` (the prompt's whole KV computed in one step).
  Estimate prefill(const serving::Instance& instance, std::int32_t prompt_tokens) const;
  // `tokens` decode iterations of a batch of `batch` sequences whose total context starts at `context` and grows
  // by `batch` per iteration, on `instance`; energy and carbon are the batch's, shared by its sequences.
  Estimate decode(const serving::Instance& instance, std::int32_t batch, std::int64_t context,
                  std::int64_t tokens) const;
  // `bytes` from one instance to another alone on their network path (its latency, then the bytes at its
  // narrowest link), with the path's energy per byte at the sender's site; all zero without a network.
  Estimate transfer(const serving::Instance& from, const serving::Instance& to, double bytes) const;
  // The network transfers cross (its path cache is filled on demand: the only state a decision may touch).
  void set_network(network::Network* network) { network_ = network; }

 private:
  const energy::ServerPower& server(const serving::Instance& instance) const;
  Estimate price(const serving::Instance& instance, double seconds, double gpu_w) const;

  const core::Engine* engine_ = nullptr;
  const std::vector<energy::ServerPower>* servers_ = nullptr;
  network::Network* network_ = nullptr;
};

}  // namespace greenfleet::routing
