#include "sim/catalog/catalog.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "sim/catalog/coefficient_files.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace greenfleet::catalog {

namespace fs = std::filesystem;
using config::ConfigNode;

namespace {

void require_ref(ConfigNode& entry, const std::string& key, const std::string& value,
                 const std::set<std::string>& ids, const std::string& what) {
  if (ids.count(value)) return;
  const std::string hint = config::closest_match(value, ids);
  entry.fail(key, fmt::format("unknown {} '{}'{}", what, value,
                              hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

template <class Map>
std::set<std::string> ids_of(const Map& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

}  // namespace

std::string default_catalog_root() {
  if (const char* home = std::getenv("GREENFLEET_HOME"); home && *home) return home;
  return GREENFLEET_SOURCE_DIR;
}

Catalog Catalog::load(const std::string& root) {
  Catalog c;
  c.root_ = root;
  const fs::path hw = fs::path(root) / "hardware_catalog";
  if (!fs::is_directory(hw))
    throw core::InputError(
        fmt::format("{}: catalog directory not found (use --catalog or GREENFLEET_HOME)", hw.string()));

  {
    ConfigNode doc = ConfigNode::open_file((hw / "memory.yaml").string());
    for (auto& [id, e] : doc.child_map("memory_kinds")) {
      c.memory_kinds_[id] = spec::MemoryKind{id, e.get_double("embodied_kg_per_gb", std::nullopt, 0, 100),
                                             e.get_double("power_w_per_gb", std::nullopt, 0, 100)};
      e.finish();
    }
    for (auto& [id, e] : doc.child_map("storage_kinds")) {
      c.storage_kinds_[id] = spec::MemoryKind{id, e.get_double("embodied_kg_per_gb", std::nullopt, 0, 100),
                                              e.get_double("power_w_per_gb", std::nullopt, 0, 100)};
      e.finish();
    }
    // The Reduce rule's sizes (docs/CARBON.md, "Reduce"): optional, so older catalogs still load.
    if (auto hs = doc.maybe_child("host_sizing")) {
      c.host_sizing_.os_dram_gb = hs->get_double("os_dram_gb", std::nullopt, 0, 1e5);
      c.host_sizing_.os_ssd_gb = hs->get_double("os_ssd_gb", std::nullopt, 0, 1e6);
      for (const char* key : {"dimm_gb", "drive_gb"}) {
        auto& list = std::string(key) == "dimm_gb" ? c.host_sizing_.dimm_gb : c.host_sizing_.drive_gb;
        list = hs->get_double_list(key, std::nullopt, 1, 1e6);
        if (list.empty() || !std::is_sorted(list.begin(), list.end()) ||
            std::adjacent_find(list.begin(), list.end()) != list.end())
          hs->fail(key, "expected a list of sizes in GB, strictly ascending");
      }
      hs->finish();
    }
    doc.finish();
  }
  const auto mem_ids = ids_of(c.memory_kinds_);

  {
    ConfigNode doc = ConfigNode::open_file((hw / "gpus.yaml").string());
    for (auto& [id, e] : doc.child_map("gpus")) {
      spec::GpuSpec g;
      g.id = id;
      g.name = e.get_string("name");
      g.vendor = e.get_string("vendor");
      g.launch_year = static_cast<int>(e.get_int("launch_year", std::nullopt, 1990, 2100));
      g.architecture = e.get_string("architecture");
      g.form_factor = e.get_choice("form_factor", {"sxm", "pcie", "oam"});
      g.memory_gb = e.get_double("memory_gb", std::nullopt, 1, 4096);
      g.memory_kind = e.get_string("memory_kind");
      require_ref(e, "memory_kind", g.memory_kind, mem_ids, "memory kind");
      g.memory_bandwidth_gbps = e.get_double("memory_bandwidth_gbps", std::nullopt, 1, 1e5);
      g.fp16_tflops = e.get_double("fp16_tflops", std::nullopt, 0.1, 1e5);
      g.fp8_tflops = e.get_double("fp8_tflops", 0.0, 0, 1e5);
      g.tdp_w = e.get_double("tdp_w", std::nullopt, 1, 1e4);
      g.die_area_mm2 = e.get_double("die_area_mm2", std::nullopt, 1, 1e4);
      g.process_node = e.get_string("process_node");
      g.link = e.get_choice("link", {"nvlink", "pcie"});
      g.link_bandwidth_gbps = e.get_double("link_bandwidth_gbps", std::nullopt, 0.1, 1e4);
      ConfigNode p = e.child("power");
      g.power.idle_w = p.get_double("idle_w", std::nullopt, 0, 1e4);
      g.power.prefill_w = p.get_double("prefill_w", std::nullopt, 0, 1e4);
      g.power.decode_w = p.get_double("decode_w", std::nullopt, 0, 1e4);
      if (g.power.idle_w > g.power.decode_w || g.power.decode_w > g.power.prefill_w)
        p.fail_here("expected idle_w <= decode_w <= prefill_w");
      p.finish();
      ConfigNode em = e.child("embodied");
      g.embodied.pcb_area_cm2 = em.get_double("pcb_area_cm2", std::nullopt, 0, 1e5);
      g.embodied.soc_kg = em.get_double("soc_kg", std::nullopt, 0, 1e4);
      g.embodied.board_power_w = em.get_double("board_power_w", std::nullopt, 0, 1e5);
      em.finish();
      e.finish();
      c.gpus_[id] = g;
    }
    doc.finish();
  }

  {
    ConfigNode doc = ConfigNode::open_file((hw / "cpus.yaml").string());
    for (auto& [id, e] : doc.child_map("cpus")) {
      spec::CpuSpec p;
      p.id = id;
      p.name = e.get_string("name");
      p.vendor = e.get_string("vendor");
      p.launch_year = static_cast<int>(e.get_int("launch_year", std::nullopt, 1990, 2100));
      p.cores = static_cast<int>(e.get_int("cores", std::nullopt, 1, 1024));
      p.threads = static_cast<int>(e.get_int("threads", std::nullopt, 1, 4096));
      p.base_ghz = e.get_double("base_ghz", std::nullopt, 0.1, 10);
      p.memory_channels = static_cast<int>(e.get_int("memory_channels", std::nullopt, 1, 64));
      p.memory_bandwidth_gbps = e.get_double("memory_bandwidth_gbps", std::nullopt, 1, 1e4);
      p.bf16_tflops = e.get_double("bf16_tflops", std::nullopt, 0, 1e4);
      p.tdp_w = e.get_double("tdp_w", std::nullopt, 1, 2000);
      p.idle_w = e.get_double("idle_w", std::nullopt, 0, 2000);
      p.process_node = e.get_string("process_node");
      p.amx = e.get_bool("amx");
      e.finish();
      c.cpus_[id] = p;
    }
    doc.finish();
  }

  // Optional: a catalog without it loads, and only an experiment with a `network:` section needs it.
  if (fs::exists(hw / "network.yaml")) {
    ConfigNode doc = ConfigNode::open_file((hw / "network.yaml").string());
    for (auto& [id, e] : doc.child_map("link_kinds")) {
      spec::LinkKind k;
      k.id = id;
      k.kind = e.get_choice("kind", {"nvlink", "pcie", "ethernet", "infiniband", "wan"});
      k.bandwidth_gbps = e.get_double("bandwidth_gbps", std::nullopt, 1e-3, 1e5);
      k.latency_us = e.get_double("latency_us", std::nullopt, 0, 1e6);
      k.energy_pj_per_bit = e.get_double("energy_pj_per_bit", std::nullopt, 0, 1e6);
      e.finish();
      c.link_kinds_[id] = k;
    }
    for (auto& [id, e] : doc.child_map("switch_kinds")) {
      spec::SwitchKind k;
      k.id = id;
      k.ports = static_cast<int>(e.get_int("ports", std::nullopt, 1, 100000));
      k.static_w = e.get_double("static_w", std::nullopt, 0, 1e6);
      k.embodied_kg = e.get_double("embodied_kg", std::nullopt, 0, 1e7);
      k.lifetime_years = e.get_double("lifetime_years", std::nullopt, 0.01, 100);
      e.finish();
      c.switch_kinds_[id] = k;
    }
    doc.finish();
  }

  {
    ConfigNode doc = ConfigNode::open_file((hw / "servers.yaml").string());
    const auto link_ids = ids_of(c.link_kinds_);
    // A link key names a kind of network.yaml, of the class the key asks for.
    auto read_link = [&](ConfigNode& e, const std::string& key, const std::string& def, const std::string& cls) {
      const std::string v = e.get_string(key, def);
      if (link_ids.empty()) return v;  // no network.yaml: checked if an experiment ever asks for a network
      require_ref(e, key, v, link_ids, "link kind");
      const std::string& got = c.link_kinds_.at(v).kind;
      const bool ok = cls == "nic" ? (got == "ethernet" || got == "infiniband") : got == cls;
      if (!ok)
        e.fail(key, fmt::format("link kind '{}' is a {} link; expected {}", v, got,
                                cls == "nic" ? "an ethernet or infiniband link" : "a " + cls + " link"));
      return v;
    };
    const auto gpu_ids = ids_of(c.gpus_), cpu_ids = ids_of(c.cpus_);
    for (auto& [id, e] : doc.child_map("servers")) {
      spec::ServerSku s;
      s.id = id;
      s.name = e.get_string("name");
      s.gpu = e.get_string("gpu");
      require_ref(e, "gpu", s.gpu, gpu_ids, "GPU");
      s.gpu_count = static_cast<int>(e.get_int("gpu_count", std::nullopt, 0, 64));
      s.cpu = e.get_string("cpu");
      require_ref(e, "cpu", s.cpu, cpu_ids, "CPU");
      s.cpu_sockets = static_cast<int>(e.get_int("cpu_sockets", std::nullopt, 1, 8));
      s.dram_gb = e.get_double("dram_gb", std::nullopt, 1, 1e6);
      s.dram_kind = e.get_string("dram_kind");
      require_ref(e, "dram_kind", s.dram_kind, mem_ids, "memory kind");
      s.ssd_gb = e.get_double("ssd_gb", std::nullopt, 0, 1e7);
      s.nic_gbps = e.get_double("nic_gbps", std::nullopt, 0, 1e5);
      s.chassis_w = e.get_double("chassis_w", std::nullopt, 0, 1e5);
      s.nic_w = e.get_double("nic_w", std::nullopt, 0, 1e5);
      if (e.has("scale_up_link")) {
        s.scale_up_link = read_link(e, "scale_up_link", "", "nvlink");
      } else if (c.gpus_.at(s.gpu).link == "nvlink") {
        // The scale-up kind whose bandwidth is the GPU's own link bandwidth, if the catalog has one.
        for (const auto& [kid, k] : c.link_kinds_)
          if (k.kind == "nvlink" && k.bandwidth_gbps == c.gpus_.at(s.gpu).link_bandwidth_gbps)
            s.scale_up_link = kid;
      }
      s.pcie_link = read_link(e, "pcie_link", s.pcie_link, "pcie");
      s.gpus_per_pcie_switch = static_cast<int>(e.get_int("gpus_per_pcie_switch", s.gpus_per_pcie_switch, 1, 64));
      s.nic_link = read_link(e, "nic_link", s.nic_link, "nic");
      if (e.has("usd_per_hour")) s.usd_per_hour = e.get_double("usd_per_hour", std::nullopt, 0, 1e6);
      e.finish();
      c.servers_[id] = s;
    }
    doc.finish();
  }

  {
    ConfigNode doc = ConfigNode::open_file((hw / "embodied.yaml").string());
    auto& k = c.embodied_;
    ConfigNode g = doc.child("gpu_card");
    k.gpu_card.margin = g.get_double("margin", std::nullopt, 1, 2);
    k.gpu_card.pcb_kg_per_cm2 = g.get_double("pcb_kg_per_cm2", std::nullopt, 0, 10);
    k.gpu_card.power_delivery_reference_w = g.get_double("power_delivery_reference_w", std::nullopt, 1, 1e5);
    k.gpu_card.power_delivery_reference_kg = g.get_double("power_delivery_reference_kg", std::nullopt, 0, 1e4);
    k.gpu_card.cooling_liquid_reference_w = g.get_double("cooling_liquid_reference_w", std::nullopt, 1, 1e5);
    k.gpu_card.cooling_liquid_reference_kg = g.get_double("cooling_liquid_reference_kg", std::nullopt, 0, 1e4);
    k.gpu_card.cooling_air_reference_w = g.get_double("cooling_air_reference_w", std::nullopt, 1, 1e5);
    k.gpu_card.cooling_air_reference_kg = g.get_double("cooling_air_reference_kg", std::nullopt, 0, 1e4);
    k.gpu_card.interconnect_kg = g.get_double("interconnect_kg", std::nullopt, 0, 1e4);
    g.finish();
    ConfigNode h = doc.child("host");
    k.host.mainboard_kg = h.get_double("mainboard_kg", std::nullopt, 0, 1e4);
    k.host.peripheral_pcb_area_cm2 = h.get_double("peripheral_pcb_area_cm2", std::nullopt, 0, 1e6);
    k.host.peripheral_pcb_kg_per_cm2 = h.get_double("peripheral_pcb_kg_per_cm2", std::nullopt, 0, 10);
    k.host.cpu_die_kg = h.get_double("cpu_die_kg", std::nullopt, 0, 1e4);
    k.host.psu_kg = h.get_double("psu_kg", std::nullopt, 0, 1e4);
    k.host.chassis_kg = h.get_double("chassis_kg", std::nullopt, 0, 1e4);
    k.host.fans_kg = h.get_double("fans_kg", std::nullopt, 0, 1e4);
    h.finish();
    ConfigNode a = doc.child("act");
    k.act.package_kg = a.get_double("package_kg", std::nullopt, 0, 100);
    k.act.memory_kg_per_gb = a.get_double("memory_kg_per_gb", std::nullopt, 0, 10);
    ConfigNode logic = a.child("logic_kg_per_cm2");
    for (const auto& node_id : logic.keys())
      k.act.logic_kg_per_cm2[node_id] = logic.get_double(node_id, std::nullopt, 0, 100);
    logic.finish();
    a.finish();
    doc.finish();
    // Every GPU's process node must have an ACT carbon-per-area entry.
    for (const auto& [id, gpu] : c.gpus_)
      if (!k.act.logic_kg_per_cm2.count(gpu.process_node))
        throw core::InputError(
            fmt::format("{}: act.logic_kg_per_cm2 has no entry for process node '{}' (GPU '{}')",
                        (hw / "embodied.yaml").string(), gpu.process_node, id));
  }

  const fs::path md = fs::path(root) / "models" / "llm";
  if (!fs::is_directory(md)) throw core::InputError(fmt::format("{}: model directory not found", md.string()));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(md))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    ConfigNode e = ConfigNode::open_file(f.string());
    spec::LlmModel m;
    m.id = e.get_string("id");
    if (m.id != f.stem().string()) e.fail("id", fmt::format("must match the file name '{}'", f.stem().string()));
    m.name = e.get_string("name");
    m.layers = static_cast<int>(e.get_int("layers", std::nullopt, 1, 1000));
    m.hidden_size = static_cast<int>(e.get_int("hidden_size", std::nullopt, 1, 1 << 20));
    m.heads = static_cast<int>(e.get_int("heads", std::nullopt, 1, 4096));
    m.kv_heads = static_cast<int>(e.get_int("kv_heads", std::nullopt, 1, 4096));
    m.head_dim = static_cast<int>(e.get_int("head_dim", std::nullopt, 1, 4096));
    m.ffn_size = static_cast<int>(e.get_int("ffn_size", std::nullopt, 1, 1 << 22));
    m.vocab_size = static_cast<int>(e.get_int("vocab_size", std::nullopt, 1, 1 << 24));
    m.max_context = static_cast<int>(e.get_int("max_context", std::nullopt, 1, 1 << 24));
    m.gated_mlp = e.get_choice("mlp", {"gated", "plain"}) == "gated";
    m.tied_embeddings = e.get_bool("tied_embeddings");
    const std::string dtype = e.get_choice("dtype", {"fp32", "fp16", "bf16", "fp8"});
    m.bytes_per_param = dtype == "fp32" ? 4 : dtype == "fp8" ? 1 : 2;
    m.published_params_b = e.get_double("parameters_b", std::nullopt, 0.001, 1e5);
    if (m.heads % m.kv_heads != 0) e.fail("kv_heads", "heads must be a multiple of kv_heads");
    const double counted = m.parameters() / 1e9;
    if (std::abs(counted - m.published_params_b) > 0.05 * m.published_params_b)
      e.fail("parameters_b", fmt::format("the shape gives {:.3f} B parameters, more than 5% away from {}", counted,
                                         m.published_params_b));
    e.finish();
    c.models_[m.id] = m;
  }
  if (c.models_.empty()) throw core::InputError(fmt::format("{}: no model files (*.yaml)", md.string()));

  const fs::path cal = fs::path(root) / "models" / "calibration";
  if (fs::is_directory(cal)) {
    std::vector<fs::path> cal_files;
    // cpu/ holds CPU inference models and their measurements, read by sim/calibration/cpu_calibration.cpp instead.
    for (const auto& entry : fs::recursive_directory_iterator(cal))
      if (entry.path().extension() == ".yaml" && entry.path().parent_path().filename() != "power" &&
          entry.path().parent_path().filename() != "measure" &&
          *entry.path().lexically_relative(cal).begin() != "cpu")
        cal_files.push_back(entry.path());
    std::sort(cal_files.begin(), cal_files.end());
    for (const auto& f : cal_files) {
      spec::CalibrationCoefficients k = load_coefficients(f.string());
      // Runs look an entry up by what the file says, `validate` and `calibrate` by its path
      // (coefficients_path: GPU/MODEL-tpN.yaml): a file whose keys and path differ (a copy, a hand edit) would
      // replace another entry silently, or be judged against another file; refused at the key that differs.
      ConfigNode keys = ConfigNode::open_file(f.string());
      if (!c.gpus_.count(k.gpu)) keys.fail("gpu", fmt::format("unknown GPU '{}'", k.gpu));
      if (!c.models_.count(k.model)) keys.fail("model", fmt::format("unknown model '{}'", k.model));
      const std::string expected = coefficients_path(root, k.gpu, k.model, k.tensor_parallel);
      if (fs::path(expected).parent_path().filename() != f.parent_path().filename())
        keys.fail("gpu", fmt::format("'{}' is not the directory the file is in ({}); greenfleet calibrate writes "
                                     "each entry to {}",
                                     k.gpu, f.parent_path().filename().string(), expected));
      if (fs::path(expected).filename() != f.filename())
        keys.fail(f.stem().string().rfind(k.model + "-tp", 0) == 0 ? "tensor_parallel" : "model",
                  fmt::format("{} {} tensor_parallel {} belongs in {}, not {} (greenfleet calibrate writes each "
                              "entry to GPU/MODEL-tpN.yaml)",
                              k.gpu, k.model, k.tensor_parallel, fs::path(expected).filename().string(),
                              f.filename().string()));
      c.calibrations_[{k.gpu, k.model, k.tensor_parallel}] = k;
    }
    if (fs::is_directory(cal / "power")) {
      std::vector<fs::path> power_files;
      for (const auto& entry : fs::directory_iterator(cal / "power"))
        if (entry.path().extension() == ".yaml") power_files.push_back(entry.path());
      std::sort(power_files.begin(), power_files.end());
      for (const auto& f : power_files) {
        spec::GpuPowerCurve pc = catalog::load_power_curve(f.string());
        ConfigNode keys = ConfigNode::open_file(f.string());
        if (!c.gpus_.count(pc.gpu)) keys.fail("gpu", fmt::format("unknown GPU '{}'", pc.gpu));
        // Looked up by its GPU (one curve each; messages name power/GPU.yaml): a copy under another name would
        // replace the GPU's own curve silently.
        if (f.stem().string() != pc.gpu)
          keys.fail("gpu", fmt::format("'{}' does not match the file name ({}.yaml holds the curve of GPU '{}')",
                                       pc.gpu, f.stem().string(), f.stem().string()));
        // A mean decode power above the board's power limit is not a measurement of this GPU.
        const double tdp = c.gpus_.at(pc.gpu).tdp_w;
        for (const auto& [key, watts] :
             {std::pair<const char*, double>{"decode_w_small", pc.decode_w_small},
              std::pair<const char*, double>{"decode_w_saturated", pc.decode_w_saturated}})
          if (watts > tdp)
            keys.fail(key, fmt::format("{:g} W is above the GPU's tdp_w ({:g} W, hardware_catalog/gpus.yaml)",
                                       watts, tdp));
        c.power_curves_[pc.gpu] = pc;
      }
    }
  }
  return c;
}

}  // namespace greenfleet::catalog
