#include <fmt/format.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "sim/cli/commands.hpp"
#include "sim/cli/cpu_calibration_report.hpp"
#include "sim/cli/vidur_report.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/power_calibration.hpp"
#include "sim/fleet/catalog.hpp"
#include "sim/io/experiment.hpp"
#include "sim/io/text_file.hpp"
#include "sim/metrics/sample_stats.hpp"
#include "sim/perf/calibration.hpp"
#include "sim/perf/roofline.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

namespace {

struct Options {
  std::string catalog, data_dir, out;
  std::vector<std::string> measurements;
  bool help = false;
};

Options parse(const std::vector<std::string>& args, const char* usage, bool with_out) {
  po::options_description opts(usage);
  Options o;
  opts.add_options()("help,h", "show this help")(
      "catalog", po::value(&o.catalog), "project directory (default: $GREENFLEET_HOME, else the source tree)")(
      "data-dir", po::value(&o.data_dir),
      "public data directory (default: $GREENFLEET_DATA, else ../shared/data)");
  if (with_out)
    opts.add_options()("out", po::value(&o.out),
                       "project directory to write models/calibration/ into (default: --catalog)");
  opts.add_options()("measurements", po::value(&o.measurements)->composing(),
                     "extra measurements in SplitwiseSim's CSV schema naming catalog ids, e.g. from "
                     "models/calibration/measure/measure.py (repeatable)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw core::InputError(fmt::format("{}: {} (see --help)", with_out ? "calibrate" : "validate", e.what()));
  }
  if (vm.count("help")) {
    std::cout << opts;
    o.help = true;
  }
  if (o.catalog.empty()) o.catalog = fleet::default_catalog_root();
  if (o.data_dir.empty()) o.data_dir = io::default_data_dir(o.catalog);
  if (o.out.empty()) o.out = o.catalog;
  return o;
}

std::vector<perf::MeasuredSet> measurements(const Options& o) {
  if (o.data_dir.empty())
    throw core::InputError("no data directory: pass --data-dir or set GREENFLEET_DATA (see traces/README.md)");
  const std::string path = o.data_dir + "/profiling/splitwise_sim/perf_model.csv";
  std::map<std::string, int> skipped;
  auto sets = perf::read_splitwise_sim(path, skipped);
  if (!o.measurements.empty()) {
    const fleet::Catalog catalog = fleet::Catalog::load(o.catalog);
    for (const auto& m : o.measurements) {
      auto more =
          perf::read_splitwise_sim(m, skipped, &catalog, "measured with models/calibration/measure (" + m + ")");
      sets.insert(sets.end(), more.begin(), more.end());
    }
  }
  for (const auto& [what, n] : skipped)
    fmt::print(stderr, "note: {} rows of {} skipped (not in the catalog)\n", n, what);
  return sets;
}

void print_row(const perf::CalibrationCoefficients& c, const perf::ErrorStats& h, const perf::ErrorStats& e) {
  fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9.2f} {:>9.2f} {:>6} {:>9.2f} {:>9.2f}\n", c.gpu, c.model,
             c.tensor_parallel, h.points, h.median_ape, h.p90_ape, e.points, e.median_ape, e.p90_ape);
}

void print_header() {
  fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9} {:>9} {:>6} {:>9} {:>9}\n", "gpu", "model", "tp", "steps", "median%",
             "p90%", "e2e", "median%", "p90%");
}

std::vector<energy::GpuPowerCurve> power_curves(const Options& o) {
  const std::string dir = o.data_dir + "/profiling/ml_energy";
  std::vector<energy::GpuPowerCurve> out;
  const auto v3 = energy::read_ml_energy_v3(dir + "/mlenergy_v3_llm_configs.csv");
  double scale = 0;
  for (const auto& [gpu, pts] : v3) {
    out.push_back(energy::fit_power_curve(gpu, pts,
                                          "ML.ENERGY benchmark v3 (ml-energy/leaderboard), "
                                          "H100 rows of dense models: per-GPU power vs mean running batch"));
    scale = out.back().batch_scale;
  }
  // 2023 leaderboard: one mean serving power per model (batch not recorded). It sets the small-batch level;
  // the saturated level is the catalog's prefill (TDP-class) power, the batch scale carried from the H100.
  const fleet::Catalog catalog = fleet::Catalog::load(o.catalog);
  for (const auto& [gpu, watts] : energy::read_ml_energy_2023(dir + "/legacy_2023")) {
    const std::vector<double>& w = watts;
    energy::GpuPowerCurve c;
    c.gpu = gpu;
    c.method = "levels";
    c.source =
        "ML.ENERGY leaderboard 2023 (legacy_2023): median over models of energy / latency per request; "
        "saturated = catalog prefill_w; batch_scale carried from the H100 fit (ours)";
    c.decode_w_small = metrics::sample_median(w);
    c.decode_w_saturated = catalog.gpu(gpu).power.prefill_w;
    c.batch_scale = scale > 0 ? scale : 64;
    c.training_points = static_cast<int>(w.size());
    out.push_back(c);
  }
  return out;
}

