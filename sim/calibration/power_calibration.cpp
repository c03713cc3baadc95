#include "sim/calibration/power_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>

#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/calibration/operator_model.hpp"
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
       {"model_id", "gpu_model", "num_gpus", "architecture", "avg_batch_size", "avg_power_watts", "data_parallel"})
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
    const std::string model(field("model_id"));
    // The file's power is summed over GPUs.
    out["h100-sxm"].push_back(PowerPoint{batch, watts / gpus, ml_energy_held_out_model(model), model});
  }
  return out;
}

std::pair<double, double> power_errors(const spec::GpuPowerCurve& c, const std::vector<PowerPoint>& points) {
  std::vector<double> ape;
  for (const auto& p : points)
    if (p.held_out) ape.push_back(100 * std::abs(c.decode_w(p.batch) - p.watts) / p.watts);
  return {calibration::sample_quantile(ape, 0.5), calibration::sample_quantile(ape, 0.9)};
}

spec::GpuPowerCurve fit_power_curve(const std::string& gpu, const std::vector<PowerPoint>& points,
                                    const std::string& source) {
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

namespace {
// The size in a model's name, in billions of parameters: the first "-7B", "_13b-chat", "-1.5b" (a separator,
// digits with an optional fraction, b or B, then the end or a separator); 0 when there is none. Written out rather
// than as a std::regex, whose GCC 12 headers trip -Wmaybe-uninitialized under the sanitizer build.
double size_in_name(std::string_view name) {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '-' && name[i] != '_') continue;
    std::size_t j = i + 1;
    while (j < name.size() && digit(name[j])) ++j;
    if (j == i + 1) continue;
    if (j + 1 < name.size() && name[j] == '.' && digit(name[j + 1])) {
      ++j;
      while (j < name.size() && digit(name[j])) ++j;
    }
    if (j < name.size() && (name[j] == 'b' || name[j] == 'B') &&
        (j + 1 == name.size() || name[j + 1] == '-' || name[j + 1] == '_'))
      return std::stod(std::string(name.substr(i + 1, j - i - 1)));
  }
  return 0;
}
}  // namespace

std::map<std::string, std::vector<UtilisationPoint>> read_ml_energy_2023_power(const std::string& dir,
                                                                               const catalog::Catalog& catalog) {
  std::map<std::string, std::vector<UtilisationPoint>> out;
  for (const MlEnergy2023Run& run : read_ml_energy_2023_runs(dir, catalog, [](const std::string& name) {
         return name.find("-t5-") == std::string::npos && size_in_name(name) > 0;
       })) {
    const double bandwidth = catalog.gpu(run.gpu).memory_bandwidth_gbps * 1e9;
    const double weight_bytes = 2 * size_in_name(run.model) * 1e9;
    const double itl = run.latency_s / run.tokens;
    out[run.gpu].push_back(UtilisationPoint{run.model, weight_bytes / itl / bandwidth,
                                            run.energy_j / run.latency_s,
                                            !ml_energy_2023_llama_shape(run.model).empty(), itl});
  }
  return out;
}

