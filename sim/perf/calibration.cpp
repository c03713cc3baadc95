#include "sim/perf/calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "sim/core/error.hpp"
#include "sim/io/config_node.hpp"
#include "sim/metrics/sample_stats.hpp"
#include "sim/perf/least_squares.hpp"
#include "sim/perf/ring_all_reduce.hpp"
#include "sim/workload/csv_columns.hpp"

namespace greenfleet::perf {

namespace {

// Features of one prefill step of `batch` prompts of `prompt` tokens: (1, tokens, attended positions).
std::vector<double> prefill_features(int prompt, int batch) {
  const double p = prompt, b = batch;
  return {1.0, b * p, b * p * (p + 1) / 2};
}

// Features of the mean decode step over a generation of `output` tokens: (1, sequences, mean total context).
std::vector<double> decode_features(int prompt, int batch, int output) {
  const double b = batch;
  return {1.0, b, b * (prompt + output / 2.0)};
}

}  // namespace

std::vector<MeasuredSet> read_splitwise_sim(const std::string& path, std::map<std::string, int>& skipped,
                                            const fleet::Catalog* catalog, const std::string& source) {
  workload::LineReader rows(path, workload::BadRowPolicy::kError, "");
  const workload::CsvColumns col = workload::read_csv_header(rows);
  for (const char* need : {"model", "hardware", "prompt_size", "batch_size", "token_size", "prompt_time",
                           "token_time", "e2e_time", "tensor_parallel"})
    workload::require_column(rows, col, need);
  const std::map<std::string, std::string> models = {{"llama2-70b", "llama-2-70b"}};
  const std::map<std::string, std::string> gpus = {{"a100-80gb", "a100-sxm-80gb"}, {"h100-80gb", "h100-sxm"}};
  // (gpu, model, tp) -> (prompt, batch, output) -> repeats
  std::map<std::tuple<std::string, std::string, int>,
           std::map<std::tuple<int, int, int>, std::vector<MeasuredPoint>>>
      groups;
  std::vector<std::string_view> f;
  while (rows.next_line()) {
    workload::split_csv_row(rows, col, f);
    auto field = [&](const char* name) { return f[col.at(name)]; };
    const std::string model(field("model")), hw(field("hardware"));
    const bool known = models.count(model) && gpus.count(hw);
    const bool ids = catalog && catalog->models().count(model) && catalog->gpus().count(hw);
    if (!known && !ids) {
      ++skipped[model + " on " + hw];
      continue;
    }
    MeasuredPoint p;
    int tp = 0;
    if (!workload::parse_number(field("prompt_size"), p.prompt) ||
        !workload::parse_number(field("batch_size"), p.batch) ||
        !workload::parse_number(field("token_size"), p.output) ||
        !workload::parse_number(field("tensor_parallel"), tp) ||
        !workload::parse_number(field("prompt_time"), p.prefill_s) ||
        !workload::parse_number(field("token_time"), p.decode_s) ||
        !workload::parse_number(field("e2e_time"), p.e2e_s))
      rows.bad_row("a numeric field does not parse");
    p.prefill_s /= 1000, p.decode_s /= 1000, p.e2e_s /= 1000;  // the file is in milliseconds
    groups[{known ? gpus.at(hw) : hw, known ? models.at(model) : model, tp}][{p.prompt, p.batch, p.output}]
        .push_back(p);
  }
  std::vector<MeasuredSet> out;
  for (const auto& [key, pts] : groups) {
    MeasuredSet set;
    std::tie(set.gpu, set.model, set.tensor_parallel) = key;
    set.source = source.empty()
                     ? "SplitwiseSim data/perf_model.csv (GitHub Mutinifni/splitwise-sim), median of repeats"
                     : source;
    for (const auto& [shape, reps] : pts) {
      MeasuredPoint m = reps.front();
      std::vector<double> a, b, c;
      for (const auto& r : reps) a.push_back(r.prefill_s), b.push_back(r.decode_s), c.push_back(r.e2e_s);
      m.prefill_s = metrics::sample_median(a);
      m.decode_s = metrics::sample_median(b);
      m.e2e_s = metrics::sample_median(c);
      set.points.push_back(m);
    }
    // Batch sweep: same prompt and output, growing batch; prefill time must not fall as the batch grows.
    for (std::size_t j = 1; j < set.points.size(); ++j) {
      MeasuredPoint& p = set.points[j];
      for (std::size_t k = 0; k < j; ++k) {
        const MeasuredPoint& q = set.points[k];
        if (q.prompt == p.prompt && q.output == p.output && q.batch < p.batch && !q.excluded &&
            p.prefill_s < q.prefill_s) {
          p.excluded = true;
          ++set.excluded;
          break;
        }
      }
    }
    // The profiler caps generation length: where the measured latency is far below prefill + output x decode
    // time, fewer tokens were generated than requested, and the decode time belongs to an unknown length.
    for (auto& p : set.points) p.truncated = p.e2e_s < 0.9 * (p.prefill_s + (p.output - 1) * p.decode_s);
    std::size_t i = 0;
    for (auto& p : set.points)
      if (!p.excluded) p.held_out = is_held_out(i++);
    out.push_back(std::move(set));
  }
  return out;
}

namespace {

double relative_sse(const std::vector<double>& predicted, const std::vector<double>& y) {
  double e = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double r = (predicted[i] - y[i]) / y[i];
    e += r * r;
  }
  return e;
}

// Weighted mean on relative error: the constant c minimising sum ((c - y) / y)^2.
double relative_mean(const std::vector<double>& y) {
  double num = 0, den = 0;
  for (double v : y) num += 1 / v, den += 1 / (v * v);
  return num / den;
}

}  // namespace

