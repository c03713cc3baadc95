#include "sim/runner/network_setup.hpp"

#include "sim/runner/simulation.hpp"

namespace greenfleet::runner {

std::unique_ptr<network::Network> build_network(const experiment::Experiment& x, const catalog::Catalog& catalog,
                                                const std::vector<ServerInfo>& servers,
                                                const std::vector<energy::CarbonSignal>& signals,
                                                core::Engine& engine, energy::CarbonLedger& ledger) {
  if (!x.network) return nullptr;
  const auto& kinds = catalog.link_kinds();
  std::vector<network::ServerFabric> fabric;
  fabric.reserve(servers.size());
  for (const ServerInfo& s : servers) {
    const spec::ServerSku& sku = catalog.server(s.sku);
    network::ServerFabric f;
    f.site = s.site;
    f.gpus = sku.gpu_count;
    f.has_scale_up = !sku.scale_up_link.empty();
    if (f.has_scale_up) f.scale_up = kinds.at(sku.scale_up_link);
    f.pcie = kinds.at(sku.pcie_link);  // the loader checked that the kinds exist
    f.gpus_per_pcie_switch = sku.gpus_per_pcie_switch;
    f.nic = kinds.at(sku.nic_link);
    f.nic_gbps = sku.nic_gbps;
    fabric.push_back(f);
  }
  std::vector<network::SiteLink> links;
  for (const auto& l : x.network->site_links) links.push_back({l.a, l.b, kinds.at(l.link)});
  auto net = std::make_unique<network::Network>(&engine, fabric, static_cast<std::int32_t>(x.sites.size()), links);

  // Each site: ceil(servers / ports) ToR switch units, always on, embodied over the switch kind's lifetime.
  const spec::SwitchKind& tor = catalog.switch_kinds().at(x.network->tor_switch);
  std::vector<energy::NetworkSitePower> sites;
  for (std::size_t i = 0; i < x.sites.size(); ++i) {
    const int servers_here = net->topology().servers_per_site()[i];
    const double units = (servers_here + tor.ports - 1) / tor.ports;
    energy::NetworkSitePower n;
    n.ci = &signals[i];
    n.pue = x.sites[i].pue;
    n.switch_w = units * tor.static_w;
    n.switch_emb_g_per_s = units * tor.embodied_kg * 1000 / (tor.lifetime_years * 8760 * 3600);
    sites.push_back(n);
  }
  ledger.set_network(std::move(sites));
  return net;
}

}  // namespace greenfleet::runner