PowerLine fit_power_line(const std::vector<UtilisationPoint>& points) {
  // Minimises sum ((a + b u - W) / W)^2: normal equations of rows (1 / W, u / W) against 1.
  double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
  int n = 0;
  for (const auto& p : points) {
    if (p.held_out) continue;
    const double x1 = 1 / p.watts, x2 = p.utilisation / p.watts;
    a11 += x1 * x1, a12 += x1 * x2, a22 += x2 * x2, b1 += x1, b2 += x2, ++n;
  }
  const double det = a11 * a22 - a12 * a12;
  if (n < 2 || std::abs(det) < 1e-30)
    throw std::runtime_error("calibration: too few 2023 rows to fit a power line");
  return PowerLine{(b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det};
}

std::pair<double, double> power_line_errors(const PowerLine& line, const std::vector<UtilisationPoint>& points) {
  std::vector<double> ape;
  for (const auto& p : points)
    if (p.held_out) ape.push_back(100 * std::abs(line.at(p.utilisation) - p.watts) / p.watts);
  return {calibration::sample_quantile(ape, 0.5), calibration::sample_quantile(ape, 0.9)};
}

Engine2023 fit_engine_2023(const std::vector<UtilisationPoint>& points) {
  Engine2023 e;
  std::vector<double> per_layer;
  for (const auto& p : points)
    if (const int layers = ml_energy_2023_layers(p.name); !p.held_out && layers > 0 && p.itl_s > 0)
      per_layer.push_back(p.itl_s / layers);
  if (per_layer.empty()) throw std::runtime_error("calibration: no 2023 training rows with a known layer count");
  e.host_s_per_layer = calibration::sample_median(per_layer);
  e.training_rows = static_cast<int>(per_layer.size());
  e.line = fit_power_line(points);
  return e;
}

MlEnergyPrediction predict_engine_2023(const perf::PerfModel& model, const spec::GpuSpec& gpu,
                                       const spec::LlmModel& llm, const Engine2023& engine,
                                       const MlEnergy2023Row& row) {
  const MlEnergyPrediction gpu_step = predict_ml_energy_2023(model, gpu, nullptr, row);
  MlEnergyPrediction p;
  p.itl_s = std::max(gpu_step.itl_s, engine.host_s_per_layer * llm.layers);
  p.throughput = 1 / p.itl_s;
  const double utilisation = llm.weight_bytes() / p.itl_s / (gpu.memory_bandwidth_gbps * 1e9);
  p.gpu_w = engine.line.at(utilisation);
  p.j_per_token = p.gpu_w * p.itl_s;
  return p;
}

double small_batch_utilisation(const std::string& v3_path, const catalog::Catalog& catalog) {
  std::map<std::string, int> skipped;
  std::vector<double> u;
  for (const MlEnergyConfig& c : read_ml_energy_configs(v3_path, catalog, skipped)) {
    if (c.held_out || c.max_num_seqs != 8) continue;
    const spec::LlmModel& m = catalog.model(c.model);
    const double kv_per_token = 2.0 * m.layers * kv_heads_per_shard(m, c.tp) * m.head_dim * m.bytes_per_param;
    const double bytes =
        m.weight_bytes() / c.tp + c.batch * (ml_energy_prompt_tokens(c.task) + c.output_tokens / 2) * kv_per_token;
    u.push_back(bytes / c.median_itl_s / (catalog.gpu(c.gpu).memory_bandwidth_gbps * 1e9));
  }
  if (u.empty()) throw std::runtime_error("calibration: no ML.ENERGY v3 training rows at max_num_seqs 8");
  return sample_median(u);
}

std::vector<spec::GpuPowerCurve> fit_power_curves(const std::string& dir, const catalog::Catalog& catalog) {
  std::vector<spec::GpuPowerCurve> out;
  const std::string v3 = dir + "/mlenergy_v3_llm_configs.csv";
  double h100_saturated = 0, h100_scale = 0;
  for (const auto& [gpu, pts] : read_ml_energy_v3(v3)) {
    out.push_back(fit_power_curve(gpu, pts,
                                  "ML.ENERGY benchmark v3 (ml-energy/leaderboard), H100 rows of dense models: "
                                  "per-GPU power vs mean running batch; held out by model (Llama-3.3-70B, "
                                  "Qwen3-14B)"));
    if (gpu == "h100-sxm") h100_saturated = out.back().decode_w_saturated, h100_scale = out.back().batch_scale;
  }
  const auto lines = read_ml_energy_2023_power(dir + "/legacy_2023", catalog);
  if (lines.empty()) return out;
  if (h100_saturated <= 0 || !catalog.gpus().count("h100-sxm"))
    throw core::InputError(
        fmt::format("{}: no H100 rows of dense models; the 2023 GPUs' curves carry the H100's "
                    "saturated / TDP ratio and batch scale",
                    v3));
  const double sat_per_tdp = h100_saturated / catalog.gpu("h100-sxm").tdp_w;
  const double u = small_batch_utilisation(v3, catalog);
  for (const auto& [gpu, pts] : lines) {
    const PowerLine line = fit_power_line(pts);
    spec::GpuPowerCurve c;
    c.gpu = gpu;
    c.method = "line";
    c.source = fmt::format(
        "ML.ENERGY leaderboard 2023 (legacy_2023), batch-1 runs: power vs weight bandwidth utilisation, fitted "
        "to the non-LLaMA models, LLaMA-shaped held out; small = the line at the small-batch utilisation of "
        "ML.ENERGY v3 (H100, max_num_seqs 8); saturated = TDP x the H100's saturated / TDP ({:.3f}); "
        "batch_scale = the H100's (ours)",
        sat_per_tdp);
    c.line_intercept_w = line.intercept_w, c.line_slope_w = line.slope_w, c.line_utilisation = u;
    const Engine2023 engine = fit_engine_2023(pts);
    c.host_s_per_layer = engine.host_s_per_layer, c.host_training_rows = engine.training_rows;
    c.decode_w_small = line.at(u);
    c.decode_w_saturated = std::max(c.decode_w_small, sat_per_tdp * catalog.gpu(gpu).tdp_w);
    c.batch_scale = h100_scale;
    c.training_points =
        static_cast<int>(std::count_if(pts.begin(), pts.end(), [](auto& p) { return !p.held_out; }));
    c.held_out_points = static_cast<int>(pts.size()) - c.training_points;
    std::tie(c.held_out_median_ape, c.held_out_p90_ape) = power_line_errors(line, pts);
    out.push_back(c);
  }
  return out;
}

}  // namespace greenfleet::calibration
