#include "sim/calibration/power_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/calibration/sample_stats.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/text/csv_columns.hpp"
#include "sim/text/text_rows.hpp"

namespace greenfleet::calibration {

std::map<std::string, std::vector<PowerPoint>> read_ml_energy_v3(const std::string& path) {
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  const text::CsvColumns col = text::read_csv_header(rows);
  for (const char* need :
       {"gpu_model", "num_gpus", "architecture", "avg_batch_size", "avg_power_watts", "data_parallel"})
    text::require_column(rows, col, need);
  std::vector<std::string_view> f;
  std::map<std::string, std::vector<PowerPoint>> out;
  while (rows.next_line()) {
    text::split_csv_row(rows, col, f);
    auto field = [&](const char* n) { return f[col.at(n)]; };
    if (field("gpu_model") != "H100" || field("architecture") != "Dense Transformer" ||
        field("data_parallel") != "1")
      continue;
    double gpus = 0, batch = 0, watts = 0;
    if (!text::parse_number(field("num_gpus"), gpus) || !text::parse_number(field("avg_batch_size"), batch) ||
        !text::parse_number(field("avg_power_watts"), watts) || gpus < 1)
      rows.bad_row("a numeric field does not parse");
    out["h100-sxm"].push_back(PowerPoint{batch, watts / gpus, false});  // the file's power is summed over GPUs
  }
  return out;
}

std::map<std::string, std::vector<double>> read_ml_energy_2023(const std::string& dir) {
  // GPU name in the file name -> catalog id (the 2023 benchmark's exact SKUs are not stated; our mapping).
  const std::map<std::string, std::string> ids = {
      {"A100", "a100-sxm-80gb"}, {"A40", "a40"}, {"V100", "v100-pcie-32gb"}};
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, id] : ids) {
    const std::string path = (std::filesystem::path(dir) / (name + "_chat_benchmark.csv")).string();
    if (!std::filesystem::exists(path)) continue;
    text::LineReader rows(path, text::BadRowPolicy::kError, "");
    const text::CsvColumns col = text::read_csv_header(rows);
    text::require_column(rows, col, "latency");
    text::require_column(rows, col, "energy");
    std::vector<std::string_view> f;
    while (rows.next_line()) {
      text::split_csv_row(rows, col, f);
      double latency = 0, energy = 0;
      if (!text::parse_number(f[col.at("latency")], latency) || !text::parse_number(f[col.at("energy")], energy) ||
          latency <= 0)
        rows.bad_row("latency or energy does not parse");
      out[id].push_back(energy / latency);  // mean power while serving one request, W
    }
  }
  return out;
}

std::pair<double, double> power_errors(const spec::GpuPowerCurve& c, const std::vector<PowerPoint>& points) {
  std::vector<double> ape;
  for (const auto& p : points)
    if (p.held_out) ape.push_back(100 * std::abs(c.decode_w(p.batch) - p.watts) / p.watts);
  return {calibration::sample_quantile(ape, 0.5), calibration::sample_quantile(ape, 0.9)};
}

void mark_power_held_out(std::vector<PowerPoint>& points) {
  std::stable_sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.batch < b.batch || (a.batch == b.batch && a.watts < b.watts);
  });
  for (std::size_t i = 0; i < points.size(); ++i) points[i].held_out = i % 4 == 3;
}

spec::GpuPowerCurve fit_power_curve(const std::string& gpu, std::vector<PowerPoint> points,
                                    const std::string& source) {
  mark_power_held_out(points);
  spec::GpuPowerCurve best;
  best.gpu = gpu, best.source = source;
  double best_err = INFINITY;
  for (double scale = 1; scale <= 2048; scale *= 1.05) {
    // P = sat x (1 - e) + small x e with e = exp(-B / scale): linear least squares on relative error.
    double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
    for (const auto& p : points) {
      if (p.held_out) continue;
      const double e = std::exp(-p.batch / scale), w = 1 / (p.watts * p.watts);
      const double x1 = 1 - e, x2 = e;
      a11 += x1 * x1 * w, a12 += x1 * x2 * w, a22 += x2 * x2 * w, b1 += x1 * p.watts * w, b2 += x2 * p.watts * w;
    }
    const double det = a11 * a22 - a12 * a12;
    if (std::abs(det) < 1e-30) continue;
    const double sat = (b1 * a22 - b2 * a12) / det, small = (a11 * b2 - a12 * b1) / det;
    if (sat <= 0 || small <= 0) continue;
    double err = 0;
    for (const auto& p : points) {
      if (p.held_out) continue;
      const double pred = sat - (sat - small) * std::exp(-p.batch / scale);
      err += std::pow((pred - p.watts) / p.watts, 2);
    }
    if (err < best_err)
      best_err = err, best.decode_w_saturated = sat, best.decode_w_small = small, best.batch_scale = scale;
  }
  best.training_points =
      static_cast<int>(std::count_if(points.begin(), points.end(), [](auto& p) { return !p.held_out; }));
  best.held_out_points = static_cast<int>(points.size()) - best.training_points;
  std::tie(best.held_out_median_ape, best.held_out_p90_ape) = power_errors(best, points);
  return best;
}

std::vector<spec::GpuPowerCurve> fit_power_curves(const std::string& dir, const catalog::Catalog& catalog) {
  std::vector<spec::GpuPowerCurve> out;
  const auto v3 = read_ml_energy_v3(dir + "/mlenergy_v3_llm_configs.csv");
  double scale = 0;
  for (const auto& [gpu, pts] : v3) {
    out.push_back(fit_power_curve(gpu, pts,
                                  "ML.ENERGY benchmark v3 (ml-energy/leaderboard), "
                                  "H100 rows of dense models: per-GPU power vs mean running batch"));
    scale = out.back().batch_scale;
  }
  // 2023 leaderboard: one mean serving power per model (batch not recorded). It sets the small-batch level;
  // the saturated level is the catalog's prefill (TDP-class) power, the batch scale carried from the H100.
  const auto levels = read_ml_energy_2023(dir + "/legacy_2023");
  if (!levels.empty() && scale <= 0)
    throw core::InputError(
        fmt::format("{}: no H100 rows of dense models to fit a batch scale from; the 2023 power "
                    "levels carry theirs from that fit",
                    dir + "/mlenergy_v3_llm_configs.csv"));
  for (const auto& [gpu, watts] : levels) {
    const std::vector<double>& w = watts;
    spec::GpuPowerCurve c;
    c.gpu = gpu;
    c.method = "levels";
    c.source =
        "ML.ENERGY leaderboard 2023 (legacy_2023): median over models of energy / latency per request; "
        "saturated = catalog prefill_w; batch_scale carried from the H100 fit (ours)";
    c.decode_w_small = sample_median(w);
    c.decode_w_saturated = catalog.gpu(gpu).power.prefill_w;
    c.batch_scale = scale;
    c.training_points = static_cast<int>(w.size());
    out.push_back(c);
  }
  return out;
}

}  // namespace greenfleet::calibration
