#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>

#include "sim/catalog/catalog.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/output/atomic_output.hpp"
#include "sim/output/hdf5_file.hpp"
#include "sim/output/request_writer.hpp"
#include "sim/planning/plan_execution.hpp"
#include "sim/runner/digest.hpp"
#include "sim/runner/report.hpp"
#include "sim/runner/simulation.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

// A run that follows a plan: per class, the attainment against what the plan promised (the p90 targets its
// capacity was sized for: 90% of online requests within TTFT and TPOT; offline, every request by its deadline),
// and per slot and server type the servers on as planned and as run. Printed, added to /summary (`plan.*`) and
// stored in /plan (docs/OUTPUT.md).
void report_plan(const planning::PlanExecution& plan, const runner::Simulation& sim, output::Summary& summary,
                 hid_t file, std::string& text) {
  const auto* prov = sim.provisioner();
  const auto rows = planning::compare_slots(
      plan, prov ? prov->transitions() : std::vector<serving::PowerTransition>{}, sim.end_time());
  const auto& m = sim.metrics();
  text += fmt::format("plan '{}' from {} executed\n", plan.objective, plan.file);
  text += fmt::format("  {:<16} {:<8} {:>12} {:>10} {:>10} {:>10} {:>9}  {}\n", "class", "kind", "planned",
                      "arrived", "SLO met", "achieved", "promised", "");
  std::vector<std::string> names, kinds;
  std::vector<double> achieved, promised, arrived, planned_rate;
  for (const auto& c : plan.classes) {
    std::uint64_t n = 0, met = 0;
    if (m.per_class()) {
      const auto& k = m.classes()[static_cast<std::size_t>(c.experiment_class)];
      n = k.arrived();
      met = k.slo_met;
    } else {
      n = m.completed() + m.rejected() + m.unfinished();
      met = m.slo_met();
    }
    const double a = n ? static_cast<double>(met) / static_cast<double>(n) : 0.0;
    const double p = c.online ? 0.9 : 1.0;
    names.push_back(c.name);
    kinds.push_back(c.online ? "online" : "offline");
    achieved.push_back(a);
    promised.push_back(p);
    arrived.push_back(static_cast<double>(n));
    planned_rate.push_back(c.online ? c.mean_rate : c.requests);
    text +=
        fmt::format("  {:<16} {:<8} {:>12} {:>10} {:>10} {:>9.2f}% {:>8.0f}%  {}\n", c.name, kinds.back(),
                    c.online ? fmt::format("{:.4g} req/s", c.mean_rate) : fmt::format("{:.6g} req", c.requests), n,
                    met, 100 * a, 100 * p,
                    n == 0           ? "no requests"
                    : a + 1e-12 >= p ? "met"
                                     : "NOT MET");
    summary.add(fmt::format("plan.class.{}.attainment", c.name), a,
                fmt::format("plan: class {} SLO attainment (online: TTFT and TPOT; offline: deadline)", c.name));
    summary.add(fmt::format("plan.class.{}.promised", c.name), p,
                fmt::format("plan: class {} attainment the plan was sized for", c.name));
  }
  int mismatched = 0;
  text += fmt::format("  {:>5} {:<24} {:>8} {:>12} {:>13}\n", "slot", "server", "planned", "on at start",
                      "powered mean");
  std::vector<std::int32_t> slot_col, planned_col, on_col;
  std::vector<std::string> sku_col;
  std::vector<double> powered_col;
  for (const auto& r : rows) {
    if (r.planned != r.on_at_start) ++mismatched;
    text += fmt::format("  {:>5} {:<24} {:>8} {:>12} {:>13.2f}{}\n", r.slot,
                        plan.skus[static_cast<std::size_t>(r.type)], r.planned, r.on_at_start, r.mean_powered,
                        r.planned != r.on_at_start ? "  differs" : "");
    slot_col.push_back(r.slot);
    sku_col.push_back(plan.skus[static_cast<std::size_t>(r.type)]);
    planned_col.push_back(r.planned);
    on_col.push_back(r.on_at_start);
    powered_col.push_back(r.mean_powered);
  }
  for (std::size_t h = 0; h < plan.skus.size(); ++h)
    text += fmt::format("  {}: {} bought, {} in the run's fleet\n", plan.skus[h], plan.bought[h], plan.built[h]);
  const std::uint64_t unplanned = prov ? prov->unplanned_boots() : 0;
  text += fmt::format("  slot rows where servers on differ from the plan: {} of {}; unplanned boots: {}\n",
                      mismatched, rows.size(), unplanned);
  summary.add("plan.slot_rows_differing", mismatched, "plan: (slot, server type) rows with servers on != planned");
  summary.add("plan.unplanned_boots", static_cast<double>(unplanned),
              "plan: boots for work that reached a server with no planned boot left");

  const output::h5::Handle g = output::h5::create_group(file, "plan");
  output::h5::write_attr(g.get(), "file", plan.file);
  output::h5::write_attr(g.get(), "objective", plan.objective);
  const output::h5::Handle cls = output::h5::create_group(g.get(), "classes");
  output::h5::write_string_column(cls.get(), "name", names);
  output::h5::write_string_column(cls.get(), "kind", kinds);
  output::h5::write_column(cls.get(), "planned", planned_rate, "online: mean requests/s; offline: requests");
  output::h5::write_column(cls.get(), "arrived", arrived, "requests");
  output::h5::write_column(cls.get(), "attainment", achieved, "fraction");
  output::h5::write_column(cls.get(), "promised", promised, "fraction");
  const output::h5::Handle sl = output::h5::create_group(g.get(), "slots");
  output::h5::write_column(sl.get(), "slot", slot_col, "");
  output::h5::write_string_column(sl.get(), "sku", sku_col);
  output::h5::write_column(sl.get(), "planned", planned_col, "servers");
  output::h5::write_column(sl.get(), "on_at_start", on_col, "servers");
  output::h5::write_column(sl.get(), "powered_mean", powered_col, "servers, mean over the slot");
}

