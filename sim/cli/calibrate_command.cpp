#include <fmt/format.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <tuple>

#include "sim/calibration/cpu_calibration_report.hpp"
#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/calibration/power_calibration.hpp"
#include "sim/calibration/sample_stats.hpp"
#include "sim/calibration/splitwise_calibration.hpp"
#include "sim/calibration/vidur_report.hpp"
#include "sim/calibration/whole_run.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/carried_efficiency.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/text/text_file.hpp"

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
  opts.add_options()("help,h", "show this help")("catalog", po::value(&o.catalog)->value_name("DIR"),
                                                 kCatalogHelp)(
      "data-dir", po::value(&o.data_dir)->value_name("DIR"),
      "public data directory holding profiling/ (default: $GREENFLEET_DATA, else ../shared/data)");
  if (with_out)
    opts.add_options()("out", po::value(&o.out)->value_name("PROJECT"),
                       "project directory to write models/calibration/ into (default: --catalog)");
  opts.add_options()("measurements", po::value(&o.measurements)->composing()->value_name("FILE"),
                     "extra measurements in SplitwiseSim's CSV schema naming catalog ids, e.g. from "
                     "models/calibration/measure/measure.py (repeatable)");
  po::variables_map vm;
  try {
    // No positional arguments: a stray word (a path meant for --out or --data-dir) is an error, not ignored.
    const po::positional_options_description none;
    po::store(po::command_line_parser(args).options(opts).positional(none).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw core::InputError(fmt::format("{}: {} (see --help)", with_out ? "calibrate" : "validate", e.what()));
  }
  if (vm.count("help")) {
    std::cout << opts
              << (with_out
                      ? "\nFits the calibrated step-time models, GPU power curves and CPU coefficients to the "
                        "measurements and writes them under models/calibration/ (docs/MODELS.md).\n"
                      : "\nPrints the errors of the committed calibrated models on held-out measurements "
                        "(docs/MODELS.md); exit 2 when a calibrated entry is missing.\n")
              << kExitCodesHelp;
    o.help = true;
  }
  if (o.catalog.empty()) o.catalog = catalog::default_catalog_root();
  if (o.data_dir.empty()) o.data_dir = experiment::default_data_dir(o.catalog);
  if (o.out.empty()) o.out = o.catalog;
  return o;
}

// SplitwiseSim's sets, the committed harness tables (models/calibration/measured/; with `with_unfitted` also
// those only validated) and --measurements files.
std::vector<calibration::MeasuredSet> measurements(const Options& o, bool with_unfitted) {
  if (o.data_dir.empty())
    throw core::InputError("no data directory: pass --data-dir or set GREENFLEET_DATA (see traces/README.md)");
  std::map<std::string, int> skipped;
  auto sets = calibration::read_measured_sets(o.data_dir, o.catalog, catalog::Catalog::load(o.catalog),
                                              with_unfitted, o.measurements, skipped);
  for (const auto& [what, n] : skipped)
    fmt::print(stderr, "note: {} rows of {} skipped (not in the catalog)\n", n, what);
  return sets;
}

void print_row(const spec::CalibrationCoefficients& c, const calibration::ErrorStats& h,
               const calibration::ErrorStats& e) {
  fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9.2f} {:>9.2f} {:>6} {:>9.2f} {:>9.2f}\n", c.gpu, c.model,
             c.tensor_parallel, h.points, h.median_ape, h.p90_ape, e.points, e.median_ape, e.p90_ape);
}

void print_header() {
  fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9} {:>9} {:>6} {:>9} {:>9}\n", "gpu", "model", "tp", "steps", "median%",
             "p90%", "e2e", "median%", "p90%");
}

void write_power_curves(const Options& o, text::FileBatch& files) {
  fmt::print("\n{:<15} {:>6} {:>9} {:>11} {:>8} {:>7} {:>9} {:>7}   decode power vs batch\n", "gpu", "method",
             "small W", "saturated W", "scale", "points", "median%", "p90%");
  for (const auto& c :
       calibration::fit_power_curves(o.data_dir + "/profiling/ml_energy", catalog::Catalog::load(o.catalog))) {
    const auto file = std::filesystem::path(o.out) / "models" / "calibration" / "power" / (c.gpu + ".yaml");
    files.add(file.string(), catalog::power_curve_yaml(c));
    fmt::print("{:<15} {:>6} {:>9.1f} {:>11.1f} {:>8.1f} {:>7} {:>9.2f} {:>7.2f}\n", c.gpu, c.method,
               c.decode_w_small, c.decode_w_saturated, c.batch_scale, c.held_out_points, c.held_out_median_ape,
               c.held_out_p90_ape);
  }
}

