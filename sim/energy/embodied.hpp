#pragma once
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

}  // namespace greenfleet::energy
