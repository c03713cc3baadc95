#pragma once
#include <map>
#include <string>

// Embodied-carbon constants (hardware_catalog/embodied.yaml).
namespace greenfleet::spec {

// The constants of hardware_catalog/embodied.yaml: EcoServe's card and host calculators and ACT's die model.
struct EmbodiedConstants {
  struct GpuCard {
    double margin = 1.05, pcb_kg_per_cm2 = 0, power_delivery_reference_w = 0, power_delivery_reference_kg = 0;
    double cooling_liquid_reference_w = 0, cooling_liquid_reference_kg = 0;
    double cooling_air_reference_w = 0, cooling_air_reference_kg = 0, interconnect_kg = 0;
  } gpu_card;
  struct Host {
    double mainboard_kg = 0, peripheral_pcb_area_cm2 = 0, peripheral_pcb_kg_per_cm2 = 0, cpu_die_kg = 0;
    double psu_kg = 0, chassis_kg = 0, fans_kg = 0;
  } host;
  struct Act {
    double package_kg = 0, memory_kg_per_gb = 0;
    std::map<std::string, double> logic_kg_per_cm2;  // by process node id
  } act;
};

}  // namespace greenfleet::spec
