#include "sim/cli/cpu_calibration_report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "sim/core/error.hpp"
#include "sim/fleet/catalog.hpp"
#include "sim/io/text_file.hpp"
#include "sim/perf/cpu_calibration.hpp"

namespace greenfleet::cli {

namespace {

// The measurement files of the project at `root`, each checked against the catalog.
std::vector<perf::CpuMeasuredSet> cpu_measurements(const std::string& root) {
  const fleet::Catalog catalog = fleet::Catalog::load(root);
  std::vector<perf::CpuMeasuredSet> sets;
  for (const auto& file : perf::cpu_measurement_files(root)) {
    sets.push_back(perf::read_cpu_measurements(file));
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

void print_row(const perf::CpuCoefficients& c, const perf::ErrorStats& held, int in_range,
               const perf::ErrorStats& power) {
  fmt::print("{:<15} {:<13} {:>7} {:>9.2f} {:>9.2f} {:>9} {:>7} {:>9.2f} {:>9.2f}\n", c.cpu, c.model, held.points,
             held.median_ape, held.p90_ape, fmt::format("{}/{}", in_range, held.points), power.points,
             power.median_ape, power.p90_ape);
}

}  // namespace

void write_cpu_calibrations(const std::string& catalog, const std::string& out, io::FileBatch& files) {
  print_header();
  for (const auto& set : cpu_measurements(catalog)) {
    const perf::CpuCoefficients c = perf::calibrate_cpu(set);
    files.add(perf::cpu_coefficients_path(out, c.cpu, c.model), perf::cpu_coefficients_yaml(c));
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
  std::vector<std::pair<perf::CpuCoefficients, perf::CpuMeasuredSet>> checked;
  for (const auto& set : cpu_measurements(catalog)) {
    const std::string file = perf::cpu_coefficients_path(catalog, set.cpu, set.model);
    if (!std::filesystem::exists(file)) {
      fmt::print("{:<15} {:<13}  no coefficient file ({}): run greenfleet calibrate\n", set.cpu, set.model, file);
      ++missing;
      continue;
    }
    const perf::CpuCoefficients c = perf::load_cpu_coefficients(file);
    int training = 0;
    for (const auto& p : perf::cpu_points(set)) training += !p.held_out;
    if (training != c.training_points)
      fmt::print(stderr, "warning: {} was fitted on {} points, the data now has {}: rerun greenfleet calibrate\n",
                 file, c.training_points, training);
    print_row(c, perf::cpu_held_out_errors(c, set), perf::cpu_held_out_in_range(c, set),
              perf::cpu_power_errors(set));
    checked.emplace_back(c, set);
  }
  // Every published point against the model at the llama.cpp baseline (amx_speedup 1) and with EcoServe's AMX
  // speed-up, so the table shows both what was fitted and the default amx_speedup of the model
  // (CpuInferenceModel, kEcoServeAmxSpeedup).
  fmt::print("\n{:<15} {:<13} {:>7} {:<8} {:>5} {:>15} {:>9} {:>7} {:>9}\n", "cpu", "model", "threads", "phase",
             "batch", "measured tok/s", "model", "err%", "amx");
  for (const auto& [c, set] : checked) {
    for (const auto& p : perf::cpu_points(set)) {
      const double tps = perf::cpu_tokens_per_s(c, p);
      fmt::print("{:<15} {:<13} {:>7} {:<8} {:>5} {:>15} {:>9.1f} {:>7.2f} {:>9.1f}{}\n", c.cpu, c.model,
                 p.threads, p.prefill ? "prefill" : "decode", p.prefill ? "" : std::to_string(p.batch),
                 p.tps_low == p.tps_high ? fmt::format("{:g}", p.tps_low)
                                         : fmt::format("{:g}-{:g}", p.tps_low, p.tps_high),
                 tps, 100 * std::abs(tps - p.tps) / p.tps, perf::cpu_tokens_per_s(c, p, perf::kEcoServeAmxSpeedup),
                 p.held_out ? "  held out" : "");
    }
  }
  fmt::print(
      "model: tokens/s at amx_speedup 1 (the measured llama.cpp baseline); err%: against the middle of the\n"
      "published range; amx: with EcoServe's {}x speed-up on compute\n",
      perf::kEcoServeAmxSpeedup);
  return missing;
}

}  // namespace greenfleet::cli
