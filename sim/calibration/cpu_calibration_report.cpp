#include "sim/calibration/cpu_calibration_report.hpp"
#include "sim/catalog/coefficient_files.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "sim/calibration/cpu_calibration.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/text/text_file.hpp"

namespace greenfleet::calibration {

namespace {

// The measurement files of the project at `root`, each checked against the catalog.
std::vector<calibration::CpuMeasuredSet> cpu_measurements(const std::string& root) {
  const catalog::Catalog catalog = catalog::Catalog::load(root);
  std::vector<calibration::CpuMeasuredSet> sets;
  for (const auto& file : calibration::cpu_measurement_files(root)) {
    sets.push_back(calibration::read_cpu_measurements(file));
    const auto& s = sets.back();
    if (!catalog.cpus().count(s.cpu) || !catalog.models().count(s.model))
      throw core::InputError(
          fmt::format("{}: cpu '{}' or model '{}' is not in the catalog", file, s.cpu, s.model));
  }
  return sets;
}

void print_header() {
  fmt::print("\n{:<15} {:<13} {:>7} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}   CPU inference, llama.cpp baseline\n",
             "cpu", "model", "points", "median%", "p90%", "in range", "power", "median%", "p90%");
}

void print_row(const spec::CpuCoefficients& c, const calibration::ErrorStats& held, int in_range,
               const calibration::ErrorStats& power) {
  fmt::print("{:<15} {:<13} {:>7} {:>9.2f} {:>9.2f} {:>9} {:>7} {:>9.2f} {:>9.2f}\n", c.cpu, c.model, held.points,
             held.median_ape, held.p90_ape, fmt::format("{}/{}", in_range, held.points), power.points,
             power.median_ape, power.p90_ape);
}

}  // namespace

void write_cpu_calibrations(const std::string& catalog, const std::string& out, text::FileBatch& files) {
  print_header();
  for (const auto& set : cpu_measurements(catalog)) {
    const spec::CpuCoefficients c = calibration::calibrate_cpu(set);
    files.add(catalog::cpu_coefficients_path(out, c.cpu, c.model), catalog::cpu_coefficients_yaml(c));
    print_row(c, {c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape}, c.held_out_in_range,
              {c.power_points, c.power_median_ape, c.power_p90_ape});
  }
  fmt::print(
      "held-out throughputs (every third published row) and host power (leave-one-out over the range ends):\n"
      "absolute percentage errors; in range: held-out predictions inside the published range\n");
}

int validate_cpu_calibrations(const std::string& catalog) {
  int missing = 0;
  print_header();
  std::vector<std::pair<spec::CpuCoefficients, calibration::CpuMeasuredSet>> checked;
  for (const auto& set : cpu_measurements(catalog)) {
    const std::string file = catalog::cpu_coefficients_path(catalog, set.cpu, set.model);
    if (!std::filesystem::exists(file)) {
      fmt::print("{:<15} {:<13}  no coefficient file ({}): run greenfleet calibrate\n", set.cpu, set.model, file);
      ++missing;
      continue;
    }
    const spec::CpuCoefficients c = catalog::load_cpu_coefficients(file);
    int training = 0;
    for (const auto& p : calibration::cpu_points(set)) training += !p.held_out;
    if (training != c.training_points)
      fmt::print(stderr, "warning: {} was fitted on {} points, the data now has {}: rerun greenfleet calibrate\n",
                 file, c.training_points, training);
    print_row(c, calibration::cpu_held_out_errors(c, set), calibration::cpu_held_out_in_range(c, set),
              calibration::cpu_power_errors(set));
    checked.emplace_back(c, set);
  }
  // Every published point against the model at the llama.cpp baseline (amx_speedup 1) and with EcoServe's AMX
  // speed-up, so the table shows both what was fitted and the default amx_speedup of the model
  // (perf::CpuInferenceModel, perf::kEcoServeAmxSpeedup).
  fmt::print("\n{:<15} {:<13} {:>7} {:<8} {:>5} {:>15} {:>9} {:>7} {:>9}\n", "cpu", "model", "threads", "phase",
             "batch", "measured tok/s", "model", "err%", "amx");
  for (const auto& [c, set] : checked) {
    for (const auto& p : calibration::cpu_points(set)) {
      const double tps = calibration::cpu_tokens_per_s(c, p);
      fmt::print("{:<15} {:<13} {:>7} {:<8} {:>5} {:>15} {:>9.1f} {:>7.2f} {:>9.1f}{}\n", c.cpu, c.model,
                 p.threads, p.prefill ? "prefill" : "decode", p.prefill ? "" : std::to_string(p.batch),
                 p.tps_low == p.tps_high ? fmt::format("{:g}", p.tps_low)
                                         : fmt::format("{:g}-{:g}", p.tps_low, p.tps_high),
                 tps, 100 * std::abs(tps - p.tps) / p.tps,
                 calibration::cpu_tokens_per_s(c, p, perf::kEcoServeAmxSpeedup), p.held_out ? "  held out" : "");
    }
  }
  fmt::print(
      "model: tokens/s at amx_speedup 1 (the measured llama.cpp baseline); err%: against the middle of the\n"
      "published range; amx: with EcoServe's {}x speed-up on compute\n",
      perf::kEcoServeAmxSpeedup);
  return missing;
}

}  // namespace greenfleet::calibration
