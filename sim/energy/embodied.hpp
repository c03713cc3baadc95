#pragma once
#include <optional>

#include "sim/catalog/catalog.hpp"

namespace greenfleet::energy {

// Whole-life embodied carbon of one GPU card by EcoServe's calculator (arXiv 2502.05043 section 3; GitHub
// S4AI-CornellTech/EServe), kgCO2e:
// margin x (memory + PCB + power delivery + cooling + SoC + interconnect).
struct GpuCardEmbodied {
  double memory = 0, pcb = 0, power_delivery = 0, cooling = 0, soc = 0, interconnect = 0;
  double margin = 0;  // the extra from the 1.05 factor
  double total = 0;
};
GpuCardEmbodied ecoserve_gpu_card(const spec::GpuSpec& gpu, const catalog::Catalog& catalog);

// The ACT alternative: die area x carbon per area of its process node + package + memory by capacity. Board,
// cooling and power delivery are outside its scope.
struct ActGpuEmbodied {
  double die = 0, package = 0, memory = 0, total = 0;
};
ActGpuEmbodied act_gpu(const spec::GpuSpec& gpu, const catalog::Catalog& catalog);

// A server's host (everything but the GPU cards) by EcoServe's host calculator, kgCO2e.
struct HostEmbodied {
  double ssd = 0, dram = 0, mainboard = 0, peripherals = 0, cpu_die = 0, psu = 0, chassis = 0, fans = 0;
  double total = 0;
};
HostEmbodied ecoserve_host(const spec::ServerSku& sku, const catalog::Catalog& catalog);

// A server's host DRAM and SSD: the SKU's (servers.yaml) or a configuration of its host menu (EcoServe's Reduce;
// docs/CARBON.md, "Reduce").
struct HostMemory {
  double dram_gb = 0, ssd_gb = 0;
};
HostMemory default_host(const spec::ServerSku& sku);
HostEmbodied ecoserve_host(const spec::ServerSku& sku, const catalog::Catalog& catalog, HostMemory host);

// The host's power while on (docs/CARBON.md, "Hosts"): chassis, NICs, DRAM and SSD by the GB, idle CPU sockets.
double host_static_w(const spec::ServerSku& sku, const catalog::Catalog& catalog, HostMemory host);

// What one server must hold (the Reduce rule's inputs), in decimal GB.
struct HostNeed {
  double weights_gb = 0;      // one copy of the weights of every model its GPU instances serve (fast reload)
  double swap_gb = 0;         // swap space for preempted KV (the scheduler's swap_space_gb per GPU)
  double cpu_dram_gb = 0;     // CPU instances' DRAM (their weights and KV)
  double cpu_weights_gb = 0;  // CPU instances' quantised weights, on SSD
};
// The least host that holds `need` with the OS (memory.yaml host_sizing), before rounding.
HostMemory host_minimum(const HostNeed& need, const catalog::Catalog& catalog);
// The reduced host: the minimum rounded up to one DIMM per memory channel of the smallest size that holds it and
// to the smallest SSD drive (or whole largest drives), never above the SKU's own size where that already holds
// the minimum. Empty when the catalog has no host_sizing or no DIMM size holds the DRAM minimum.
std::optional<HostMemory> reduced_host(const spec::ServerSku& sku, const catalog::Catalog& catalog,
                                       const HostNeed& need);

}  // namespace greenfleet::energy
