#pragma once
#include <memory>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/engine.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/network/flows.hpp"

namespace greenfleet::runner {

struct ServerInfo;

// The run's network (experiments with a `network:` section; nullptr otherwise): the topology of the fleet's
// servers, sites and site links on `engine`, and the ledger's network line (each site's ToR switches: static
// power and embodied carbon). `servers` and `signals` are the simulation's (per server, per site).
std::unique_ptr<network::Network> build_network(const experiment::Experiment& x, const catalog::Catalog& catalog,
                                                const std::vector<ServerInfo>& servers,
                                                const std::vector<energy::CarbonSignal>& signals,
                                                core::Engine& engine, energy::CarbonLedger& ledger);

}  // namespace greenfleet::runner
