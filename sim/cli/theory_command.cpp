#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/study/greenllm_theory.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

int theory_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet theory EXP.yaml [options]");
  std::string catalog_dir, data_dir;
  std::vector<std::string> overrides;
  double prompt = 0, output = 0, ci_max = 800, ci_step = 50;
  std::int32_t prefill_batch = 1, decode_batch = 16, old_decode_batch = 0;
  opts.add_options()("help,h", "show this help")("json", "print one JSON object instead of tables")(
      "set", po::value(&overrides)->composing()->value_name("KEY=VALUE"),
      "override any key of the experiment (repeatable)")(
      "prompt", po::value(&prompt)->value_name("N"),
      "prompt tokens of the unit of work (default: the workload's mean; give --output with it)")(
      "output", po::value(&output)->value_name("N"),
      "output tokens of the unit of work (default: the workload's mean; give --prompt with it)")(
      "prefill-batch", po::value(&prefill_batch)->default_value(1)->value_name("B"), "prompts per prefill step")(
      "decode-batch", po::value(&decode_batch)->default_value(16)->value_name("B"), "sequences per decode step")(
      "old-decode-batch", po::value(&old_decode_batch)->value_name("B"),
      "sequences per decode step on the old GPU (default: --decode-batch)")(
      "ci-max", po::value(&ci_max)->default_value(800)->value_name("CI"), "largest grid CI, gCO2e/kWh")(
      "ci-step", po::value(&ci_step)->default_value(50)->value_name("CI"), "grid step, gCO2e/kWh")(
      "catalog", po::value(&catalog_dir)->value_name("DIR"), kCatalogHelp)(
      "data-dir", po::value(&data_dir)->value_name("DIR"), kDataDirHelp);
  po::options_description hidden;
  std::string experiment_file;
  hidden.add_options()("experiment", po::value(&experiment_file));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("experiment", 1);
  const po::variables_map vm = parse_arguments("theory", args, all, pos);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nGreenLLM's closed form (docs/THEORY.md) for the experiment's disaggregated deployment: per-request "
           "times, powers and embodied rates from the run's models, carbon and savings over a CI grid, the "
           "break-even CI, and the effect of the new GPUs' lifetime (3-7 years).\n"
        << kExitCodesHelp;
    return 0;
  }
  if (experiment_file.empty())
    throw core::InputError("theory: missing the experiment file (greenfleet theory EXP.yaml)");
  if (std::error_code ec; std::filesystem::is_directory(experiment_file, ec))
    throw core::InputError(fmt::format("{}: is a directory; give the experiment's YAML file", experiment_file));
  // 0 stands for "as --decode-batch" inside; given, it is a batch like the others (it was taken as not given).
  if (vm.count("old-decode-batch") && old_decode_batch < 1)
    throw core::InputError("theory: --prefill-batch, --decode-batch and --old-decode-batch must be at least 1");
  if (vm.count("prompt") != vm.count("output"))
    throw core::InputError("theory: --prompt and --output go together");
  // The bounds of a workload's lengths (workload.synthetic.*_tokens): infinity would print infinite times.
  if (vm.count("prompt") && (!(prompt <= 1e7) || !(output <= 1e7)))
    throw core::InputError("theory: --prompt and --output are at most 10,000,000 tokens");
  if (!(ci_max >= 0) || !(ci_step > 0) || ci_max / ci_step > 10000)
    throw core::InputError("theory: --ci-max must be >= 0 and --ci-step > 0 (at most 10,000 grid points)");

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  experiment::LoadOptions lo;
  config::check_distinct_overrides(overrides);
  lo.overrides = overrides;
  lo.data_dir = data_dir.empty() ? experiment::default_data_dir(root) : data_dir;
  const experiment::Experiment x = experiment::load_experiment(experiment_file, catalog, lo);
  print_notes(experiment::notes_for_fleet(x, catalog));

  study::TheoryOptions options;
  if (vm.count("prompt")) {
    options.prompt_tokens = prompt;
    options.output_tokens = output;
  }
  options.prefill_batch = prefill_batch;
  options.decode_batch = decode_batch;
  options.old_decode_batch = old_decode_batch;
  const study::Theory theory = study::derive_theory(x, catalog, options);
  std::vector<double> grid;
  for (int i = 0; i * ci_step <= ci_max + 1e-9; ++i) grid.push_back(i * ci_step);
  const std::vector<double> lifetimes{3, 4, 5, 6, 7};  // GreenLLM (arXiv 2412.20322): new GPUs last 3-7 years
  std::cout << (vm.count("json") ? study::format_theory_json(theory, grid, lifetimes)
                                 : study::format_theory_table(theory, grid, lifetimes));
  return 0;
}

}  // namespace greenfleet::cli
