#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"
#include "sim/experiment/sweep.hpp"
#include "sim/output/atomic_output.hpp"
#include "sim/study/sweep_runner.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {

int sweep(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet sweep EXP.yaml [-j N] [-o DIR] [options]");
  std::string output_dir, catalog_dir, data_dir, experiment_file;
  std::vector<std::string> overrides;
  int jobs = 1;
  opts.add_options()("help,h", "show this help")("jobs,j", po::value(&jobs)->value_name("N"),
                                                 "runs at a time on this machine (on each MPI rank), default 1")(
      "output,o", po::value(&output_dir)->value_name("DIR"),
      "output directory (default: out/sweep_STEM for EXP.yaml = STEM.yaml)")(
      "set", po::value(&overrides)->composing()->value_name("KEY=VALUE"),
      "override a key of every point (repeatable), as for run")(
      "dry-run,n", "validate every point and list the runs, run nothing")("quiet,q", "no progress lines")(
      "catalog", po::value(&catalog_dir)->value_name("DIR"), kCatalogHelp)(
      "data-dir", po::value(&data_dir)->value_name("DIR"), kDataDirHelp);
  po::options_description all;
  all.add(opts).add_options()("experiment", po::value(&experiment_file));
  po::positional_options_description pos;
  pos.add("experiment", 1);
  const po::variables_map vm = parse_arguments("sweep", args, all, pos);
  if (vm.count("help")) {
    std::cout << opts
              << "\nRuns every point of the experiment's sweep: block, each to DIR/pPPPP_rRR.h5, and writes "
                 "DIR/index.csv.\nPoints whose file already holds the same configuration and binary revision "
                 "are reused.\nUnder mpirun the ranks share the points (docs/SCALING.md).\n"
                 "Exit codes: 0 ok, 1 a point failed or internal error, 2 bad input, 130 interrupted.\n";
    return 0;
  }
  if (experiment_file.empty())
    throw core::InputError("sweep: missing the experiment file (greenfleet sweep EXP.yaml)");
  if (jobs < 1) throw core::InputError("sweep: --jobs must be at least 1");
  if (vm.count("output") && output_dir.empty())
    throw core::InputError("sweep: -o/--output: empty output directory (see greenfleet sweep --help)");

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  config::check_distinct_overrides(overrides);
  const experiment::Sweep sweep = experiment::load_sweep(experiment_file, overrides);
  if (sweep.runs.empty())
    throw core::InputError(
        fmt::format("{}: no sweep: block (docs/EXPERIMENTS.md); use greenfleet run", experiment_file));
  if (output_dir.empty())
    output_dir =
        (std::filesystem::path("out") / ("sweep_" + std::filesystem::path(experiment_file).stem().string()))
            .string();
  // The output directory is checked before any point is validated: an existing file is bad input, never
  // replaced; a directory that cannot be created is the environment (exit 3), before any run starts.
  if (std::error_code ec;
      std::filesystem::exists(output_dir, ec) && !std::filesystem::is_directory(output_dir, ec))
    throw core::InputError(fmt::format(
        "{}: the sweep's output directory exists and is not a directory; give a directory", output_dir));
  experiment::LoadOptions lo;
  lo.overrides = sweep.base_overrides;
  lo.data_dir = data_dir.empty() ? experiment::default_data_dir(root) : data_dir;
  std::vector<std::string> notes;
  const std::vector<std::string> resolved =
      experiment::validate_sweep(experiment_file, catalog, lo, sweep, output_dir, &notes);
  // Once per distinct note, not once per run (the runs take `run --no-notes`); under mpirun, by rank 0.
  if (study::lead_process()) print_notes(notes);
  // Files already in the directory are replaced only if a sweep wrote them (a run's HDF5 file, the index), as
  // for run -o; anything else is refused now rather than failing its point, or losing the file, later. A run's
  // file that is up to date is reused, not replaced, so it is not checked (a read-only one resumes as before).
  for (std::size_t i = 0; i < sweep.runs.size(); ++i)
    if (const auto path = (std::filesystem::path(output_dir) / sweep.runs[i].output).string();
        std::filesystem::exists(path) && !study::up_to_date(path, resolved[i]))
      output::check_run_output_path(path);
  if (const auto index = (std::filesystem::path(output_dir) / "index.csv").string();
      std::filesystem::exists(index))
    core::check_output_path(index, {}, "output file", "point,replica,");

  if (vm.count("dry-run")) {
    for (const auto& run : sweep.runs) {
      std::string values;
      for (std::size_t c = 0; c < sweep.columns.size(); ++c)
        values += fmt::format(" {}={}", sweep.columns[c], run.values[c]);
      fmt::print("{} point {} replica {}{}\n", (std::filesystem::path(output_dir) / run.output).string(),
                 run.point, run.replica, values);
    }
    fmt::print(stderr, "sweep: {} runs ({} points x {} replicas) valid; nothing run (--dry-run)\n",
               sweep.runs.size(), sweep.points, sweep.replicas);
    return 0;
  }
  if (std::error_code ec; !std::filesystem::create_directories(output_dir, ec) && ec) {
    if (ec == std::errc::not_a_directory)
      throw core::InputError(
          fmt::format("{}: the sweep's output directory lies under a file that is not a directory", output_dir));
    core::throw_write_error(fmt::format("{}: cannot create the sweep's output directory", output_dir), ec.value());
  }
  study::SweepOptions so;
  so.experiment_file = experiment_file;
  so.output_dir = output_dir;
  so.jobs = jobs;
  so.quiet = vm.count("quiet") != 0;
  for (const auto& o : sweep.base_overrides) so.run_args.push_back("--set"), so.run_args.push_back(o);
  so.run_args.push_back("--catalog"), so.run_args.push_back(root);
  if (!lo.data_dir.empty()) so.run_args.push_back("--data-dir"), so.run_args.push_back(lo.data_dir);
  const int rc = study::run_sweep(sweep, resolved, so);
  if (rc == 0 || rc == 1) {
    if (!so.quiet && !study::launched_under_mpi())
      fmt::print(stderr, "sweep: {} runs ({} points x {} replicas); index: {}\n", sweep.runs.size(), sweep.points,
                 sweep.replicas, (std::filesystem::path(output_dir) / "index.csv").string());
  }
  return rc;
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  try {
    return sweep(args);
  } catch (const core::InputError&) {
    // Under mpirun every rank reads the same files and finds the same bad input: rank 0 reports it, the others
    // leave with the same exit code without repeating it.
    if (!study::lead_process()) std::_Exit(2);
    throw;
  }
}

}  // namespace greenfleet::cli
