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
#include "sim/planning/capacity.hpp"
#include "sim/planning/ilp.hpp"
#include "sim/planning/plan_config.hpp"
#include "sim/planning/plan_output.hpp"
#include "sim/text/text_file.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {
// The first line of every plan file (planning::plan_yaml): an existing file is replaced only if it begins so.
const std::string kPlanFileHead = "# greenfleet plan (docs/PLANNING.md)\n";
}  // namespace

int plan_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet plan PLAN.yaml [options]");
  std::string output, catalog_dir, data_dir;
  std::vector<std::string> overrides;
  opts.add_options()("help,h", "show this help")(
      "output,o", po::value(&output)->value_name("PLAN_OUT.yaml"),
      "plan file, YAML (default: output.path in the planning file, else out/NAME.plan.yaml)")(
      "set", po::value(&overrides)->composing()->value_name("KEY=VALUE"),
      "override any key of the planning file (repeatable)")(
      "rebuild-capacity", "simulate every capacity entry again, ignoring the cache")(
      "capacity-only", "build (or read) the capacity tables, print them and stop: no solve, no plan file")(
      "quiet,q", "no progress lines")("catalog", po::value(&catalog_dir)->value_name("DIR"), kCatalogHelp)(
      "data-dir", po::value(&data_dir)->value_name("DIR"), kDataDirHelp);
  po::options_description hidden;
  std::string plan_file;
  hidden.add_options()("plan", po::value(&plan_file));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("plan", 1);
  const po::variables_map vm = parse_arguments("plan", args, all, pos);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nSolves the provisioning plan of docs/PLANNING.md for the file's objective and baselines, prints "
           "each plan and writes them all to the plan file.\nExit codes: 0 ok, 1 internal error, 2 bad input "
           "(including demand that no plan can meet), 3 the environment failed.\n";
    return 0;
  }
  if (plan_file.empty()) throw core::InputError("plan: missing the planning file (greenfleet plan PLAN.yaml)");
  if (std::error_code ec; std::filesystem::is_directory(plan_file, ec))
    throw core::InputError(fmt::format("{}: is a directory; give the planning YAML file", plan_file));
  if (vm.count("output") && output.empty()) throw core::InputError("plan: -o/--output: empty output path");
  const bool quiet = vm.count("quiet") != 0;

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  if (data_dir.empty()) data_dir = experiment::default_data_dir(root);
  config::check_distinct_overrides(overrides);
  planning::PlanConfig pc = planning::load_plan_config(plan_file, catalog, overrides, data_dir);
  if (!output.empty()) pc.output_path = output;
  print_notes(pc.notes);
  const bool capacity_only = vm.count("capacity-only") != 0;
  if (!capacity_only) core::check_output_path(pc.output_path, {plan_file}, "plan file", kPlanFileHead);

  const auto rows = planning::build_capacity(pc, catalog, data_dir, vm.count("rebuild-capacity") != 0,
                                             [&](const std::string& line) {
                                               if (!quiet) fmt::print(stderr, "  capacity: {}\n", line);
                                             });
  for (const auto& r : rows) pc.problem.capacity.push_back(r.entry);
  std::cout << "Capacity per instance\n" << planning::capacity_table(pc.problem, rows);
  if (capacity_only) return 0;

  std::vector<planning::Plan> plans;
  plans.push_back(planning::solve_plan(pc.problem, pc.objective, pc.solver));
  for (const auto& b : pc.baselines) plans.push_back(planning::solve_plan(pc.problem, b, pc.solver));
  for (const auto& plan : plans) std::cout << "\n" << planning::plan_table(pc.problem, plan);
  std::cout << "\n" << planning::comparison_table(plans);
  text::write_file(pc.output_path, planning::plan_yaml(pc, rows, plans));
  std::cout << fmt::format("plan: {}\n", pc.output_path);
  return 0;
}

}  // namespace greenfleet::cli