CalibrationCoefficients calibrate(const MeasuredSet& set) {
  std::vector<const MeasuredPoint*> train;
  for (const auto& p : set.points)
    if (!p.held_out && !p.excluded) train.push_back(&p);
  CalibrationCoefficients c;
  c.gpu = set.gpu, c.model = set.model, c.tensor_parallel = set.tensor_parallel, c.source = set.source;
  c.origin = CalibrationOrigin::kMeasured;
  c.training_points = static_cast<int>(train.size());

  // Prefill: max(floor, fixed + t x tokens + a x positions). Try every split of the points (by tokens) into a
  // floor group and a linear group, keep the best; deterministic.
  {
    std::vector<const MeasuredPoint*> pts = train;
    std::stable_sort(pts.begin(), pts.end(), [](auto* x, auto* y) {
      return static_cast<std::int64_t>(x->batch) * x->prompt < static_cast<std::int64_t>(y->batch) * y->prompt;
    });
    double best = INFINITY;
    for (std::size_t split = 0; split + 3 <= pts.size(); ++split) {
      std::vector<double> floor_y;
      for (std::size_t i = 0; i < split; ++i) floor_y.push_back(pts[i]->prefill_s);
      std::vector<std::vector<double>> f;
      std::vector<double> y;
      for (std::size_t i = split; i < pts.size(); ++i)
        f.push_back(prefill_features(pts[i]->prompt, pts[i]->batch)), y.push_back(pts[i]->prefill_s);
      const auto lin = fit_relative_least_squares(f, y);
      const double fl = floor_y.empty() ? 0.0 : relative_mean(floor_y);
      std::vector<double> pred, all;
      for (const auto* p : pts) {
        const auto x = prefill_features(p->prompt, p->batch);
        pred.push_back(std::max(fl, lin[0] + lin[1] * x[1] + lin[2] * x[2]));
        all.push_back(p->prefill_s);
      }
      const double e = relative_sse(pred, all);
      if (e < best) {
        best = e;
        c.prefill_floor = fl, c.prefill_fixed = lin[0], c.per_prefill_token = lin[1], c.per_attn_ctx = lin[2];
      }
    }
  }
  // Decode (mean over a generation, at the mean context C): max(floor, fixed + s x B) + k x C. Split the
  // points by batch: the floor group fixes floor and k, the rest fixes fixed and s.
  {
    // A truncated generation's decode time belongs to an unknown length: such points are left out.
    std::vector<const MeasuredPoint*> pts;
    for (const auto* p : train)
      if (!p->truncated) pts.push_back(p);
    std::stable_sort(pts.begin(), pts.end(), [](auto* x, auto* y) { return x->batch < y->batch; });
    double best = INFINITY;
    for (std::size_t split = 2; split <= pts.size(); ++split) {
      std::vector<std::vector<double>> ff;
      std::vector<double> fy;
      for (std::size_t i = 0; i < split; ++i) {
        const auto x = decode_features(pts[i]->prompt, pts[i]->batch, pts[i]->output);
        ff.push_back({1.0, x[2]}), fy.push_back(pts[i]->decode_s);
      }
      const auto fl = fit_relative_least_squares(ff, fy);  // floor + k C
      double fixed = 0, per_seq = 0;
      if (pts.size() - split >= 2) {
        std::vector<std::vector<double>> uf;
        std::vector<double> uy;
        bool positive = true;
        for (std::size_t i = split; i < pts.size(); ++i) {
          const auto x = decode_features(pts[i]->prompt, pts[i]->batch, pts[i]->output);
          const double rest = pts[i]->decode_s - fl[1] * x[2];
          positive &= rest > 0;
          uf.push_back({1.0, x[1]}), uy.push_back(rest);
        }
        if (!positive) continue;
        const auto up = fit_relative_least_squares(uf, uy);
        fixed = up[0], per_seq = up[1];
      } else if (split != pts.size()) {
        continue;
      }
      std::vector<double> pred, all;
      for (const auto* p : pts) {
        const auto x = decode_features(p->prompt, p->batch, p->output);
        pred.push_back(std::max(fl[0], fixed + per_seq * x[1]) + fl[1] * x[2]);
        all.push_back(p->decode_s);
      }
      const double e = relative_sse(pred, all);
      if (e < best) {
        best = e;
        c.decode_floor = fl[0], c.per_decode_ctx = fl[1], c.decode_fixed = fixed, c.per_decode_seq = per_seq;
      }
    }
  }
  const CalibratedModel model(c);
  const ErrorStats h = held_out_step_errors(model, set);
  c.held_out_points = h.points, c.held_out_median_ape = h.median_ape, c.held_out_p90_ape = h.p90_ape;
  const ErrorStats e = e2e_errors(model, set);
  c.e2e_points = e.points, c.e2e_median_ape = e.median_ape, c.e2e_p90_ape = e.p90_ape;
  return c;
}

