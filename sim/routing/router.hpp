#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "sim/core/registry.hpp"
#include "sim/core/time.hpp"
#include "sim/routing/context.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::routing {

// What routers decide over: the serving layer's instances and requests.
using serving::Instance;
using serving::RequestState;

// What a router decides for one request: join one of the instances it was handed, come back later (the
// simulation routes the request again at `until`; it waits outside every instance meanwhile), or reject it.
struct Decision {
  enum class Kind : std::uint8_t { kJoin, kDefer, kReject };
  Kind kind = Kind::kJoin;
  std::size_t instance = 0;  // kJoin: index into the instances handed to route()
  core::SimTime until = 0;   // kDefer: when to route it again (after now)

  static Decision join(std::size_t i) { return Decision{Kind::kJoin, i, 0}; }
  static Decision defer(core::SimTime t) { return Decision{Kind::kDefer, 0, t}; }
  static Decision reject() { return Decision{Kind::kReject, 0, 0}; }
};

// Picks the instance an arriving request joins from a read-only view of the instances of one pool (a
// deployment's instances, whatever their SKU or site) and the routing context (clock, carbon intensity, energy
// estimates). Routers change nothing but their own state.
class Router {
 public:
  virtual ~Router() = default;
  virtual Decision route(const RequestState& request, std::span<const Instance* const> instances,
                         const RoutingContext& context) = 0;
  // A router that keeps an index of load signals returns the listener to attach to the instances it is handed
  // (the simulation does, before the first arrival); the engine's clock dates its decisions. Others: none.
  virtual serving::LoadListener* watch_loads(const core::Engine& /*engine*/) { return nullptr; }
  // The router that only picks an instance, for a request whose release time is already decided elsewhere (the
  // decode pool's pick for a request its prefill pool routed): a router that also decides *when* (carbon
  // deferral) hands this to the one that decides *where*, so a second pool's router neither defers the request
  // nor books capacity for it.
  virtual Router& placement() { return *this; }
};

// Factories get their declared parameters, validated at load from the router's `params` mapping
// (config::read_params), and the experiment seed for any randomness.
using RouterRegistry = core::Registry<std::unique_ptr<Router>, std::uint64_t>;

// All built-in routers, registered once.
const RouterRegistry& routers();

}  // namespace greenfleet::routing