// ML.ENERGY v3 configurations replayed through the step model and the power curve the simulator uses: per model,
// task and TP degree, training and held-out models apart (the split is by model: ml_energy_replay.cpp).
void validate_ml_energy(const Options& o, const catalog::Catalog& catalog) {
  std::map<std::string, int> skipped;
  const auto configs = calibration::read_ml_energy_configs(
      o.data_dir + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv", catalog, skipped);
  fmt::print(
      "\n{:<34} {:<13} {:>2} {:>4} {:>5} {:>7} {:>6} {:>6} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6}   ML.ENERGY v3 "
      "replay "
      "(H100)\n",
      "model", "task", "tp", "set", "rows", "ITL med", "p90", "bias", "tput med", "J/tok", "p90", "bias", "W med",
      "bias");
  std::map<std::tuple<bool, std::string, std::string, int>, std::vector<const calibration::MlEnergyConfig*>>
      groups;
  std::vector<const calibration::MlEnergyConfig*> all[2];
  for (const auto& c : configs) {
    groups[{c.held_out, c.model_id, c.task, c.tp}].push_back(&c);
    all[c.held_out].push_back(&c);
  }
  auto row = [&](const std::string& model, const std::string& task, const std::string& tp, bool held_out,
                 const std::vector<const calibration::MlEnergyConfig*>& rows) {
    const auto e = calibration::ml_energy_errors(catalog, rows);
    fmt::print(
        "{:<34} {:<13} {:>2} {:>4} {:>5} {:>7.2f} {:>6.2f} {:>+6.1f} {:>7.2f} {:>7.2f} {:>6.2f} {:>+6.1f} "
        "{:>6.2f} {:>+6.1f}\n",
        model, task, tp, held_out ? "held" : "fit", rows.size(), e.itl.median_ape, e.itl.p90_ape, e.itl_bias,
        e.throughput.median_ape, e.j_per_token.median_ape, e.j_per_token.p90_ape, e.j_bias, e.gpu_w.median_ape,
        e.w_bias);
  };
  for (const auto& [key, rows] : groups)
    row(std::get<1>(key), std::get<2>(key), std::to_string(std::get<3>(key)), std::get<0>(key), rows);
  row("all training models", "", "", false, all[0]);
  row("all held-out models", "", "", true, all[1]);
  int n = 0;
  for (const auto& [id, count] : skipped) n += count;
  fmt::print(
      "ITL: the decode step at the measured mean batch vs the median ITL; tput: output tokens/s with the\n"
      "prompts of replacing requests spread over the steps; J/tok: GPU energy per output token as the ledger\n"
      "prices steps; W: the mean GPU power of those steps, which is also the J/token error of the measured\n"
      "times priced with the modelled power (energy error from power alone); absolute percentage errors;\n"
      "bias: median signed error, positive when the prediction is high;\n"
      "{} rows of other models skipped (not in the catalog, or attention no model here prices)\n",
      n);
}

// One row of the 2023 tables: measured and predicted medians of ITL, J/token and GPU power over a (GPU, model)
// group, with the signed errors' medians.
template <class Predict>
void print_2023_row(const std::pair<std::string, std::string>& key,
                    const std::vector<const calibration::MlEnergy2023Row*>& group, Predict predict) {
  std::vector<double> itl, itl_pred, j, j_pred, itl_err, j_err, w, w_pred, w_err;
  for (const auto* r : group) {
    const calibration::MlEnergyPrediction p = predict(*r);
    itl.push_back(r->itl_s * 1e3), itl_pred.push_back(p.itl_s * 1e3);
    j.push_back(r->j_per_token), j_pred.push_back(p.j_per_token);
    itl_err.push_back(100 * (p.itl_s - r->itl_s) / r->itl_s);
    j_err.push_back(100 * (p.j_per_token - r->j_per_token) / r->j_per_token);
    w.push_back(r->gpu_w), w_pred.push_back(p.gpu_w), w_err.push_back(100 * (p.gpu_w - r->gpu_w) / r->gpu_w);
  }
  const auto med = [](const std::vector<double>& v) { return calibration::sample_median(v); };
  fmt::print(
      "{:<15} {:<12} {:>4} {:>9.1f} {:>9.1f} {:>+8.1f} {:>9.2f} {:>9.2f} {:>+8.1f} {:>7.0f} {:>7.0f} {:>+7.1f}\n",
      key.first, key.second, group.size(), med(itl), med(itl_pred), med(itl_err), med(j), med(j_pred), med(j_err),
      med(w), med(w_pred), med(w_err));
}

// ML.ENERGY's 2023 batch-1 runs of LLaMA-shaped 7B/13B models on the A100, A40 and V100, replayed through the
// step model and power curve a simulation uses there: how old GPUs are priced.
void validate_ml_energy_2023(const Options& o, const catalog::Catalog& catalog) {
  const auto rows =
      calibration::read_ml_energy_2023_rows(o.data_dir + "/profiling/ml_energy/legacy_2023", catalog);
  fmt::print(
      "\n{:<15} {:<12} {:>4} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}   ML.ENERGY 2023 (batch 1)\n",
      "gpu", "model", "rows", "ITL ms", "pred ms", "ITL%", "J/tok", "pred", "J/tok%", "W", "pred W", "W%");
  std::map<std::pair<std::string, std::string>, std::vector<const calibration::MlEnergy2023Row*>> groups;
  for (const auto& r : rows) groups[{r.gpu, r.model}].push_back(&r);
  for (const auto& [key, group] : groups) {
    const auto model = calibration::calibrated_or_fallback(catalog, key.first, key.second, 1);
    print_2023_row(key, group, [&](const calibration::MlEnergy2023Row& r) {
      return calibration::predict_ml_energy_2023(*model, catalog.gpu(r.gpu), catalog.power_curve(r.gpu), r);
    });
  }
  fmt::print(
      "medians over the fine-tunes of each shape (LLaMA-1/Llama-2 7B and 13B); signed errors, positive when the\n"
      "prediction is high; W: mean GPU power, whose error is also the J/token error of the measured ITL priced\n"
      "with the modelled power; these rows are held out of the power lines of these GPUs\n");

  // The same rows on the 2023 engine (calibration::Engine2023): host time per layer and power line fitted to
  // the training models of each GPU's file only.
  const auto points =
      calibration::read_ml_energy_2023_power(o.data_dir + "/profiling/ml_energy/legacy_2023", catalog);
  fmt::print("\n{:<15} {:<12} {:>4} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}   2023 engine\n", "gpu",
             "model", "rows", "ITL ms", "pred ms", "ITL%", "J/tok", "pred", "J/tok%", "W", "pred W", "W%");
  std::map<std::string, calibration::Engine2023> engines;
  for (const auto& [key, group] : groups) {
    if (!points.count(key.first)) continue;
    if (!engines.count(key.first)) engines[key.first] = calibration::fit_engine_2023(points.at(key.first));
    const auto& engine = engines.at(key.first);
    const auto model = calibration::calibrated_or_fallback(catalog, key.first, key.second, 1);
    print_2023_row(key, group, [&](const calibration::MlEnergy2023Row& r) {
      return calibration::predict_engine_2023(*model, catalog.gpu(r.gpu), catalog.model(r.model), engine, r);
    });
  }
  for (const auto& [gpu, engine] : engines)
    fmt::print(
        "{:<15} host {:.3f} ms per layer (median of {} training rows), power {:.1f} + {:.1f} x utilisation W\n",
        gpu, engine.host_s_per_layer * 1e3, engine.training_rows, engine.line.intercept_w, engine.line.slope_w);
  fmt::print(
      "the 2023 engine: a step is max(the step model's, host time per layer x layers), power the GPU's 2023\n"
      "line at that step's weight bandwidth utilisation; both fitted to each GPU's non-LLaMA training rows\n");

  // The same rows as whole simulations on the preset (calibration::engine_2023_whole_run): what a simulation
  // charges them, with the host times and lines committed in models/calibration/power/.
  fmt::print(
      "\n{:<15} {:<12} {:>4} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}   whole runs, preset "
      "fastchat-hf-2023\n",
      "gpu", "model", "rows", "ITL ms", "pred ms", "ITL%", "J/tok", "pred", "J/tok%", "W", "pred W", "W%");
  for (const auto& [key, group] : groups) {
    const auto* curve = catalog.power_curve(key.first);
    if (!curve || curve->host_s_per_layer <= 0) continue;
    print_2023_row(key, group, [&](const calibration::MlEnergy2023Row& r) {
      return calibration::engine_2023_whole_run(catalog, r);
    });
  }
  fmt::print(
      "per instance one request (prompt 256 tokens, output the row's mean response length) simulated with\n"
      "scheduler.preset fastchat-hf-2023: ITL = its latency (prefill included) / output tokens, J/tok = the GPU\n"
      "energy the ledger charged its steps per output token, W = their ratio\n");
}

// Whole runs through the full simulator (issue #17 item 5): SplitwiseSim's held-out batches and the ML.ENERGY v3
// configurations, each replayed as a batch of identical requests sent at once (sim/calibration/whole_run.hpp).
void validate_whole_runs(const Options& o, const catalog::Catalog& catalog,
                         const std::vector<calibration::MeasuredSet>& sets) {
  fmt::print("\n{:<15} {:<13} {:>3} {:>7} {:>9} {:>9} {:>7} {:>7}   whole runs, SplitwiseSim held-out batches\n",
             "gpu", "model", "tp", "points", "median%", "p90%", "bias", "beyond");
  for (const auto& set : sets) {
    const auto e = calibration::splitwise_whole_run_errors(catalog, set);
    fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9.2f} {:>9.2f} {:>+7.1f} {:>7}\n", set.gpu, set.model,
               set.tensor_parallel, e.latency.points, e.latency.median_ape, e.latency.p90_ape, e.bias,
               e.beyond_context);
  }
  fmt::print(
      "batch latency (first step to last completion) of B requests sent at once, simulated with chunked\n"
      "prefill off and a step budget of max(4096, B x prompt), against SplitwiseSim's e2e_time; beyond: held-out\n"
      "points longer than the model's context, which the simulator rejects (not replayed)\n");
  std::map<std::string, int> skipped;
  const auto configs = calibration::read_ml_energy_configs(
      o.data_dir + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv", catalog, skipped);
  fmt::print("\n{:<34} {:>2} {:>4} {:>5} {:>7} {:>6} {:>6} {:>8} {:>6} {:>6}   whole runs, ML.ENERGY v3 (H100)\n",
             "model", "tp", "set", "rows", "ITL med", "p90", "bias", "tput med", "p90", "bias");
  std::map<std::tuple<bool, std::string, int>, std::vector<calibration::MlEnergyWholeRun>> groups;
  std::vector<calibration::MlEnergyWholeRun> all[2];
  for (const auto& c : configs) {
    const auto r = calibration::ml_energy_whole_run(catalog, c);
    groups[{c.held_out, c.model_id, c.tp}].push_back(r);
    all[c.held_out].push_back(r);
  }
  auto row = [](const std::string& model, const std::string& tp, bool held,
                const std::vector<calibration::MlEnergyWholeRun>& rows) {
    std::vector<double> itl, itl_abs, tput, tput_abs;
    for (const auto& r : rows) {
      itl.push_back(r.itl_error), itl_abs.push_back(std::abs(r.itl_error));
      tput.push_back(r.throughput_error), tput_abs.push_back(std::abs(r.throughput_error));
    }
    const auto a = calibration::ape_stats(itl_abs), b = calibration::ape_stats(tput_abs);
    fmt::print("{:<34} {:>2} {:>4} {:>5} {:>7.2f} {:>6.2f} {:>+6.1f} {:>8.2f} {:>6.2f} {:>+6.1f}\n", model, tp,
               held ? "held" : "fit", rows.size(), a.median_ape, a.p90_ape, calibration::sample_median(itl),
               b.median_ape, b.p90_ape, calibration::sample_median(tput));
  };
  for (const auto& [key, rows] : groups)
    row(std::get<1>(key), std::to_string(std::get<2>(key)), std::get<0>(key), rows);
  row("all training models", "", false, all[0]);
  row("all held-out models", "", true, all[1]);
  fmt::print(
      "per instance, 4 x the measured mean batch of requests (prompt 256, output the mean output length) sent\n"
      "at once, max_num_seqs at the mean batch, preset vllm-v1: the median of the requests' inter-token times\n"
      "against the median ITL, output tokens/s against the measured; absolute % errors, bias: median signed %\n");
}

}  // namespace