namespace {
BatchShape prefill_shape(const MeasuredPoint& p) {
  BatchShape pre;
  pre.prefill_tokens = static_cast<std::int64_t>(p.batch) * p.prompt;
  pre.prefill_seqs = pre.prefill_final_chunks = p.batch;
  pre.prefill_attn_ctx = p.batch * (static_cast<double>(p.prompt) * (p.prompt + 1) / 2);
  return pre;
}
}  // namespace

ErrorStats held_out_step_errors(const PerfModel& model, const MeasuredSet& set) {
  std::vector<double> ape;
  for (const auto& p : set.points) {
    if (!p.held_out || p.excluded) continue;
    // A prefill step counts only if no training point ran the same step (same prompt and batch): otherwise it
    // is a repeat of fitted data, not a held-out step.
    bool seen = false;
    for (const auto& q : set.points)
      seen |= !q.held_out && !q.excluded && q.prompt == p.prompt && q.batch == p.batch;
    if (!seen) ape.push_back(100 * std::abs(model.step_seconds(prefill_shape(p)) - p.prefill_s) / p.prefill_s);
    if (p.truncated) continue;
    // The measured decode time is the mean over the output - 1 decode iterations after the prefill.
    const double mean_decode =
        model.decode_run_seconds(p.batch, static_cast<std::int64_t>(p.batch) * (p.prompt + 1), p.output - 1) /
        (p.output - 1);
    ape.push_back(100 * std::abs(mean_decode - p.decode_s) / p.decode_s);
  }
  return ape_stats(ape);
}

ErrorStats e2e_errors(const PerfModel& model, const MeasuredSet& set) {
  std::vector<double> ape;
  for (const auto& p : set.points) {
    if (!p.held_out || p.excluded || p.truncated) continue;  // held-out points whose generation ran in full
    // As simulated: the prefill step yields the first token, then output - 1 decode iterations.
    const double predicted =
        model.step_seconds(prefill_shape(p)) +
        model.decode_run_seconds(p.batch, static_cast<std::int64_t>(p.batch) * (p.prompt + 1), p.output - 1);
    ape.push_back(100 * std::abs(predicted - p.e2e_s) / p.e2e_s);
  }
  return ape_stats(ape);
}