void write_power_curves(const Options& o, io::FileBatch& files) {
  fmt::print("\n{:<15} {:>9} {:>11} {:>8} {:>7} {:>9} {:>7}   decode power vs batch\n", "gpu", "small W",
             "saturated W", "scale", "points", "median%", "p90%");
  for (const auto& c : power_curves(o)) {
    const auto file = std::filesystem::path(o.out) / "models" / "calibration" / "power" / (c.gpu + ".yaml");
    files.add(file.string(), energy::power_curve_yaml(c));
    fmt::print("{:<15} {:>9.1f} {:>11.1f} {:>8.1f} {:>7} {:>9.2f} {:>7.2f}\n", c.gpu, c.decode_w_small,
               c.decode_w_saturated, c.batch_scale, c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape);
  }
}

}  // namespace

int calibrate_command(const std::vector<std::string>& args) {
  const Options o = parse(args, "greenfleet calibrate [--data-dir DIR] [--out PROJECT]", true);
  if (o.help) return 0;
  const auto sets = measurements(o);
  print_header();
  io::FileBatch files;
  for (const auto& set : sets) {
    const perf::CalibrationCoefficients c = perf::calibrate(set);
    files.add(perf::coefficients_path(o.out, c.gpu, c.model, c.tensor_parallel), perf::coefficients_yaml(c));
    print_row(c, {c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape},
              {c.e2e_points, c.e2e_median_ape, c.e2e_p90_ape});
  }
  fmt::print("\nheld-out step times (prefill and decode) and end-to-end latencies: absolute percentage errors\n");
  write_vidur_calibrations(o.catalog, o.data_dir, o.out, sets, files);
  write_power_curves(o, files);
  write_cpu_calibrations(o.catalog, o.out, files);
  files.write_all();  // only once every data set has been read and fitted
  return 0;
}

int validate_command(const std::vector<std::string>& args) {
  const Options o = parse(args, "greenfleet validate [--data-dir DIR]", false);
  if (o.help) return 0;
  const auto sets = measurements(o);  // before any output: a missing data directory is an error alone
  print_header();
  int missing = 0;
  std::vector<perf::MeasuredSet> fallback_rows;
  for (const auto& set : sets) {
    const std::string file = perf::coefficients_path(o.catalog, set.gpu, set.model, set.tensor_parallel);
    if (!std::filesystem::exists(file)) {
      fmt::print("{:<15} {:<13} {:>3}  no coefficient file ({}): run greenfleet calibrate\n", set.gpu, set.model,
                 set.tensor_parallel, file);
      ++missing;
      continue;
    }
    const perf::CalibratedModel model(perf::load_coefficients(file));
    int training = 0;
    for (const auto& p : set.points) training += !p.held_out && !p.excluded;
    if (training != model.coefficients().training_points)
      fmt::print(stderr, "warning: {} was fitted on {} points, the data now has {}: rerun greenfleet calibrate\n",
                 file, model.coefficients().training_points, training);
    print_row(model.coefficients(), perf::held_out_step_errors(model, set), perf::e2e_errors(model, set));
    fallback_rows.push_back(set);
  }
  // The roofline fallback for unmeasured hardware, checked where measurements exist: each set predicted by a
  // roofline whose efficiencies come from the calibrated entries of the other GPUs at the same TP degree, as
  // the fallback carries them (same architecture and model first; the H100 is Hopper's only calibrated GPU,
  // so its check crosses to Ampere).
  fmt::print(
      "\nroofline fallback, efficiencies carried from other GPUs at the same TP, "
      "same architecture and model first (expected error of the fallback):\n");
  print_header();
  const fleet::Catalog catalog = fleet::Catalog::load(o.catalog);
  for (const auto& set : fallback_rows) {
    const auto& gpu = catalog.gpu(set.gpu);
    const auto carried =
        perf::carried_efficiency(catalog, {gpu.architecture, set.tensor_parallel, set.model, set.gpu, true});
    const perf::RooflineModel roofline(catalog.model(set.model), gpu, set.tensor_parallel,
                                       perf::with_carried(perf::RooflineParams{}, carried));
    perf::CalibrationCoefficients label;
    label.gpu = set.gpu, label.model = set.model, label.tensor_parallel = set.tensor_parallel;
    print_row(label, perf::held_out_step_errors(roofline, set), perf::e2e_errors(roofline, set));
  }
  missing += validate_vidur_calibrations(o.catalog, o.data_dir, sets);
  fmt::print("\ndecode power vs batch (held-out ML.ENERGY points):\n");
  for (const auto& [gpu, pts] :
       energy::read_ml_energy_v3(o.data_dir + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv")) {
    const auto* curve = catalog.power_curve(gpu);
    if (!curve) {
      fmt::print("{:<15} no power curve: run greenfleet calibrate\n", gpu);
      ++missing;
      continue;
    }
    std::vector<energy::PowerPoint> marked = pts;
    energy::mark_power_held_out(marked);  // the same held-out points as the fit
    const auto [med, p90] = energy::power_errors(*curve, marked);
    const auto held = std::count_if(marked.begin(), marked.end(), [](const auto& p) { return p.held_out; });
    fmt::print("{:<15} power median {:.2f}%  p90 {:.2f}%  ({} held-out points)\n", gpu, med, p90, held);
  }
  missing += validate_cpu_calibrations(o.catalog);
  fmt::print(
      "\nabsolute percentage errors of the committed coefficients on held-out points (every third distinct\n"
      "point; a prefill step counts only if no training point ran the same step) and on the end-to-end\n"
      "latencies of held-out points whose generation ran in full\n");
  return missing ? 1 : 0;
}

}  // namespace greenfleet::cli
