#pragma once
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/spec/calibrated_entry.hpp"
#include "sim/spec/calibration_coefficients.hpp"
#include "sim/spec/cpu.hpp"
#include "sim/spec/embodied_constants.hpp"
#include "sim/spec/gpu.hpp"
#include "sim/spec/llm_model.hpp"
#include "sim/spec/network.hpp"
#include "sim/spec/power_curve.hpp"
#include "sim/spec/server.hpp"

namespace greenfleet::catalog {

// Everything under hardware_catalog/ and models/llm/, validated and cross-referenced at load time.
class Catalog {
 public:
  // `root` is the project directory holding hardware_catalog/ and models/.
  static Catalog load(const std::string& root);

  const spec::GpuSpec& gpu(const std::string& id) const { return gpus_.at(id); }
  const spec::CpuSpec& cpu(const std::string& id) const { return cpus_.at(id); }
  const spec::ServerSku& server(const std::string& id) const { return servers_.at(id); }
  const spec::LlmModel& model(const std::string& id) const { return models_.at(id); }
  const spec::MemoryKind& memory_kind(const std::string& id) const { return memory_kinds_.at(id); }
  const spec::MemoryKind& storage_kind(const std::string& id) const { return storage_kinds_.at(id); }
  const spec::EmbodiedConstants& embodied() const { return embodied_; }
  // The Reduce rule's sizes; empty lists when memory.yaml has no `host_sizing` section.
  const spec::HostSizing& host_sizing() const { return host_sizing_; }
  // Network link and switch kinds (hardware_catalog/network.yaml; empty when the catalog has no such file).
  const std::map<std::string, spec::LinkKind>& link_kinds() const { return link_kinds_; }
  const std::map<std::string, spec::SwitchKind>& switch_kinds() const { return switch_kinds_; }
  // Calibrated step-time coefficients (models/calibration/), if any for this combination.
  const spec::CalibrationCoefficients* calibration(const std::string& gpu, const std::string& model,
                                                   int tp) const {
    auto it = calibrations_.find({gpu, model, tp});
    return it == calibrations_.end() ? nullptr : &it->second;
  }
  const std::map<std::tuple<std::string, std::string, int>, spec::CalibrationCoefficients>& calibrations() const {
    return calibrations_;
  }
  // Every calibrated entry with its GPU and model, in key order (what the roofline fallback carries from).
  std::vector<spec::CalibratedEntry> calibrated_entries() const {
    std::vector<spec::CalibratedEntry> out;
    out.reserve(calibrations_.size());
    for (const auto& [key, c] : calibrations_) out.push_back({&c, &gpu(c.gpu), &model(c.model)});
    return out;
  }
  // Calibrated decode power vs batch (models/calibration/power/), if any for this GPU.
  const spec::GpuPowerCurve* power_curve(const std::string& gpu) const {
    auto it = power_curves_.find(gpu);
    return it == power_curves_.end() ? nullptr : &it->second;
  }

  // Adds (or replaces) a server SKU assembled from catalog parts in memory: the lifecycle study's host of one SKU
  // carrying another's GPUs (docs/LIFECYCLE.md). Its gpu, cpu and dram_kind must be in the catalog
  // (std::out_of_range otherwise: callers build it from entries already checked).
  void add_server(spec::ServerSku sku) {
    (void)gpu(sku.gpu), (void)cpu(sku.cpu), (void)memory_kind(sku.dram_kind);
    servers_[sku.id] = std::move(sku);
  }

  const std::map<std::string, spec::GpuSpec>& gpus() const { return gpus_; }
  const std::map<std::string, spec::CpuSpec>& cpus() const { return cpus_; }
  const std::map<std::string, spec::MemoryKind>& memory_kinds() const { return memory_kinds_; }
  const std::map<std::string, spec::MemoryKind>& storage_kinds() const { return storage_kinds_; }
  const std::map<std::string, spec::ServerSku>& servers() const { return servers_; }
  const std::map<std::string, spec::LlmModel>& models() const { return models_; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::map<std::string, spec::GpuSpec> gpus_;
  std::map<std::string, spec::CpuSpec> cpus_;
  std::map<std::string, spec::MemoryKind> memory_kinds_;
  std::map<std::string, spec::MemoryKind> storage_kinds_;
  spec::HostSizing host_sizing_;
  std::map<std::string, spec::ServerSku> servers_;
  std::map<std::string, spec::LinkKind> link_kinds_;
  std::map<std::string, spec::SwitchKind> switch_kinds_;
  std::map<std::string, spec::LlmModel> models_;
  spec::EmbodiedConstants embodied_;
  std::map<std::tuple<std::string, std::string, int>, spec::CalibrationCoefficients> calibrations_;
  std::map<std::string, spec::GpuPowerCurve> power_curves_;
};

// Where the catalogs live: --catalog, else $GREENFLEET_HOME, else the source tree the binary was built from.
std::string default_catalog_root();

}  // namespace greenfleet::catalog