namespace {
CarriedEfficiency carried_efficiency_where(const fleet::Catalog& catalog, const CarryQuery& query,
                                           const std::string& architecture, const std::string& model,
                                           bool measured);
}  // namespace

CarriedEfficiency carried_efficiency(const fleet::Catalog& catalog, const CarryQuery& query) {
  // Preference tiers, the first with entries averaged: entries fitted to whole-step measurements before
  // entries derived from operator timings (their efficiencies inherit the operator model's reconstructed
  // terms); the same architecture before others (validation only); the same model before other models.
  struct Tier {
    bool measured, same_arch, same_model;
  };
  static constexpr Tier kTiers[] = {{true, true, true},   {true, true, false}, {true, false, true},
                                    {true, false, false}, {false, true, true}, {false, true, false}};
  for (const Tier& t : kTiers) {
    if (!t.same_arch && !query.cross_architecture) continue;
    if (t.same_model && query.model.empty()) continue;
    const CarriedEfficiency e = carried_efficiency_where(catalog, query, t.same_arch ? query.architecture : "",
                                                         t.same_model ? query.model : "", t.measured);
    if (e.entries) return e;
  }
  return {};
}

namespace {
// The average over the entries passing the filters (empty strings: any).
CarriedEfficiency carried_efficiency_where(const fleet::Catalog& catalog, const CarryQuery& query,
                                           const std::string& architecture, const std::string& model,
                                           bool measured) {
  const int tp = query.tp;
  // Only entries at the same TP degree carry over: overheads and communication change with TP, and a line
  // fitted across TP degrees of one large model does not transfer to other models (its intercept is not an
  // overhead). Per entry: the decode floor less the default overhead and the all-reduces the roofline adds
  // itself is the weight read, giving the bandwidth efficiency; the prefill slope per token gives the compute
  // one.
  const RooflineParams defaults;
  CarriedEfficiency e;
  double bw = 0, comp = 0;
  for (const auto& [key, c] : catalog.calibrations()) {
    if (c.gpu == query.exclude_gpu || c.tensor_parallel != tp) continue;
    if (!model.empty() && c.model != model) continue;
    if ((c.origin == CalibrationOrigin::kMeasured) != measured) continue;
    const auto& gpu = catalog.gpu(c.gpu);
    if (!architecture.empty() && gpu.architecture != architecture) continue;
    const auto& m = catalog.model(c.model);
    const double t = c.tensor_parallel;
    // The roofline's two all-reduces per layer of one token's activations (RooflineModel::comm_seconds).
    const double per_all_reduce = ring_all_reduce_seconds(m.hidden_size * m.bytes_per_param, c.tensor_parallel,
                                                          gpu.link_bandwidth_gbps * 1e9) +
                                  defaults.allreduce_latency_s;
    const double comm = c.tensor_parallel > 1 ? 2.0 * m.layers * per_all_reduce : 0.0;
    const double weight_read_s = c.decode_floor - defaults.step_overhead_s - comm;
    if (weight_read_s <= 0) continue;
    bw += std::clamp(m.weight_bytes() / t / (gpu.memory_bandwidth_gbps * 1e9 * weight_read_s), 0.05, 1.0);
    const double matmul = 2.0 * m.layer_parameters();  // per token, all layers
    comp += std::clamp(matmul / t / (gpu.fp16_tflops * 1e12 * std::max(1e-12, c.per_prefill_token)), 0.05, 1.0);
    ++e.entries;
  }
  if (e.entries) {
    e.bandwidth = bw / e.entries;
    e.compute = comp / e.entries;
    e.step_overhead_s = defaults.step_overhead_s;
  }
  return e;
}

}  // namespace

RooflineParams with_carried(RooflineParams base, const CarriedEfficiency& e) {
  if (e.entries == 0) return base;
  base.compute_efficiency = e.compute;
  base.bandwidth_efficiency = e.bandwidth;
  base.step_overhead_s = e.step_overhead_s;
  return base;
}

