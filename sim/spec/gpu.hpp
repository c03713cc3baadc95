#pragma once
#include <string>

// A GPU of the catalog (hardware_catalog/gpus.yaml): datasheet figures, power states, embodied inputs.
namespace greenfleet::spec {

struct DevicePower {
  double idle_w = 0;
  double prefill_w = 0;
  double decode_w = 0;
};

// EcoServe card-calculator inputs per GPU (hardware_catalog/gpus.yaml `embodied`).
struct GpuEmbodiedInputs {
  double pcb_area_cm2 = 0;
  double soc_kg = 0;
  double board_power_w = 0;
};

struct GpuSpec {
  std::string id, name, vendor, form_factor, memory_kind, process_node, link, architecture;
  int launch_year = 0;
  double memory_gb = 0;
  double memory_bandwidth_gbps = 0;  // GB/s
  double fp16_tflops = 0;            // dense
  double fp8_tflops = 0;
  double tdp_w = 0;
  double die_area_mm2 = 0;
  double link_bandwidth_gbps = 0;  // GB/s per direction per GPU
  DevicePower power;
  GpuEmbodiedInputs embodied;
};

}  // namespace greenfleet::spec
