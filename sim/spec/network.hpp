#pragma once
#include <string>

// Network link and switch kinds (hardware_catalog/network.yaml).
namespace greenfleet::spec {

// One kind of link: a point-to-point connection between two nodes of the topology (a GPU and its NVLink switch,
// a GPU and its PCIe switch, a NIC and the top-of-rack switch, two sites). Each direction carries
// `bandwidth_gbps` on its own (full duplex).
struct LinkKind {
  std::string id;
  std::string kind;              // nvlink | pcie | ethernet | infiniband | wan
  double bandwidth_gbps = 0;     // GB/s (gigaBYTES per second) per direction
  double latency_us = 0;         // per hop: one traversal of this link and the device behind it
  double energy_pj_per_bit = 0;  // energy a transfer spends per bit crossing the link (above static power)
};

// A switch priced by the network line of the carbon ledger: static power while the site runs and embodied
// carbon amortised over its own lifetime. `ports` servers share one unit; a site gets as many units as its
// servers need.
struct SwitchKind {
  std::string id;
  int ports = 1;
  double static_w = 0;
  double embodied_kg = 0;
  double lifetime_years = 1;
};

}  // namespace greenfleet::spec