std::string coefficients_yaml(const CalibrationCoefficients& c) {
  std::string source = c.source;
  std::replace(source.begin(), source.end(), '"', '\'');  // keep the YAML string well formed
  std::string s = "# Calibrated step-time model written by `greenfleet calibrate`: regenerate, do not edit.\n";
  s += fmt::format("gpu: {}\nmodel: {}\ntensor_parallel: {}\n", c.gpu, c.model, c.tensor_parallel);
  s += fmt::format("origin: {}\nsource: \"{}\"\n", to_string(c.origin), source);
  s += fmt::format("prefill_floor_s: {:.10g}\nprefill_fixed_s: {:.10g}\n", c.prefill_floor, c.prefill_fixed);
  s += fmt::format("per_prefill_token_s: {:.10g}\nper_attn_ctx_s: {:.10g}\n", c.per_prefill_token, c.per_attn_ctx);
  s += fmt::format("decode_floor_s: {:.10g}\ndecode_fixed_s: {:.10g}\n", c.decode_floor, c.decode_fixed);
  s += fmt::format("per_decode_seq_s: {:.10g}\nper_decode_ctx_s: {:.10g}\n", c.per_decode_seq, c.per_decode_ctx);
  s += "fit:                          # absolute percentage errors on held-out points (docs/MODELS.md)\n";
  s += fmt::format("  training_points: {}\n  held_out_points: {}\n", c.training_points, c.held_out_points);
  s += fmt::format("  held_out_median_ape: {:.3f}\n", c.held_out_median_ape);
  s += fmt::format("  held_out_p90_ape: {:.3f}\n", c.held_out_p90_ape);
  s += fmt::format("  e2e_points: {}\n", c.e2e_points);
  s += fmt::format("  e2e_median_ape: {:.3f}\n  e2e_p90_ape: {:.3f}\n", c.e2e_median_ape, c.e2e_p90_ape);
  return s;
}

CalibrationCoefficients load_coefficients(const std::string& file) {
  io::ConfigNode n = io::ConfigNode::open_file(file);
  CalibrationCoefficients c;
  c.gpu = n.get_string("gpu");
  c.model = n.get_string("model");
  c.tensor_parallel = static_cast<int>(n.get_int("tensor_parallel", std::nullopt, 1, 64));
  c.origin = n.get_choice("origin", {"measured", "derived"}) == "measured" ? CalibrationOrigin::kMeasured
                                                                           : CalibrationOrigin::kDerived;
  c.source = n.get_string("source");
  c.prefill_floor = n.get_double("prefill_floor_s", std::nullopt, 0, 1e3);
  c.prefill_fixed = n.get_double("prefill_fixed_s", std::nullopt, 0, 1e3);
  c.per_prefill_token = n.get_double("per_prefill_token_s", std::nullopt, 0, 1);
  c.per_attn_ctx = n.get_double("per_attn_ctx_s", std::nullopt, 0, 1);
  c.decode_floor = n.get_double("decode_floor_s", std::nullopt, 0, 1e3);
  c.decode_fixed = n.get_double("decode_fixed_s", std::nullopt, 0, 1e3);
  c.per_decode_seq = n.get_double("per_decode_seq_s", std::nullopt, 0, 1);
  c.per_decode_ctx = n.get_double("per_decode_ctx_s", std::nullopt, 0, 1);
  io::ConfigNode fit = n.child("fit");
  c.training_points = static_cast<int>(fit.get_int("training_points", std::nullopt, 0));
  c.held_out_points = static_cast<int>(fit.get_int("held_out_points", std::nullopt, 0));
  c.held_out_median_ape = fit.get_double("held_out_median_ape", std::nullopt, 0);
  c.held_out_p90_ape = fit.get_double("held_out_p90_ape", std::nullopt, 0);
  c.e2e_points = static_cast<int>(fit.get_int("e2e_points", std::nullopt, 0));
  c.e2e_median_ape = fit.get_double("e2e_median_ape", std::nullopt, 0);
  c.e2e_p90_ape = fit.get_double("e2e_p90_ape", std::nullopt, 0);
  fit.finish();
  n.finish();
  return c;
}

std::string coefficients_path(const std::string& root, const std::string& gpu, const std::string& model, int tp) {
  return (std::filesystem::path(root) / "models" / "calibration" / gpu / fmt::format("{}-tp{}.yaml", model, tp))
      .string();
}

}  // namespace greenfleet::perf
