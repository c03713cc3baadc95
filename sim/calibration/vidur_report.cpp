#include "sim/calibration/vidur_report.hpp"
#include "sim/catalog/coefficient_files.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "sim/calibration/derived_coefficients.hpp"
#include "sim/calibration/vidur_calibration.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/text/text_file.hpp"

namespace greenfleet::calibration {

namespace {

calibration::VidurCalibration run(const std::string& catalog_root, const std::string& data_dir,
                                  const std::vector<calibration::MeasuredSet>& measured) {
  const catalog::Catalog catalog = catalog::Catalog::load(catalog_root);
  std::set<std::tuple<std::string, std::string, int>> keys;
  for (const auto& s : measured) keys.insert({s.gpu, s.model, s.tensor_parallel});
  auto v = calibration::calibrate_vidur(data_dir, catalog, keys);
  for (const auto& [what, n] : v.skipped) fmt::print(stderr, "note: {} Vidur rows skipped: {}\n", n, what);
  return v;
}

std::string cell(const calibration::ErrorStats& e) {
  return fmt::format("{:>4} {:>8.2f} {:>6.2f}", e.points, e.median_ape, e.p90_ape);
}

void print_header() {
  fmt::print(
      "\n{:<15} {:<13} {:>3} {:<9} {:>4} {:>8} {:>6} {:>4} {:>8} {:>6}  {:>8} {:>6}   Vidur operator path\n",
      "gpu", "model", "tp", "status", "ops", "median%", "p90%", "ar", "median%", "p90%", "approx%", "p90%");
}

void print_row(const calibration::VidurEntry& e, const calibration::ErrorStats* approx) {
  const std::string ar = e.tensor_parallel == 1  ? fmt::format("{:>4} {:>8} {:>6}", "-", "", "")
                         : e.all_reduce_measured ? cell(e.all_reduce_held_out)
                                                 : fmt::format("{:>4} {:>8} {:>6}", "ring", "", "");
  const std::string ap = approx ? fmt::format("{:>8.2f} {:>6.2f}", approx->median_ape, approx->p90_ape) : "";
  fmt::print("{:<15} {:<13} {:>3} {:<9} {} {}  {}\n", e.gpu, e.model, e.tensor_parallel, to_string(e.status),
             cell(e.ops.held_out), ar, ap);
}

void print_footer(const calibration::VidurCalibration& v) {
  fmt::print(
      "ops: per-layer linear-operator time on held-out Vidur token counts (every third); ar: all-reduce on\n"
      "held-out message sizes (ring: no Vidur data, ring over the catalog link); approx: the coefficients\n"
      "against the operator model over the derivation grid. status: written, measured (whole-step measurements "
      "keep\n"
      "precedence), memory (does not fit: weights + one full-context KV cache > 90% of the GPUs' memory),\n"
      "no-stack (no SplitwiseSim steps of the architecture); absolute percentage errors\n");
  fmt::print(
      "\n{:<8} {:>6} {:>11} {:>9} {:>9} {:>9} {:>8} {:>9} {:>6}"
      "   attention and stack, fitted to SplitwiseSim\n",
      "arch", "steps", "overhead ms", "attn comp", "attn bw", "hop us", "ring x", "median%", "p90%");
  for (const auto& [arch, s] : v.stacks)
    fmt::print("{:<8} {:>6} {:>11.3f} {:>9.3f} {:>9.3f} {:>9.2f} {:>8.3f} {:>9.2f} {:>6.2f}\n", arch,
               s.training_points, s.step_overhead_s * 1e3, s.compute_efficiency(), s.bandwidth_efficiency(),
               s.hop_latency_s * 1e6, s.ring_byte_factor, s.training.median_ape, s.training.p90_ape);
  fmt::print(
      "attn comp / attn bw: efficiency of prefill attention (peak FP16, fitted here) and of decode attention\n"
      "(peak bandwidth, KV read per KV head: the median of {} ML.ENERGY v3 GPQA/chat pairs, not fitted here);\n"
      "errors on the training steps\n",
      v.decode_attention.pairs.size());
  fmt::print(
      "\n{:<15} {:<13} {:>3} {:>7} {:>9} {:>9} {:>6} {:>9} {:>9}   operator model vs SplitwiseSim held-out\n",
      "gpu", "model", "tp", "steps", "median%", "p90%", "e2e", "median%", "p90%");
  for (const auto& c : v.checks)
    fmt::print("{:<15} {:<13} {:>3} {:>7} {:>9.2f} {:>9.2f} {:>6} {:>9.2f} {:>9.2f}\n", c.gpu, "llama-2-70b",
               c.tensor_parallel, c.steps.points, c.steps.median_ape, c.steps.p90_ape, c.e2e.points,
               c.e2e.median_ape, c.e2e.p90_ape);
}

}  // namespace

void write_vidur_calibrations(const std::string& catalog, const std::string& data_dir, const std::string& out,
                              const std::vector<calibration::MeasuredSet>& measured, text::FileBatch& files) {
  const auto v = run(catalog, data_dir, measured);
  print_header();
  for (const auto& e : v.entries) {
    const bool written = e.status == calibration::VidurStatus::kWritten;
    if (written) {
      const auto& c = e.coefficients;
      files.add(catalog::coefficients_path(out, c.gpu, c.model, c.tensor_parallel),
                calibration::vidur_coefficients_yaml(c));
    }
    print_row(e, written ? &e.approximation : nullptr);
  }
  print_footer(v);
}

int validate_vidur_calibrations(const std::string& catalog, const std::string& data_dir,
                                const std::vector<calibration::MeasuredSet>& measured) {
  const auto v = run(catalog, data_dir, measured);
  int missing = 0;
  print_header();
  for (const auto& e : v.entries) {
    if (e.status != calibration::VidurStatus::kWritten) {
      print_row(e, nullptr);
      continue;
    }
    const std::string file = catalog::coefficients_path(catalog, e.gpu, e.model, e.tensor_parallel);
    if (!std::filesystem::exists(file)) {
      fmt::print("{:<15} {:<13} {:>3}  no coefficient file ({}): run greenfleet calibrate\n", e.gpu, e.model,
                 e.tensor_parallel, file);
      ++missing;
      continue;
    }
    if (text::read_file(file) != calibration::vidur_coefficients_yaml(e.coefficients))
      fmt::print(stderr, "warning: {} differs from what the data gives now: rerun greenfleet calibrate\n", file);
    const perf::CalibratedModel committed(catalog::load_coefficients(file));
    const calibration::ErrorStats approx =
        calibration::approximation_errors(committed, calibration::OperatorModel(e.spec));
    print_row(e, &approx);
  }
  print_footer(v);
  return missing;
}

}  // namespace greenfleet::calibration
