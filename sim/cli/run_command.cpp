#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/output/atomic_output.hpp"
#include "sim/output/request_writer.hpp"
#include "sim/runner/digest.hpp"
#include "sim/runner/report.hpp"
#include "sim/runner/simulation.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

std::string clock_text(core::SimTime t) {
  const std::int64_t s = t / core::kSecond;
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet run EXP.yaml [options]");
  std::string output, catalog_dir, data_dir;
  std::vector<std::string> overrides;
  double memory_budget_gib = runner::kDefaultMemoryBudgetGib;
  opts.add_options()("help,h", "show this help")(
      "output,o", po::value(&output),
      "output HDF5 file (default: output.path in the experiment, else out/NAME.h5)")(
      "set", po::value(&overrides)->composing(), "override any key: --set workload.synthetic.rate=8 (repeatable)")(
      "quiet,q", "no progress line")("catalog", po::value(&catalog_dir),
                                     "project directory holding hardware_catalog/ and models/ "
                                     "(default: $GREENFLEET_HOME, else the source tree)")(
      "data-dir", po::value(&data_dir),
      "public data directory for traces and CI series (default: $GREENFLEET_DATA, else ../shared/data)")(
      "memory-budget", po::value(&memory_budget_gib),
      "GiB that tables sized by the configuration (per-instance histograms, /timeseries) may take; larger "
      "ones are refused at load with the key to change (default 8)");
  po::options_description hidden;
  std::string experiment_file;
  hidden.add_options()("experiment", po::value(&experiment_file));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("experiment", 1);
  const po::variables_map vm = parse_arguments("run", args, all, pos);
  if (vm.count("help")) {
    std::cout << opts
              << "\nExit codes: 0 ok, 1 internal error (a bug: please report it), 2 bad input or usage, 3 the "
                 "environment failed (disk full or not writable, out of memory), 130 interrupted.\n";
    return 0;
  }
  if (experiment_file.empty())
    throw core::InputError("run: missing the experiment file (greenfleet run EXP.yaml)");
  if (std::error_code ec; std::filesystem::is_directory(experiment_file, ec))
    throw core::InputError(fmt::format("{}: is a directory; give the experiment's YAML file", experiment_file));
  if (vm.count("output") && output.empty())
    throw core::InputError("run: -o/--output: empty output path (see greenfleet run --help)");
  if (!(memory_budget_gib > 0)) throw core::InputError("run: --memory-budget: must be a positive number of GiB");
  const auto budget_bytes = static_cast<std::uint64_t>(memory_budget_gib * 1024 * 1024 * 1024);
  const bool quiet = vm.count("quiet") != 0;

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  experiment::LoadOptions lo;
  lo.overrides = overrides;
  lo.data_dir = data_dir.empty() ? experiment::default_data_dir(root) : data_dir;
  lo.output_path = output;
  const experiment::Experiment x = experiment::load_experiment(experiment_file, catalog, lo);

  // Everything that could fail after the simulation is checked before it: the memory the configuration asks
  // for, the output path (not a directory, device or input; its directory writable), the file itself (created
  // now), and the header with the resolved configuration (written now).
  runner::check_memory(x, catalog, budget_bytes);
  std::vector<std::string> inputs{experiment_file};
  for (const auto& f : x.workload.params.files()) inputs.push_back(f);
  for (const auto& site : x.sites) inputs.push_back(site.carbon_intensity.file);
  for (const auto& d : x.deployments)
    for (const auto& f : d.perf_params.files()) inputs.push_back(f);
  for (const char* dir : {"hardware_catalog", "models"}) {  // the catalog is an input too
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(std::filesystem::path(root) / dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec)) inputs.push_back(it->path().string());
  }
  // Ctrl-C and SIGTERM only set a flag from here on: the run checks it at every heartbeat and before the
  // rename, so the temporary file is always removed on the way out.
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  output::AtomicOutput out(x.output_path, inputs);
  runner::write_run_header(out.file(), x);
  runner::Simulation sim(x, catalog);
  sim.limit_memory(budget_bytes, x.carbon.slot_where);
  runner::WorkloadDigest workload_digest;
  sim.add_observer(&workload_digest);
  std::unique_ptr<output::RequestWriter> writer;
  if (x.output_requests) {
    const auto compression = x.output_compression == "none"      ? output::h5::Compression::kNone
                             : x.output_compression == "deflate" ? output::h5::Compression::kDeflate
                                                                 : output::h5::Compression::kSzip;
    writer = std::make_unique<output::RequestWriter>(out.file(), sim.metrics().slos(), sim.metrics().per_class(),
                                                     sim.handoff() != nullptr, compression, &sim.ledger());
    sim.add_observer(writer.get());
  }

  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  double last_print = 0;
  bool printed = false;
  const auto wall_start = std::chrono::steady_clock::now();
  try {
    sim.run([&](const runner::Progress& p) {
      if (g_interrupted) throw core::Interrupted();
      if (!show_progress || p.wall_seconds < 1.0 || p.wall_seconds - last_print < 0.25) return;
      last_print = p.wall_seconds;
      printed = true;
      std::fprintf(stderr, "\r  sim %s | %llu arrived | %llu done | %.3g req/s simulated   ",
                   clock_text(p.now).c_str(), static_cast<unsigned long long>(p.arrived),
                   static_cast<unsigned long long>(p.finished), static_cast<double>(p.arrived) / p.wall_seconds);
    });
  } catch (const core::Interrupted&) {
    if (printed) std::fputs("\n", stderr);
    fmt::print(stderr, "interrupted: no output written\n");
    return 130;
  }
  if (printed) std::fputs("\r\033[K", stderr);
  if (writer) writer->flush();
  out.flush();     // checked: the request columns' chunk caches are written here, not in their unchecked close
  writer.reset();  // its datasets are closed before the file is
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const output::Summary summary = runner::make_summary(sim, x);
  const output::Summary run_info = runner::make_run_info(sim, wall);
  runner::write_run_tables(out.file(), sim, x, catalog);
  output::h5::write_attr(out.file(), "workload_digest", workload_digest.text());
  output::h5::write_attr(out.file(), "trace_digest",
                         x.workload.params.has("file") ? runner::file_digest(x.workload.params.get_string("file"))
                                                       : std::string("synthetic"));
  output::write_summary(out.file(), summary);
  output::write_summary(out.file(), run_info, "run_info");
  out.close();  // every write checked: a full disk fails here, before anything is renamed
  if (g_interrupted) {
    fmt::print(stderr, "interrupted: no output written\n");
    return 130;
  }
  if (sim.arrived() == 0)
    fmt::print(stderr,
               "warning: no requests arrived: the workload is empty after filtering and windowing (check "
               "workload window, max_requests and horizon); ratios without a denominator are n/a\n");
  else if (sim.metrics().completed() == 0)
    fmt::print(stderr, "warning: no request completed; latency statistics and per-token ratios are n/a\n");
  std::cout << output::format_table(summary) << output::format_table(run_info);
  std::cout << fmt::format("output: {}\n", x.output_path);
  std::cout.flush();
  if (!std::cout) throw core::EnvironmentError("cannot write the summary to standard output; no output kept");
  if (g_interrupted) {
    fmt::print(stderr, "interrupted: no output written\n");
    return 130;
  }
  out.publish();
  return 0;
}

}  // namespace greenfleet::cli
