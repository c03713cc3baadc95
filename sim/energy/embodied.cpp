#include "sim/energy/embodied.hpp"

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

HostEmbodied ecoserve_host(const spec::ServerSku& sku, const catalog::Catalog& catalog) {
  const auto& k = catalog.embodied().host;
  HostEmbodied e;
  e.ssd = sku.ssd_gb * catalog.storage_kind("ssd").embodied_kg_per_gb;
  e.dram = sku.dram_gb * catalog.memory_kind(sku.dram_kind).embodied_kg_per_gb;
  e.mainboard = k.mainboard_kg;
  e.peripherals = k.peripheral_pcb_area_cm2 * k.peripheral_pcb_kg_per_cm2;
  e.cpu_die = k.cpu_die_kg;
  e.psu = k.psu_kg;
  e.chassis = k.chassis_kg;
  e.fans = k.fans_kg;
  e.total = e.ssd + e.dram + e.mainboard + e.peripherals + e.cpu_die + e.psu + e.chassis + e.fans;
  return e;
}

}  // namespace greenfleet::energy
