#pragma once
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "sim/energy/power_calibration.hpp"
#include "sim/perf/calibrated.hpp"
#include "sim/perf/llm_model.hpp"

namespace greenfleet::fleet {

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

struct MemoryKind {
  std::string id;
  double embodied_kg_per_gb = 0;
  double power_w_per_gb = 0;  // while the server is on (GPU memory: inside the GPU's power states, so 0)
};

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

struct ServerSku {
  std::string id, name, gpu, cpu, dram_kind;
  int gpu_count = 0;
  int cpu_sockets = 0;
  double dram_gb = 0;
  double ssd_gb = 0;
  double nic_gbps = 0;   // Gb/s
  double chassis_w = 0;  // board, BMC and fans while on
  double nic_w = 0;
};

// Everything under hardware_catalog/ and models/llm/, validated and cross-referenced at load time.
class Catalog {
 public:
  // `root` is the project directory holding hardware_catalog/ and models/.
  static Catalog load(const std::string& root);

  const GpuSpec& gpu(const std::string& id) const { return gpus_.at(id); }
  const CpuSpec& cpu(const std::string& id) const { return cpus_.at(id); }
  const ServerSku& server(const std::string& id) const { return servers_.at(id); }
  const perf::LlmModel& model(const std::string& id) const { return models_.at(id); }
  const MemoryKind& memory_kind(const std::string& id) const { return memory_kinds_.at(id); }
  const MemoryKind& storage_kind(const std::string& id) const { return storage_kinds_.at(id); }
  const EmbodiedConstants& embodied() const { return embodied_; }
  // Calibrated step-time coefficients (models/calibration/), if any for this combination.
  const perf::CalibrationCoefficients* calibration(const std::string& gpu, const std::string& model,
                                                   int tp) const {
    auto it = calibrations_.find({gpu, model, tp});
    return it == calibrations_.end() ? nullptr : &it->second;
  }
  const std::map<std::tuple<std::string, std::string, int>, perf::CalibrationCoefficients>& calibrations() const {
    return calibrations_;
  }
  // Calibrated decode power vs batch (models/calibration/power/), if any for this GPU.
  const energy::GpuPowerCurve* power_curve(const std::string& gpu) const {
    auto it = power_curves_.find(gpu);
    return it == power_curves_.end() ? nullptr : &it->second;
  }

  const std::map<std::string, GpuSpec>& gpus() const { return gpus_; }
  const std::map<std::string, CpuSpec>& cpus() const { return cpus_; }
  const std::map<std::string, MemoryKind>& memory_kinds() const { return memory_kinds_; }
  const std::map<std::string, MemoryKind>& storage_kinds() const { return storage_kinds_; }
  const std::map<std::string, ServerSku>& servers() const { return servers_; }
  const std::map<std::string, perf::LlmModel>& models() const { return models_; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::map<std::string, GpuSpec> gpus_;
  std::map<std::string, CpuSpec> cpus_;
  std::map<std::string, MemoryKind> memory_kinds_;
  std::map<std::string, MemoryKind> storage_kinds_;
  std::map<std::string, ServerSku> servers_;
  std::map<std::string, perf::LlmModel> models_;
  EmbodiedConstants embodied_;
  std::map<std::tuple<std::string, std::string, int>, perf::CalibrationCoefficients> calibrations_;
  std::map<std::string, energy::GpuPowerCurve> power_curves_;
};

// Where the catalogs live: --catalog, else $GREENFLEET_HOME, else the source tree the binary was built from.
std::string default_catalog_root();

}  // namespace greenfleet::fleet
