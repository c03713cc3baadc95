#include "sim/calibration/stack_fit.hpp"

#include <cmath>
#include <stdexcept>

#include "sim/calibration/least_squares.hpp"
#include "sim/calibration/operator_model.hpp"

namespace greenfleet::calibration {

StackFit fit_stack(const std::string& architecture, const std::string& source,
                   const std::vector<std::pair<OperatorModel, MeasuredSet>>& bare, double attn_bandwidth_factor) {
  std::vector<std::vector<double>> f;
  std::vector<double> y, w, base;
  for (const auto& [m, set] : bare) {
    for (const auto& p : set.points) {
      if (p.held_out || p.excluded) continue;
      const double tokens = static_cast<double>(p.batch) * p.prompt;
      const perf::BatchShape pre = whole_prompts_prefill(static_cast<std::int64_t>(tokens), p.prompt);
      base.push_back(m.step_seconds(pre));
      f.push_back({1.0, m.attention_flop_seconds(pre.prefill_attn_ctx), m.ring_hops(), m.ring_seconds(tokens)});
      y.push_back(p.prefill_s);
      if (p.truncated) continue;  // its decode time belongs to an unknown generation length
      // The measured decode time is the mean over output - 1 iterations from context batch x (prompt + 1).
      const double mean_ctx = static_cast<double>(p.batch) * (p.prompt + 1) + p.batch * (p.output - 2) / 2.0;
      base.push_back(m.token_seconds(p.batch, p.batch) + attn_bandwidth_factor * m.kv_read_seconds(mean_ctx));
      f.push_back({1.0, 0.0, m.ring_hops(), m.ring_seconds(p.batch)});
      y.push_back(p.decode_s);
    }
  }
  if (f.size() < 4)
    throw std::runtime_error("calibration: too few SplitwiseSim steps to fit the " + architecture + " stack");
  std::vector<double> target(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) target[i] = y[i] - base[i], w.push_back(1.0 / y[i]);
  const auto c = fit_weighted_least_squares(f, target, w);
  StackFit s;
  s.architecture = architecture, s.source = source;
  s.step_overhead_s = c[0], s.attn_compute_factor = c[1], s.attn_bandwidth_factor = attn_bandwidth_factor;
  s.hop_latency_s = c[2], s.ring_byte_factor = c[3];
  s.training_points = static_cast<int>(y.size());
  std::vector<double> ape;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double pred = base[i];
    for (std::size_t j = 0; j < c.size(); ++j) pred += c[j] * f[i][j];
    ape.push_back(100 * std::abs(pred - y[i]) / y[i]);
  }
  s.training = ape_stats(ape);
  return s;
}

}  // namespace greenfleet::calibration
