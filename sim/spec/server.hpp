#pragma once
#include <string>
#include <vector>

// Server SKUs and the memory and storage kinds they are built from (hardware_catalog/servers.yaml, memory.yaml).
namespace greenfleet::spec {

struct MemoryKind {
  std::string id;
  double embodied_kg_per_gb = 0;
  double power_w_per_gb = 0;  // while the server is on (GPU memory: inside the GPU's power states, so 0)
};

struct ServerSku {
  std::string id, name, gpu, cpu, dram_kind;
  int gpu_count = 0;
  int cpu_sockets = 0;
  double dram_gb = 0;
  double ssd_gb = 0;
  double nic_gbps = 0;   // Gb/s
  double chassis_w = 0;  // board, BMC and fans while on
  double nic_w = 0;
  // How the GPUs connect (hardware_catalog/network.yaml link kinds): the scale-up fabric ("" = none: GPUs talk
  // over PCIe), the PCIe generation of the GPU slots and how many GPUs share one PCIe switch (each switch with
  // its share of the NICs), and the kind of the scale-out NICs (their total bandwidth is nic_gbps).
  std::string scale_up_link;
  std::string pcie_link = "pcie4-x16";
  int gpus_per_pcie_switch = 2;
  std::string nic_link = "eth-100g";
  double usd_per_hour = -1;  // on-demand price of the matching cloud instance per hour; -1: none given
};

// The Reduce rule's sizes and constants (hardware_catalog/memory.yaml `host_sizing`; docs/CARBON.md, "Reduce").
struct HostSizing {
  double os_dram_gb = 0;         // DRAM for the OS and the serving stack
  double os_ssd_gb = 0;          // SSD for the OS image and the serving stack's container
  std::vector<double> dimm_gb;   // DIMM capacities, ascending: one DIMM per memory channel
  std::vector<double> drive_gb;  // data-centre SSD capacities, ascending
};

}  // namespace greenfleet::spec