// The arrivals the progress line counts towards where the configuration fixes them: a synthetic workload
// without classes, window or horizon (its `requests`, or `max_requests` if fewer); 0 where only the run can tell
// (traces, windows, a horizon).
std::uint64_t known_arrivals(const experiment::Experiment& x) {
  const auto& w = x.workload;
  if (w.source != "synthetic" || !w.classes.empty() || x.horizon || w.transform.window_start != 0 ||
      w.transform.window_end)
    return 0;
  return w.max_requests ? std::min(w.synthetic.requests, w.max_requests) : w.synthetic.requests;
}

std::string clock_text(core::SimTime t) {
  const std::int64_t s = t / core::kSecond;
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet run EXP.yaml [options]");
  std::string output, catalog_dir, data_dir;
  std::vector<std::string> overrides;
  std::string plan_file, plan_objective;
  double memory_budget_gib = runner::kDefaultMemoryBudgetGib;
  opts.add_options()("help,h", "show this help")(
      "output,o", po::value(&output)->value_name("OUT.h5"),
      "output HDF5 file (default: output.path in the experiment, else out/NAME.h5)")(
      "set", po::value(&overrides)->composing()->value_name("KEY=VALUE"),
      "override any key, e.g. --set workload.synthetic.rate=8 or --set fleet.0.count=2 (repeatable; the value is "
      "YAML)")("quiet,q", "no progress line (notes and the summary table are printed either way)")(
      "catalog", po::value(&catalog_dir)->value_name("DIR"), kCatalogHelp)(
      "data-dir", po::value(&data_dir)->value_name("DIR"), kDataDirHelp)(
      "plan", po::value(&plan_file)->value_name("PLAN_OUT.yaml"),
      "run a provisioning plan (greenfleet plan): its servers replace the fleet and follow its servers on per "
      "slot; the report compares attainment and servers on with the plan (docs/PLANNING.md)")(
      "plan-objective", po::value(&plan_objective)->value_name("NAME"),
      "which of the plan file's plans to run (default: the first, the planner's objective)")(
      "memory-budget", po::value(&memory_budget_gib)->value_name("GIB"),
      "GiB that tables sized by the configuration (per-instance histograms, /timeseries) may take; larger "
      "ones are refused at load with the key to change (default 8)");
  po::options_description hidden;
  std::string experiment_file;
  // --no-notes: for a sweep's runs, whose notes the sweep printed once before them.
  hidden.add_options()("experiment", po::value(&experiment_file))("no-notes", "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("experiment", 1);
  const po::variables_map vm = parse_arguments("run", args, all, pos);
  if (vm.count("help")) {
    std::cout << opts
              << "\nSimulates the experiment (docs/EXPERIMENTS.md), prints the summary table and writes "
                 "the HDF5 file (docs/OUTPUT.md).\n"
              << kExitCodesHelp;
    return 0;
  }
  if (experiment_file.empty())
    throw core::InputError("run: missing the experiment file (greenfleet run EXP.yaml)");
  if (std::error_code ec; std::filesystem::is_directory(experiment_file, ec))
    throw core::InputError(fmt::format("{}: is a directory; give the experiment's YAML file", experiment_file));
  if (vm.count("output") && output.empty())
    throw core::InputError("run: -o/--output: empty output path (see greenfleet run --help)");
  if (vm.count("plan") && plan_file.empty())
    throw core::InputError("run: --plan: empty path; give the plan file (greenfleet plan writes one)");
  if (vm.count("plan-objective") && plan_objective.empty())
    throw core::InputError("run: --plan-objective: empty; give one of the plan file's objectives");
  // Finite and at least a byte: infinity or 1e-300 would otherwise become a budget of 0 bytes (the conversion of
  // infinity to an integer is undefined).
  if (!(memory_budget_gib > 0) || !(memory_budget_gib <= 1e9) || memory_budget_gib * 1024 * 1024 * 1024 < 1)
    throw core::InputError("run: --memory-budget: must be a positive number of GiB, at most 1e9");
  const auto budget_bytes = static_cast<std::uint64_t>(memory_budget_gib * 1024 * 1024 * 1024);
  const bool quiet = vm.count("quiet") != 0;

  const std::string root = catalog_dir.empty() ? catalog::default_catalog_root() : catalog_dir;
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  experiment::LoadOptions lo;
  config::check_distinct_overrides(overrides);
  lo.overrides = overrides;
  lo.data_dir = data_dir.empty() ? experiment::default_data_dir(root) : data_dir;
  lo.output_path = output;
  experiment::Experiment x = experiment::load_experiment(experiment_file, catalog, lo);
  std::optional<planning::PlanExecution> plan;
  if (!plan_file.empty()) {
    plan = planning::apply_plan(x, catalog, plan_file, plan_objective);
  } else {
    if (!plan_objective.empty()) throw core::InputError("run: --plan-objective needs --plan");
    for (std::size_t i = 0; i < x.fleet.size(); ++i)
      if (x.fleet[i].power.follow_plan)
        throw core::InputError(fmt::format(
            "{}: follow_plan needs a plan (greenfleet run EXP.yaml --plan PLAN.yaml)", x.fleet[i].power_where));
  }

  if (!vm.count("no-notes")) print_notes(experiment::notes_for_fleet(x, catalog));

  // Everything that could fail after the simulation is checked before it: the memory the configuration asks
  // for, the output path (not a directory, device or input; its directory writable), the file itself (created
  // now), and the header with the resolved configuration (written now).
  runner::check_memory(x, catalog, budget_bytes);
  std::vector<std::string> inputs{experiment_file};
  if (plan) inputs.push_back(plan_file);
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
                                                     sim.handoff() != nullptr || sim.speculative(), compression,
                                                     &sim.ledger());
    sim.add_observer(writer.get());
  }

  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  const std::uint64_t total = known_arrivals(x);
  const std::string of_total = total ? fmt::format(" of {}", total) : std::string();
  double last_print = 0;
  bool printed = false;
  const auto wall_start = std::chrono::steady_clock::now();
  try {
    sim.run([&](const runner::Progress& p) {
      if (g_interrupted) throw core::Interrupted();
      if (!show_progress || p.wall_seconds < 1.0 || p.wall_seconds - last_print < 0.25) return;
      last_print = p.wall_seconds;
      printed = true;
      std::fprintf(stderr, "\r  sim %s | %llu%s arrived | %llu done | %.3g req/s simulated   ",
                   clock_text(p.now).c_str(), static_cast<unsigned long long>(p.arrived), of_total.c_str(),
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
  output::Summary summary = runner::make_summary(sim, x);
  const output::Summary run_info = runner::make_run_info(sim, wall);
  runner::write_run_tables(out.file(), sim, x, catalog);
  output::h5::write_attr(out.file(), "workload_digest", workload_digest.text());
  output::h5::write_attr(out.file(), "trace_digest",
                         x.workload.params.has("file") ? runner::file_digest(x.workload.params.get_string("file"))
                                                       : std::string("synthetic"));
  std::string plan_text;
  if (plan) report_plan(*plan, sim, summary, out.file(), plan_text);
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
  std::cout << output::format_table(summary) << plan_text << output::format_table(run_info);
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
