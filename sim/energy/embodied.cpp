#include "sim/energy/embodied.hpp"

#include <cmath>

namespace greenfleet::energy {

GpuCardEmbodied ecoserve_gpu_card(const spec::GpuSpec& gpu, const catalog::Catalog& catalog) {
  const auto& k = catalog.embodied().gpu_card;
  GpuCardEmbodied e;
  e.memory = gpu.memory_gb * catalog.memory_kind(gpu.memory_kind).embodied_kg_per_gb;
  e.pcb = k.pcb_kg_per_cm2 * gpu.embodied.pcb_area_cm2;
  e.power_delivery = gpu.embodied.board_power_w / k.power_delivery_reference_w * k.power_delivery_reference_kg;
  // The calculator assumes cold-plate cooling for HBM3-class (SXM) parts and an air heatsink otherwise.
  const bool liquid = gpu.memory_kind == "hbm3" || gpu.memory_kind == "hbm3e";
  e.cooling = liquid ? gpu.tdp_w / k.cooling_liquid_reference_w * k.cooling_liquid_reference_kg
                     : gpu.tdp_w / k.cooling_air_reference_w * k.cooling_air_reference_kg;
  e.soc = gpu.embodied.soc_kg;
  e.interconnect = k.interconnect_kg;
  const double parts = e.memory + e.pcb + e.power_delivery + e.cooling + e.soc + e.interconnect;
  e.total = parts * k.margin;
  e.margin = e.total - parts;
  return e;
}

ActGpuEmbodied act_gpu(const spec::GpuSpec& gpu, const catalog::Catalog& catalog) {
  const auto& a = catalog.embodied().act;
  ActGpuEmbodied e;
  e.die = a.logic_kg_per_cm2.at(gpu.process_node) * gpu.die_area_mm2 / 100.0;
  e.package = a.package_kg;
  e.memory = gpu.memory_gb * a.memory_kg_per_gb;
  e.total = e.die + e.package + e.memory;
  return e;
}

HostMemory default_host(const spec::ServerSku& sku) { return {sku.dram_gb, sku.ssd_gb}; }

HostEmbodied ecoserve_host(const spec::ServerSku& sku, const catalog::Catalog& catalog) {
  return ecoserve_host(sku, catalog, default_host(sku));
}

HostEmbodied ecoserve_host(const spec::ServerSku& sku, const catalog::Catalog& catalog, HostMemory host) {
  const auto& k = catalog.embodied().host;
  HostEmbodied e;
  e.ssd = host.ssd_gb * catalog.storage_kind("ssd").embodied_kg_per_gb;
  e.dram = host.dram_gb * catalog.memory_kind(sku.dram_kind).embodied_kg_per_gb;
  e.mainboard = k.mainboard_kg;
  e.peripherals = k.peripheral_pcb_area_cm2 * k.peripheral_pcb_kg_per_cm2;
  e.cpu_die = k.cpu_die_kg;
  e.psu = k.psu_kg;
  e.chassis = k.chassis_kg;
  e.fans = k.fans_kg;
  e.total = e.ssd + e.dram + e.mainboard + e.peripherals + e.cpu_die + e.psu + e.chassis + e.fans;
  return e;
}

double host_static_w(const spec::ServerSku& sku, const catalog::Catalog& catalog, HostMemory host) {
  return sku.chassis_w + sku.nic_w + host.dram_gb * catalog.memory_kind(sku.dram_kind).power_w_per_gb +
         host.ssd_gb * catalog.storage_kind("ssd").power_w_per_gb + sku.cpu_sockets * catalog.cpu(sku.cpu).idle_w;
}

HostMemory host_minimum(const HostNeed& need, const catalog::Catalog& catalog) {
  const auto& k = catalog.host_sizing();
  return {need.weights_gb + need.swap_gb + need.cpu_dram_gb + k.os_dram_gb,
          need.weights_gb + need.cpu_weights_gb + k.os_ssd_gb};
}

std::optional<HostMemory> reduced_host(const spec::ServerSku& sku, const catalog::Catalog& catalog,
                                       const HostNeed& need) {
  const auto& k = catalog.host_sizing();
  if (k.dimm_gb.empty() || k.drive_gb.empty()) return std::nullopt;
  const HostMemory least = host_minimum(need, catalog);
  const double channels = sku.cpu_sockets * catalog.cpu(sku.cpu).memory_channels;
  std::optional<double> dram;
  for (double dimm : k.dimm_gb)
    if (channels * dimm >= least.dram_gb) {
      dram = channels * dimm;
      break;
    }
  if (!dram) return std::nullopt;
  double ssd = 0;
  for (double drive : k.drive_gb)
    if (drive >= least.ssd_gb) {
      ssd = drive;
      break;
    }
  if (ssd == 0) ssd = std::ceil(least.ssd_gb / k.drive_gb.back()) * k.drive_gb.back();
  // A SKU smaller than the rounded size that still holds the minimum keeps its own size (a cloud VM's slice).
  if (*dram > sku.dram_gb && sku.dram_gb >= least.dram_gb) dram = sku.dram_gb;
  if (ssd > sku.ssd_gb && sku.ssd_gb >= least.ssd_gb) ssd = sku.ssd_gb;
  return HostMemory{*dram, ssd};
}

}  // namespace greenfleet::energy
