#pragma once
#include <string>

// A host CPU of the catalog (hardware_catalog/cpus.yaml).
namespace greenfleet::spec {

struct CpuSpec {
  std::string id, name, vendor, process_node;
  int launch_year = 0;
  int cores = 0;
  int threads = 0;
  double base_ghz = 0;
  int memory_channels = 0;
  double memory_bandwidth_gbps = 0;
  double bf16_tflops = 0;
  double tdp_w = 0;
  double idle_w = 0;
  bool amx = false;
};

}  // namespace greenfleet::spec
