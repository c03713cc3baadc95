#include "sim/calibration/operator_fit.hpp"

#include <cmath>
#include <stdexcept>

namespace greenfleet::calibration {

OperatorFit fit_operators(const OperatorSet& set) {
  std::vector<double> x, lin, emb;
  for (const auto& p : set.points)
    if (!p.held_out) x.push_back(static_cast<double>(p.tokens)), lin.push_back(p.linear_s), emb.push_back(p.emb_s);
  if (x.size() < 3) throw std::runtime_error("calibration: too few Vidur token counts in " + set.source);
  OperatorFit fit;
  fit.linear = fit_hinge(x, lin);
  fit.emb = fit_hinge(x, emb);
  fit.training_points = static_cast<int>(x.size());
  std::vector<double> ape;
  for (const auto& p : set.points)
    if (p.held_out)
      ape.push_back(100 * std::abs(fit.linear.at(static_cast<double>(p.tokens)) - p.linear_s) / p.linear_s);
  fit.held_out = ape_stats(ape);
  return fit;
}

AllReduceFit fit_all_reduce(const AllReduceSet& set) {
  // Sizes are fp16 elements, 2 bytes each (SOURCE.md; Vidur's collectives_impl.py).
  std::vector<std::vector<double>> f;
  std::vector<double> y, w;
  for (const auto& p : set.points)
    if (!p.held_out)
      f.push_back({1.0, 2.0 * static_cast<double>(p.elements)}), y.push_back(p.seconds),
          w.push_back(1.0 / p.seconds);
  if (f.size() < 2) throw std::runtime_error("calibration: too few all-reduce sizes in " + set.source);
  const auto c = fit_weighted_least_squares(f, y, w);
  AllReduceFit fit;
  fit.latency_s = c[0], fit.per_byte_s = c[1];
  fit.training_points = static_cast<int>(f.size());
  std::vector<double> ape;
  for (const auto& p : set.points)
    if (p.held_out)
      ape.push_back(100 * std::abs(fit.seconds(2.0 * static_cast<double>(p.elements)) - p.seconds) / p.seconds);
  fit.held_out = ape_stats(ape);
  return fit;
}

}  // namespace greenfleet::calibration
