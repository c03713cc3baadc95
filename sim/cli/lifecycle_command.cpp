#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/lifecycle/lifecycle.hpp"
#include "sim/text/text_file.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {
// How the per-year CSV (lifecycle::format_csv) begins: an existing file is replaced only if it begins so.
const std::string kCsvHead = "policy,year,";
}  // namespace

int lifecycle_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet lifecycle LIFECYCLE.yaml [options]");
  std::string catalog_dir, data_dir, output;
  std::vector<std::string> overrides;
  opts.add_options()("help,h", "show this help")("quiet,q", "print no progress lines")(
      "output,o", po::value(&output)->value_name("OUT.csv"),
      "CSV of the per-year table (default: the file's `output`)")(
      "csv", "print the per-year table as CSV instead of text")(
      "set", po::value(&overrides)->composing()->value_name("KEY=VALUE"),
      "override any key of the lifecycle file (repeatable)")("catalog", po::value(&catalog_dir)->value_name("DIR"),
                                                             kCatalogHelp)(
      "data-dir", po::value(&data_dir)->value_name("DIR"), kDataDirHelp);
  po::options_description hidden;
  std::string file;
  hidden.add_options()("lifecycle", po::value(&file));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("lifecycle", 1);
  const po::variables_map vm = parse_arguments("lifecycle", args, all, pos);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nEcoServe's Recycle (docs/LIFECYCLE.md): for each policy (recycle: GPUs refreshed every N years "
           "in hosts that live M; homogeneous: whole servers every N years) and each year of the horizon, "
           "simulates the base experiment's representative period on that year's fleet, scales it to a "
           "year and sums operational and embodied carbon, per year and cumulative.\n"
        << kExitCodesHelp;
    return 0;
  }
  if (file.empty())
    throw core::InputError("lifecycle: missing the lifecycle file (greenfleet lifecycle FILE.yaml)");
  if (std::error_code ec; std::filesystem::is_directory(file, ec))
    throw core::InputError(fmt::format("{}: is a directory; give the lifecycle's YAML file", file));
  if (vm.count("output") && output.empty())
    throw core::InputError("lifecycle: -o/--output: empty output path (see greenfleet lifecycle --help)");

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  const std::string data = data_dir.empty() ? experiment::default_data_dir(root) : data_dir;
  config::check_distinct_overrides(overrides);
  const lifecycle::LifecycleConfig config = lifecycle::load_config(file, catalog, overrides, data);
  const std::string path = vm.count("output") ? output : config.output;
  if (!path.empty()) core::check_output_path(path, {file, config.experiment}, "output file", kCsvHead);
  print_notes(config.notes);  // the lifecycle file's and its base experiment's

  const lifecycle::LifecycleResult result = lifecycle::run_study(config, catalog, vm.count("quiet") > 0);
  const std::string csv = lifecycle::format_csv(result);
  if (!path.empty()) text::write_file(path, csv);
  if (vm.count("csv")) {
    std::cout << csv;
  } else {
    std::cout << fmt::format("lifecycle {}: {} years, {} policies, {} simulations\n\n", config.name,
                             config.horizon_years, config.policies.size(), result.simulations)
              << lifecycle::format_table(result);
    if (!path.empty()) std::cout << fmt::format("\nwrote {}\n", path);
  }
  return 0;
}

}  // namespace greenfleet::cli
