#include "sim/calibration/cpu_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "sim/calibration/least_squares.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace greenfleet::calibration {

namespace {

// A published [low, high] pair.
std::pair<double, double> range_of(config::ConfigNode& n, const std::string& key, double max) {
  const auto v = n.get_double_list(key, std::nullopt, 0, max);
  if (v.size() != 2 || v[0] > v[1] || v[0] <= 0) n.fail(key, "expected [low, high] with 0 < low <= high");
  return {v[0], v[1]};
}

// The step a point describes: one prefill of kCpuPrefillPromptTokens, or one decode iteration of its batch.
perf::BatchShape shape_of(const CpuPoint& p) {
  perf::BatchShape s;
  if (p.prefill) {
    s.prefill_tokens = kCpuPrefillPromptTokens;
    s.prefill_seqs = s.prefill_final_chunks = 1;
    s.prefill_attn_ctx = kCpuPrefillPromptTokens * (kCpuPrefillPromptTokens + 1.0) / 2;
    s.prefill_kv_tokens = kCpuPrefillPromptTokens;
  } else {
    s.decode_seqs = p.batch;
  }
  return s;
}

// Tokens the step consumes (prefill) or produces (decode).
double step_tokens(const CpuPoint& p) { return p.prefill ? kCpuPrefillPromptTokens : p.batch; }

double relative_sse(const spec::CpuCoefficients& c, const std::vector<CpuPoint>& pts) {
  double e = 0;
  for (const auto& p : pts) {
    const double measured = step_tokens(p) / p.tps;
    const double predicted = perf::CpuInferenceModel(c, p.threads, 1.0).step_seconds(shape_of(p));
    const double r = (predicted - measured) / measured;
    e += r * r;
  }
  return e;
}

// The power line on the range ends (both ends of each range are points: fitting them is fitting the middles).
std::vector<double> fit_power(const std::vector<std::pair<double, double>>& ends) {
  std::vector<std::vector<double>> f;
  std::vector<double> y;
  for (const auto& [threads, watts] : ends) f.push_back({1.0, threads}), y.push_back(watts);
  return fit_relative_least_squares(f, y);
}

std::vector<std::pair<double, double>> power_ends(const CpuMeasuredSet& set) {
  std::vector<std::pair<double, double>> ends;
  for (const auto& r : set.power)
    ends.push_back({r.threads, r.watts_low}), ends.push_back({r.threads, r.watts_high});
  return ends;
}

}  // namespace

CpuMeasuredSet read_cpu_measurements(const std::string& file) {
  config::ConfigNode n = config::ConfigNode::open_file(file);
  CpuMeasuredSet set;
  set.source = n.get_string("source");
  set.cpu = n.get_string("cpu");
  set.model = n.get_string("model");
  set.engine = n.get_string("engine");
  set.quantisation = n.get_string("quantisation");
  for (auto& r : n.child_list("decode")) {
    CpuThroughputRow row;
    row.threads = static_cast<int>(r.get_int("threads", std::nullopt, 1, 4096));
    row.batch = static_cast<int>(r.get_int("batch", std::nullopt, 1, 1 << 20));
    row.batch_to = static_cast<int>(r.get_int("batch_to", row.batch, row.batch, 1 << 20));
    std::tie(row.tps_low, row.tps_high) = range_of(r, "tokens_per_s", 1e7);
    r.finish();
    set.rows.push_back(row);
  }
  for (auto& r : n.child_list("prefill")) {
    CpuThroughputRow row;
    row.prefill = true;
    row.threads = static_cast<int>(r.get_int("threads", std::nullopt, 1, 4096));
    std::tie(row.tps_low, row.tps_high) = range_of(r, "tokens_per_s", 1e7);
    r.finish();
    set.rows.push_back(row);
  }
  for (auto& r : n.child_list("power")) {
    CpuPowerRow row;
    row.threads = static_cast<int>(r.get_int("threads", std::nullopt, 1, 4096));
    std::tie(row.watts_low, row.watts_high) = range_of(r, "watts", 1e5);
    r.finish();
    set.power.push_back(row);
  }
  n.finish();
  const auto prefill_rows =
      std::count_if(set.rows.begin(), set.rows.end(), [](const auto& r) { return r.prefill; });
  if (prefill_rows == static_cast<std::ptrdiff_t>(set.rows.size())) n.fail("decode", "needs at least one row");
  if (prefill_rows == 0) n.fail("prefill", "needs at least one row");
  // The power line has two parameters: rows at one thread count cannot separate the slope from the base.
  std::set<int> power_threads;
  for (const auto& r : set.power) power_threads.insert(r.threads);
  if (power_threads.size() < 2)
    n.fail("power", fmt::format("needs rows at two or more distinct thread counts to fit a line, found {}",
                                power_threads.size()));
  std::stable_sort(set.rows.begin(), set.rows.end(), [](const auto& a, const auto& b) {
    return std::tie(a.prefill, a.threads, a.batch) < std::tie(b.prefill, b.threads, b.batch);
  });
  // Held out by row, so both ends of a span row (one published range) are on the same side.
  for (std::size_t i = 0; i < set.rows.size(); ++i) set.rows[i].held_out = is_held_out(i);
  return set;
}

