#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <string_view>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/experiment/components.hpp"
#include "sim/experiment/engine_presets.hpp"
#include "sim/planning/objectives.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

int list_command(const std::vector<std::string>& args) {
  po::options_description opts(
      "greenfleet list [components|policies|presets|gpus|cpus|servers|models] [options]\n"
      "  no argument or `components`: every registry of pluggable parts with its parameters;\n"
      "  `policies`: the routers, mode routers, power policies and planner objectives;\n"
      "  `presets`: the engine presets of deployments[].scheduler.preset;\n"
      "  `gpus`, `cpus`, `servers`, `models`: the catalog's entries (ids for experiment files)");
  std::string what, catalog_dir;
  opts.add_options()("help,h", "show this help")("catalog", po::value(&catalog_dir)->value_name("DIR"),
                                                 kCatalogHelp)(
      "embodied", "with `servers`: each SKU's embodied carbon by component (EcoServe calculator, kgCO2e)")(
      "markdown", "with `components` (or no argument): the parameter tables of docs/EXPERIMENTS.md");
  po::options_description all;
  all.add(opts).add_options()("what", po::value(&what));
  po::positional_options_description pos;
  pos.add("what", 1);
  const po::variables_map vm = parse_arguments("list", args, all, pos);
  if (vm.count("help")) {
    std::cout << opts << kExitCodesHelp;
    return 0;
  }
  if (vm.count("markdown") && !what.empty() && what != "components")
    throw core::InputError("list: --markdown goes with `greenfleet list components` (or no argument)");
  if (what.empty() || what == "components" || what == "policies") {
    bool first = true;
    auto listings = experiment::registries();
    // The planner's objectives belong to planning files, documented in docs/PLANNING.md, not in the experiment
    // tables of docs/EXPERIMENTS.md that --markdown writes.
    if (!vm.count("markdown")) listings.push_back(planning::objectives().listing());
    for (const auto& l : listings) {
      if (what == "policies" && l.category != "router" && l.category != "power_policy" &&
          l.category != "mode_router" && l.category != "planner_objective")
        continue;
      if (vm.count("markdown")) {
        fmt::print("{}<!-- generated:{} -->\n{}<!-- end generated:{} -->\n", first ? "" : "\n", l.category,
                   core::listing_markdown(l), l.category);
      } else {
        fmt::print("{}{}", first ? "" : "\n", core::listing_text(l));
      }
      first = false;
    }
    if (vm.count("markdown"))
      fmt::print("\n<!-- generated:engine_presets -->\n{}<!-- end generated:engine_presets -->\n",
                 experiment::engine_presets_markdown());
    return 0;
  }
  if (what == "presets") {
    fmt::print("{}", experiment::engine_presets_text());
    return 0;
  }
  if (vm.count("embodied") && what != "servers")
    throw core::InputError("list: --embodied goes with `greenfleet list servers`");
  const catalog::Catalog c =
      catalog::Catalog::load(catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir);
  // The id and name columns are as wide as their longest entry, so every row stays aligned whatever the catalog.
  const auto width = [](const auto& entries, const char* header, auto field) {
    std::size_t w = std::string_view(header).size();
    for (const auto& [id, e] : entries) w = std::max(w, std::string_view(field(id, e)).size());
    return w;
  };
  if (what == "gpus") {
    const std::size_t wi =
        width(c.gpus(), "id", [](const auto& id, const auto&) -> const std::string& { return id; });
    const std::size_t wn =
        width(c.gpus(), "name", [](const auto&, const auto& g) -> const std::string& { return g.name; });
    fmt::print("{:<{}} {:<{}} {:>5} {:>7} {:>9} {:>9} {:>6}\n", "id", wi, "name", wn, "year", "mem GB", "BW GB/s",
               "FP16 TF", "TDP W");
    for (const auto& [id, g] : c.gpus())
      fmt::print("{:<{}} {:<{}} {:>5} {:>7} {:>9} {:>9} {:>6}\n", id, wi, g.name, wn, g.launch_year, g.memory_gb,
                 g.memory_bandwidth_gbps, g.fp16_tflops, g.tdp_w);
  } else if (what == "cpus") {
    const std::size_t wi =
        width(c.cpus(), "id", [](const auto& id, const auto&) -> const std::string& { return id; });
    const std::size_t wn =
        width(c.cpus(), "name", [](const auto&, const auto& p) -> const std::string& { return p.name; });
    fmt::print("{:<{}} {:<{}} {:>5} {:>6} {:>9} {:>6}\n", "id", wi, "name", wn, "year", "cores", "BW GB/s",
               "TDP W");
    for (const auto& [id, p] : c.cpus())
      fmt::print("{:<{}} {:<{}} {:>5} {:>6} {:>9} {:>6}\n", id, wi, p.name, wn, p.launch_year, p.cores,
                 p.memory_bandwidth_gbps, p.tdp_w);
  } else if (what == "servers" && vm.count("embodied")) {
    fmt::print(
        "Embodied carbon per server SKU, whole life, kgCO2e (EcoServe calculator; ACT die model for "
        "comparison)\n");
    fmt::print("{:<24} {:>8} {:>8} {:>7} {:>9} {:>5} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}\n", "id", "card",
               "x GPUs", "SSD", "DRAM", "CPU", "board", "other", "host", "total", "host %", "ACT/card");
    for (const auto& [id, s] : c.servers()) {
      const auto card = energy::ecoserve_gpu_card(c.gpu(s.gpu), c);
      const auto host = energy::ecoserve_host(s, c);
      const double cards = card.total * s.gpu_count;
      const double other = host.peripherals + host.psu + host.chassis + host.fans;
      fmt::print(
          "{:<24} {:>8.1f} {:>8.1f} {:>7.1f} {:>9.1f} {:>5.0f} {:>6.0f} {:>9.1f} {:>9.1f} {:>9.1f} {:>8.1f}% "
          "{:>7.1f}\n",
          id, card.total, cards, host.ssd, host.dram, host.cpu_die, host.mainboard, other, host.total,
          cards + host.total, 100 * host.total / (cards + host.total), energy::act_gpu(c.gpu(s.gpu), c).total);
    }
    fmt::print(
        "\ncard = 1.05 x (memory + PCB + power delivery + cooling + SoC + interconnect); "
        "other = peripherals + PSU + chassis + fans. See docs/CARBON.md.\n");
  } else if (what == "servers") {
    fmt::print("{:<24} {:<16} {:>4} {:<12} {:>7} {:>8} {:>8}\n", "id", "gpu", "GPUs", "cpu", "sockets", "DRAM GB",
               "SSD GB");
    for (const auto& [id, s] : c.servers())
      fmt::print("{:<24} {:<16} {:>4} {:<12} {:>7} {:>8} {:>8}\n", id, s.gpu, s.gpu_count, s.cpu, s.cpu_sockets,
                 s.dram_gb, s.ssd_gb);
  } else if (what == "models") {
    fmt::print("{:<16} {:>7} {:>7} {:>7} {:>6} {:>9} {:>10}\n", "id", "params", "layers", "hidden", "kv",
               "weights", "KV/token");
    for (const auto& [id, m] : c.models())
      fmt::print("{:<16} {:>6.2f}B {:>7} {:>7} {:>6} {:>7.1f}GB {:>8.0f}KiB\n", id, m.parameters() / 1e9, m.layers,
                 m.hidden_size, m.kv_heads, m.weight_bytes() / 1e9, m.kv_bytes_per_token() / 1024);
  } else {
    throw core::InputError(fmt::format(
        "list: expected one of components, policies, presets, gpus, cpus, servers, models; got '{}'", what));
  }
  return 0;
}

}  // namespace greenfleet::cli
