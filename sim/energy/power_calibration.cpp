#include "sim/energy/power_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/core/error.hpp"
#include "sim/io/config_node.hpp"
#include "sim/metrics/sample_stats.hpp"
#include "sim/workload/csv_columns.hpp"
#include "sim/workload/text_rows.hpp"

namespace greenfleet::energy {

std::map<std::string, std::vector<PowerPoint>> read_ml_energy_v3(const std::string& path) {
  workload::LineReader rows(path, workload::BadRowPolicy::kError, "");
  const workload::CsvColumns col = workload::read_csv_header(rows);
  for (const char* need :
       {"gpu_model", "num_gpus", "architecture", "avg_batch_size", "avg_power_watts", "data_parallel"})
    workload::require_column(rows, col, need);
  std::vector<std::string_view> f;
  std::map<std::string, std::vector<PowerPoint>> out;
  while (rows.next_line()) {
    workload::split_csv_row(rows, col, f);
    auto field = [&](const char* n) { return f[col.at(n)]; };
    if (field("gpu_model") != "H100" || field("architecture") != "Dense Transformer" ||
        field("data_parallel") != "1")
      continue;
    double gpus = 0, batch = 0, watts = 0;
    if (!workload::parse_number(field("num_gpus"), gpus) ||
        !workload::parse_number(field("avg_batch_size"), batch) ||
        !workload::parse_number(field("avg_power_watts"), watts) || gpus < 1)
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
    workload::LineReader rows(path, workload::BadRowPolicy::kError, "");
    const workload::CsvColumns col = workload::read_csv_header(rows);
    workload::require_column(rows, col, "latency");
    workload::require_column(rows, col, "energy");
    std::vector<std::string_view> f;
    while (rows.next_line()) {
      workload::split_csv_row(rows, col, f);
      double latency = 0, energy = 0;
      if (!workload::parse_number(f[col.at("latency")], latency) ||
          !workload::parse_number(f[col.at("energy")], energy) || latency <= 0)
        rows.bad_row("latency or energy does not parse");
      out[id].push_back(energy / latency);  // mean power while serving one request, W
    }
  }
  return out;
}

std::pair<double, double> power_errors(const GpuPowerCurve& c, const std::vector<PowerPoint>& points) {
  std::vector<double> ape;
  for (const auto& p : points)
    if (p.held_out) ape.push_back(100 * std::abs(c.decode_w(p.batch) - p.watts) / p.watts);
  return {metrics::sample_quantile(ape, 0.5), metrics::sample_quantile(ape, 0.9)};
}

void mark_power_held_out(std::vector<PowerPoint>& points) {
  std::stable_sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.batch < b.batch || (a.batch == b.batch && a.watts < b.watts);
  });
  for (std::size_t i = 0; i < points.size(); ++i) points[i].held_out = i % 4 == 3;
}

GpuPowerCurve fit_power_curve(const std::string& gpu, std::vector<PowerPoint> points, const std::string& source) {
  mark_power_held_out(points);
  GpuPowerCurve best;
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

std::string power_curve_yaml(const GpuPowerCurve& c) {
  return fmt::format(
      "# GPU decode power vs running batch, written by `greenfleet calibrate`: regenerate, do not edit.\n"
      "# P(B) = decode_w_saturated - (decode_w_saturated - decode_w_small) x exp(-B / batch_scale), W per GPU\n"
      "gpu: {}\nmethod: {}\nsource: \"{}\"\ndecode_w_small: {:.6g}\ndecode_w_saturated: {:.6g}\nbatch_scale: "
      "{:.6g}\n"
      "fit:                          # {}\n"
      "  training_points: {}\n  held_out_points: {}\n  held_out_median_ape: {:.3f}\n  held_out_p90_ape: {:.3f}\n",
      c.gpu, c.method, c.source, c.decode_w_small, c.decode_w_saturated, c.batch_scale,
      c.method == "fit" ? "absolute percentage errors of power on held-out points"
                        : "levels from mean powers: points = values averaged, nothing held out, no error measured",
      c.training_points, c.held_out_points, c.held_out_median_ape, c.held_out_p90_ape);
}

GpuPowerCurve load_power_curve(const std::string& file) {
  io::ConfigNode n = io::ConfigNode::open_file(file);
  GpuPowerCurve c;
  c.gpu = n.get_string("gpu");
  c.method = n.get_choice("method", {"fit", "levels"});
  c.source = n.get_string("source");
  c.decode_w_small = n.get_double("decode_w_small", std::nullopt, 0, 1e4);
  c.decode_w_saturated = n.get_double("decode_w_saturated", std::nullopt, 0, 1e4);
  c.batch_scale = n.get_double("batch_scale", std::nullopt, 1e-3, 1e6);
  io::ConfigNode fit = n.child("fit");
  c.training_points = static_cast<int>(fit.get_int("training_points", std::nullopt, 0));
  c.held_out_points = static_cast<int>(fit.get_int("held_out_points", std::nullopt, 0));
  c.held_out_median_ape = fit.get_double("held_out_median_ape", std::nullopt, 0);
  c.held_out_p90_ape = fit.get_double("held_out_p90_ape", std::nullopt, 0);
  fit.finish();
  n.finish();
  return c;
}

}  // namespace greenfleet::energy
