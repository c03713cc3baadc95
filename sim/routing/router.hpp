#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "sim/core/registry.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::routing {

// What routers decide over: the serving layer's instances and requests.
using serving::Instance;
using serving::RequestState;

// Picks the instance an arriving request joins. Routers see every instance of the deployment, whatever its SKU
// or site.
class Router {
 public:
  virtual ~Router() = default;
  virtual std::size_t route(const RequestState& request, std::span<Instance* const> instances) = 0;
  // A router that keeps an index of load signals returns the listener to attach to the instances it is handed
  // (the simulation does, before the first arrival); the engine's clock dates its decisions. Others: none.
  virtual serving::LoadListener* watch_loads(const core::Engine& /*engine*/) { return nullptr; }
};

// Factories get their declared parameters, validated at load from the router's `params` mapping
// (config::read_params), and the experiment seed for any randomness.
using RouterRegistry = core::Registry<std::unique_ptr<Router>, std::uint64_t>;

// All built-in routers, registered once.
const RouterRegistry& routers();

}  // namespace greenfleet::routing
