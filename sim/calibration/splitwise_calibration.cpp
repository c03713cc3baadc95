#include "sim/calibration/splitwise_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "sim/calibration/least_squares.hpp"
#include "sim/calibration/sample_stats.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/perf/ring_all_reduce.hpp"
#include "sim/text/csv_columns.hpp"

namespace greenfleet::calibration {

namespace {

// Where a whole prefill step's cost per prompt token rises: 2,048 tokens in a step, an empirical place. At TP 4
// and 8 SplitwiseSim's training steps cost 1.2-2.3 times as much per added token from 1,024 to 4,096 tokens as
// from 512 to 1,024, in its batch sweep too, where attention per token does not grow; at TP 2 they hardly rise
// (docs/MODELS.md, "Prefill knee"). 2,048 is also splitwise-sim's own batch cap (`max_batch_tokens: 2048`,
// configs/start_state/ in GitHub Mutinifni/splitwise-sim). The fit decides the slope above it (zero where it does
// not help). The measurement harness's kernel tables (no serving engine) are fitted without one.
constexpr double kPrefillKneeTokens = 2048;

// Features of one prefill step of `batch` prompts of `prompt` tokens: (1, tokens, attended positions, tokens
// beyond the knee; 0 without one).
std::vector<double> prefill_features(int prompt, int batch, double knee) {
  const double p = prompt, b = batch;
  return {1.0, b * p, b * p * (p + 1) / 2, knee > 0 ? std::max(0.0, b * p - knee) : 0.0};
}

// Features of the mean decode step over a generation of `output` tokens: (1, sequences, mean total context).
std::vector<double> decode_features(int prompt, int batch, int output) {
  const double b = batch;
  return {1.0, b, b * (prompt + output / 2.0)};
}

}  // namespace

std::vector<MeasuredSet> read_splitwise_sim(const std::string& path, std::map<std::string, int>& skipped,
                                            const catalog::Catalog* catalog, const std::string& source) {
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  const text::CsvColumns col = text::read_csv_header(rows);
  for (const char* need : {"model", "hardware", "prompt_size", "batch_size", "token_size", "prompt_time",
                           "token_time", "e2e_time", "tensor_parallel"})
    text::require_column(rows, col, need);
  const std::map<std::string, std::string> models = {{"llama2-70b", "llama-2-70b"}};
  const std::map<std::string, std::string> gpus = {{"a100-80gb", "a100-sxm-80gb"}, {"h100-80gb", "h100-sxm"}};
  // (gpu, model, tp) -> (prompt, batch, output) -> repeats
  std::map<std::tuple<std::string, std::string, int>,
           std::map<std::tuple<int, int, int>, std::vector<MeasuredPoint>>>
      groups;
  std::vector<std::string_view> f;
  while (rows.next_line()) {
    text::split_csv_row(rows, col, f);
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
    if (!text::parse_number(field("prompt_size"), p.prompt) || !text::parse_number(field("batch_size"), p.batch) ||
        !text::parse_number(field("token_size"), p.output) || !text::parse_number(field("tensor_parallel"), tp) ||
        !text::parse_number(field("prompt_time"), p.prefill_s) ||
        !text::parse_number(field("token_time"), p.decode_s) || !text::parse_number(field("e2e_time"), p.e2e_s))
      rows.bad_row("a numeric field does not parse");
    // The fit divides by these and sizes shapes with them: a step needs a prompt, a sequence, a token and a GPU,
    // and a measured time is a positive finite duration.
    if (p.prompt < 1 || p.batch < 1 || p.output < 1 || tp < 1 || tp > 64)
      rows.bad_row("prompt_size, batch_size and token_size must be at least 1, tensor_parallel 1 to 64");
    if (!(std::isfinite(p.prefill_s) && p.prefill_s > 0 && std::isfinite(p.decode_s) && p.decode_s > 0 &&
          std::isfinite(p.e2e_s) && p.e2e_s > 0))
      rows.bad_row("prompt_time, token_time and e2e_time must be positive finite milliseconds");
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
      m.prefill_s = calibration::sample_median(a);
      m.decode_s = calibration::sample_median(b);
      m.e2e_s = calibration::sample_median(c);
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

spec::CalibrationCoefficients calibrate(const MeasuredSet& set) {
  std::vector<const MeasuredPoint*> train;
  for (const auto& p : set.points)
    if (!p.held_out && !p.excluded) train.push_back(&p);
  spec::CalibrationCoefficients c;
  c.gpu = set.gpu, c.model = set.model, c.tensor_parallel = set.tensor_parallel, c.source = set.source;
  c.origin = spec::CalibrationOrigin::kMeasured;
  c.training_points = static_cast<int>(train.size());

  const double knee = set.harness ? 0.0 : kPrefillKneeTokens;
  // Prefill: max(floor, fixed + t x tokens + a x positions + k x tokens beyond the knee). Try every split of the
  // points (by tokens) into a floor group and a linear group, keep the best; deterministic.
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
        f.push_back(prefill_features(pts[i]->prompt, pts[i]->batch, knee)), y.push_back(pts[i]->prefill_s);
      const auto lin = fit_relative_least_squares(f, y);
      const double fl = floor_y.empty() ? 0.0 : relative_mean(floor_y);
      std::vector<double> pred, all;
      for (const auto* p : pts) {
        const auto x = prefill_features(p->prompt, p->batch, knee);
        pred.push_back(std::max(fl, lin[0] + lin[1] * x[1] + lin[2] * x[2] + lin[3] * x[3]));
        all.push_back(p->prefill_s);
      }
      const double e = relative_sse(pred, all);
      if (e < best) {
        best = e;
        c.prefill_floor = fl, c.prefill_fixed = lin[0], c.per_prefill_token = lin[1], c.per_attn_ctx = lin[2];
        c.per_prefill_token_above_knee = lin[3];
        c.prefill_knee_tokens = lin[3] > 0 ? knee : 0;
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
  const perf::CalibratedModel model(c);
  const ErrorStats h = held_out_step_errors(model, set);
  c.held_out_points = h.points, c.held_out_median_ape = h.median_ape, c.held_out_p90_ape = h.p90_ape;
  const ErrorStats e = e2e_errors(model, set);
  c.e2e_points = e.points, c.e2e_median_ape = e.median_ape, c.e2e_p90_ape = e.p90_ape;
  return c;
}

std::span<const HarnessTable> harness_tables() {
  static constexpr HarnessTable kTables[] = {
      {"models/calibration/measured/h100-sxm/h100-sxm-llama-2-7b-tp1.csv", true, ""},
      {"models/calibration/measured/h100-sxm/h100-sxm-llama-3.1-8b-tp1.csv", true, ""},
      {"models/calibration/measured/h100-sxm/h100-sxm-mistral-7b-tp1.csv", false,
       "eager decode (no CUDA graphs): launch-bound at small batches"},
  };
  return kTables;
}

std::vector<MeasuredSet> read_measured_sets(const std::string& data_dir, const std::string& project,
                                            const catalog::Catalog& catalog, bool with_unfitted,
                                            const std::vector<std::string>& extra,
                                            std::map<std::string, int>& skipped) {
  auto sets = read_splitwise_sim(data_dir + "/profiling/splitwise_sim/perf_model.csv", skipped);
  auto add = [&](const std::string& path, const std::string& name, bool fitted, const std::string& note) {
    // What the harness is and is not (models/calibration/measure/README.md): the source line says it.
    auto more = read_splitwise_sim(path, skipped, &catalog,
                                   "measured with models/calibration/measure (" + name +
                                       "): PyTorch kernels of the catalog shapes, random weights, one GPU; no "
                                       "serving engine (no scheduler, sampling or per-step CPU overhead)");
    for (auto& s : more) s.harness = true, s.fitted = fitted, s.note = note;
    sets.insert(sets.end(), more.begin(), more.end());
  };
  for (const HarnessTable& t : harness_tables())
    if (t.fitted || with_unfitted) add(project + "/" + t.file, t.file, t.fitted, t.note);
  for (const auto& m : extra) {
    const std::size_t before = sets.size();
    add(m, m, true, "");
    // One set per GPU, model and TP: calibrate writes one coefficient file for each, and two sets of one key
    // wrote the same file twice (the second rename failed as if the disk were full, exit 3).
    for (std::size_t i = before; i < sets.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (sets[j].gpu == sets[i].gpu && sets[j].model == sets[i].model &&
            sets[j].tensor_parallel == sets[i].tensor_parallel)
          throw core::InputError(fmt::format(
              "{}: rows of {} {} tensor_parallel {} are measured already by {}: one set per GPU, model and "
              "tensor_parallel (each becomes one coefficient file); merge the rows into one file",
              m, sets[i].gpu, sets[i].model, sets[i].tensor_parallel, config::clip(sets[j].source, 120)));
  }
  return sets;
}

namespace {
perf::BatchShape prefill_shape(const MeasuredPoint& p) {
  perf::BatchShape pre;
  pre.prefill_tokens = static_cast<std::int64_t>(p.batch) * p.prompt;
  pre.prefill_seqs = pre.prefill_final_chunks = p.batch;
  pre.prefill_attn_ctx = p.batch * (static_cast<double>(p.prompt) * (p.prompt + 1) / 2);
  return pre;
}
}  // namespace

ErrorStats held_out_step_errors(const perf::PerfModel& model, const MeasuredSet& set) {
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

ErrorStats e2e_errors(const perf::PerfModel& model, const MeasuredSet& set) {
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

}  // namespace greenfleet::calibration