std::vector<std::string> cpu_measurement_files(const std::string& root) {
  const auto dir = std::filesystem::path(root) / "models" / "calibration" / "cpu" / "measurements";
  std::vector<std::string> files;
  if (std::filesystem::is_directory(dir))
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<CpuPoint> cpu_points(const CpuMeasuredSet& set) {
  std::vector<CpuPoint> pts;
  for (const auto& r : set.rows) {
    CpuPoint p;
    p.prefill = r.prefill, p.threads = r.threads, p.batch = r.batch, p.held_out = r.held_out;
    p.tps_low = r.tps_low, p.tps_high = r.tps_high, p.tps = (r.tps_low + r.tps_high) / 2;
    pts.push_back(p);
    if (!r.prefill && r.batch_to != r.batch) p.batch = r.batch_to, pts.push_back(p);
  }
  return pts;
}

spec::CpuCoefficients calibrate_cpu(const CpuMeasuredSet& set) {
  std::vector<CpuPoint> train, decode;
  for (const auto& p : cpu_points(set))
    if (!p.held_out) train.push_back(p);
  for (const auto& p : train)
    if (!p.prefill) decode.push_back(p);
  if (decode.empty() || decode.size() == train.size())
    throw core::InputError(
        fmt::format("CPU measurements of {} on {}: the training rows (all but every third) "
                    "need both decode and prefill rows",
                    set.model, set.cpu));
  spec::CpuCoefficients best;
  best.cpu = set.cpu, best.model = set.model, best.engine = set.engine, best.quantisation = set.quantisation;
  best.source = set.source;
  best.training_points = static_cast<int>(train.size());
  double best_err = INFINITY;
  // For one serial fraction: the decode points sorted by batch x g(threads). A step is on the compute line
  // exactly when that product is above floor / (compute - stream) per sequence, so every split of the sorted
  // points into a streaming group and a compute group is tried, the coefficients fitted linearly on each, and
  // the split whose model (the larger line wins per point) has the least relative error kept.
  auto try_fraction = [&](double serial) {
    auto x_of = [&](const CpuPoint& p) { return p.batch * perf::amdahl_factor(serial, p.threads); };
    std::vector<CpuPoint> sorted = decode;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const auto& a, const auto& b) { return x_of(a) < x_of(b); });
    for (std::size_t split = 0; split <= sorted.size(); ++split) {
      // Features: (floor, stream per sequence, compute per sequence, per prefill token), one-thread units.
      std::vector<std::vector<double>> f;
      std::vector<double> y;
      for (std::size_t j = 0; j < sorted.size(); ++j) {
        const double x = x_of(sorted[j]);
        f.push_back(j < split ? std::vector<double>{1.0, x, 0.0, 0.0} : std::vector<double>{0.0, 0.0, x, 0.0});
        y.push_back(sorted[j].batch / sorted[j].tps);
      }
      for (const auto& p : train) {
        if (!p.prefill) continue;
        f.push_back({0.0, 0.0, 0.0, kCpuPrefillPromptTokens * perf::amdahl_factor(serial, p.threads)});
        y.push_back(kCpuPrefillPromptTokens / p.tps);
      }
      const auto k = fit_relative_least_squares(f, y);
      spec::CpuCoefficients c = best;
      c.floor_s = k[0];
      c.stream_per_seq_1t_s = k[1];
      c.compute_per_seq_1t_s = k[2];
      c.per_prefill_token_1t_s = k[3];
      c.serial_fraction = serial;
      const double e = relative_sse(c, train);
      if (e < best_err) best_err = e, best = c;
    }
  };
  // The serial fraction by a grid search: steps of 0.001 over [0, 1), then steps of 1e-5 within one coarse
  // step of the best. Fixed grids keep the fit deterministic.
  for (int i = 0; i < 1000; ++i) try_fraction(i / 1000.0);
  const int coarse = static_cast<int>(std::lround(best.serial_fraction * 1000));
  for (int j = -99; j <= 99; ++j)
    if (const int fine = coarse * 100 + j; fine >= 0 && fine < 100000) try_fraction(fine / 100000.0);
  const auto ends = power_ends(set);
  const auto pw = fit_power(ends);
  best.power_base_w = pw[0], best.power_per_thread_w = pw[1];

  const ErrorStats h = cpu_held_out_errors(best, set);
  best.held_out_points = h.points, best.held_out_median_ape = h.median_ape, best.held_out_p90_ape = h.p90_ape;
  best.held_out_in_range = cpu_held_out_in_range(best, set);
  const ErrorStats pe = cpu_power_errors(set);
  best.power_points = pe.points, best.power_median_ape = pe.median_ape, best.power_p90_ape = pe.p90_ape;
  return best;
}

double cpu_tokens_per_s(const spec::CpuCoefficients& c, const CpuPoint& p, double amx_speedup) {
  return step_tokens(p) / perf::CpuInferenceModel(c, p.threads, amx_speedup).step_seconds(shape_of(p));
}

ErrorStats cpu_held_out_errors(const spec::CpuCoefficients& c, const CpuMeasuredSet& set) {
  std::vector<double> ape;
  for (const auto& p : cpu_points(set))
    if (p.held_out) ape.push_back(100 * std::abs(cpu_tokens_per_s(c, p) - p.tps) / p.tps);
  return ape_stats(ape);
}

int cpu_held_out_in_range(const spec::CpuCoefficients& c, const CpuMeasuredSet& set) {
  int n = 0;
  for (const auto& p : cpu_points(set)) {
    const double tps = cpu_tokens_per_s(c, p);
    n += p.held_out && tps >= p.tps_low && tps <= p.tps_high;
  }
  return n;
}

ErrorStats cpu_power_errors(const CpuMeasuredSet& set) {
  const auto ends = power_ends(set);
  std::vector<double> ape;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    auto rest = ends;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
    const auto w = fit_power(rest);
    ape.push_back(100 * std::abs(w[0] + w[1] * ends[i].first - ends[i].second) / ends[i].second);
  }
  return ape_stats(ape);
}

}  // namespace greenfleet::calibration