int calibrate_command(const std::vector<std::string>& args) {
  const Options o =
      parse(args, "greenfleet calibrate [--data-dir DIR] [--measurements FILE]... [--out PROJECT]", true);
  if (o.help) return 0;
  const auto sets = measurements(o, false);
  print_header();
  text::FileBatch files;
  for (const auto& set : sets) {
    const spec::CalibrationCoefficients c = calibration::calibrate(set);
    files.add(catalog::coefficients_path(o.out, c.gpu, c.model, c.tensor_parallel), catalog::coefficients_yaml(c));
    print_row(c, {c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape},
              {c.e2e_points, c.e2e_median_ape, c.e2e_p90_ape});
  }
  fmt::print("\nheld-out step times (prefill and decode) and end-to-end latencies: absolute percentage errors\n");
  write_vidur_calibrations(o.catalog, o.data_dir, o.out, sets, files);
  write_power_curves(o, files);
  calibration::write_cpu_calibrations(o.catalog, o.out, files);
  files.write_all();  // only once every data set has been read and fitted
  return 0;
}

int validate_command(const std::vector<std::string>& args) {
  const Options o = parse(args, "greenfleet validate [--data-dir DIR] [--measurements FILE]...", false);
  if (o.help) return 0;
  const auto sets = measurements(o, true);  // before any output: a missing data directory is an error alone
  const catalog::Catalog catalog = catalog::Catalog::load(o.catalog);
  int missing = 0;
  std::vector<calibration::MeasuredSet> fallback_rows, fitted, splitwise;
  // A fitted set against its committed entry (false if there is none).
  auto committed_row = [&](const calibration::MeasuredSet& set) {
    const std::string file = catalog::coefficients_path(o.catalog, set.gpu, set.model, set.tensor_parallel);
    if (!std::filesystem::exists(file)) {
      fmt::print("{:<15} {:<13} {:>3}  no coefficient file ({}): run greenfleet calibrate\n", set.gpu, set.model,
                 set.tensor_parallel, file);
      ++missing;
      return false;
    }
    const perf::CalibratedModel model(catalog::load_coefficients(file));
    int training = 0;
    for (const auto& p : set.points) training += !p.held_out && !p.excluded;
    if (training != model.coefficients().training_points)
      fmt::print(stderr, "warning: {} was fitted on {} points, the data now has {}: rerun greenfleet calibrate\n",
                 file, model.coefficients().training_points, training);
    print_row(model.coefficients(), calibration::held_out_step_errors(model, set),
              calibration::e2e_errors(model, set));
    return true;
  };
  print_header();
  for (const auto& set : sets) {
    if (set.harness) continue;
    splitwise.push_back(set);
    fitted.push_back(set);
    if (committed_row(set)) fallback_rows.push_back(set);
  }
  // The harness's tables (models/calibration/measured/): the fitted ones against their entries, the others
  // against the model a simulation uses for them.
  fmt::print(
      "\nmeasured with models/calibration/measure (models/calibration/measured/; kernels, no serving engine):\n");
  print_header();
  for (const auto& set : sets) {
    if (!set.harness) continue;
    if (set.fitted) {
      fitted.push_back(set);
      committed_row(set);
      continue;
    }
    const auto model = calibration::calibrated_or_fallback(catalog, set.gpu, set.model, set.tensor_parallel);
    spec::CalibrationCoefficients label;
    label.gpu = set.gpu, label.model = set.model, label.tensor_parallel = set.tensor_parallel;
    print_row(label, calibration::held_out_step_errors(*model, set), calibration::e2e_errors(*model, set));
    fmt::print("  not fitted ({}), priced by the {} model a simulation uses\n", set.note, model->kind());
  }
  // The roofline fallback for unmeasured hardware, checked where measurements exist: each set predicted by a
  // roofline whose efficiencies come from the calibrated entries of the other GPUs at the same TP degree, as
  // the fallback carries them (same architecture and model first; the H100 is Hopper's only calibrated GPU,
  // so its check crosses to Ampere).
  fmt::print(
      "\nroofline fallback, efficiencies carried from other GPUs at the same TP, "
      "same architecture and model first (expected error of the fallback):\n");
  print_header();
  for (const auto& set : fallback_rows) {
    const auto& gpu = catalog.gpu(set.gpu);
    const auto carried = perf::carried_efficiency(
        catalog.calibrated_entries(), {gpu.architecture, set.tensor_parallel, set.model, set.gpu, true});
    const perf::RooflineModel roofline(catalog.model(set.model), gpu, set.tensor_parallel,
                                       perf::with_carried(spec::RooflineParams{}, carried));
    spec::CalibrationCoefficients label;
    label.gpu = set.gpu, label.model = set.model, label.tensor_parallel = set.tensor_parallel;
    print_row(label, calibration::held_out_step_errors(roofline, set), calibration::e2e_errors(roofline, set));
  }
  missing += validate_vidur_calibrations(o.catalog, o.data_dir, fitted);
  fmt::print("\ndecode power vs batch (held-out ML.ENERGY models):\n");
  const auto check = [&](const std::string& gpu) -> const spec::GpuPowerCurve* {
    const auto* curve = catalog.power_curve(gpu);
    if (!curve) fmt::print("{:<15} no power curve: run greenfleet calibrate\n", gpu), ++missing;
    return curve;
  };
  for (const auto& [gpu, pts] :
       calibration::read_ml_energy_v3(o.data_dir + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv")) {
    const auto* curve = check(gpu);
    if (!curve) continue;
    const auto [med, p90] = calibration::power_errors(*curve, pts);
    const auto held = std::count_if(pts.begin(), pts.end(), [](const auto& p) { return p.held_out; });
    fmt::print("{:<15} power median {:.2f}%  p90 {:.2f}%  ({} held-out points, v3 power vs batch)\n", gpu, med,
               p90, held);
  }
  for (const auto& [gpu, pts] :
       calibration::read_ml_energy_2023_power(o.data_dir + "/profiling/ml_energy/legacy_2023", catalog)) {
    const auto* curve = check(gpu);
    if (!curve) continue;
    if (curve->method != "line") {
      fmt::print("{:<15} power curve is not a 2023 power line: run greenfleet calibrate\n", gpu);
      ++missing;
      continue;
    }
    const auto [med, p90] = calibration::power_line_errors({curve->line_intercept_w, curve->line_slope_w}, pts);
    const auto held = std::count_if(pts.begin(), pts.end(), [](const auto& p) { return p.held_out; });
    fmt::print("{:<15} power median {:.2f}%  p90 {:.2f}%  ({} held-out points, 2023 power vs utilisation)\n", gpu,
               med, p90, held);
  }
  validate_ml_energy(o, catalog);
  validate_ml_energy_2023(o, catalog);
  validate_whole_runs(o, catalog, splitwise);
  missing += calibration::validate_cpu_calibrations(o.catalog);
  fmt::print(
      "\nabsolute percentage errors of the committed coefficients on held-out points (every third distinct\n"
      "point; a prefill step counts only if no training point ran the same step) and on the end-to-end\n"
      "latencies of held-out points whose generation ran in full\n");
  // A coefficient file or power curve the data have and the catalog lacks is a catalog to regenerate, not a bug.
  if (missing)
    throw core::InputError(
        fmt::format("validate: {} calibrated entr{} missing from {} (listed above): run greenfleet calibrate{}",
                    missing, missing == 1 ? "y is" : "ies are", o.catalog,
                    o.measurements.empty() ? "" : " with the same --measurements"));
  return 0;
}

}  // namespace greenfleet::cli
