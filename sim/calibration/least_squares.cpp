#include "sim/calibration/least_squares.hpp"

#include <cmath>
#include <cstdint>
#include <numeric>

namespace greenfleet::calibration {

namespace {

// Solves A x = b (n x n) by Gaussian elimination with partial pivoting; false when singular.
bool solve(std::vector<std::vector<double>> a, std::vector<double> b, std::vector<double>& x) {
  const std::size_t n = b.size();
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t p = c;
    for (std::size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    std::swap(a[c], a[p]);
    std::swap(b[c], b[p]);
    if (a[c][c] == 0) return false;
    for (std::size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (std::size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  x.assign(n, 0.0);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= a[i][k] * x[k];
    x[i] = s / a[i][i];
  }
  return true;
}

double weighted_sse(const std::vector<double>& pred, const std::vector<double>& y, const std::vector<double>& w) {
  double e = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const double r = w[i] * (pred[i] - y[i]);
    e += r * r;
  }
  return e;
}

}  // namespace

std::vector<double> fit_weighted_least_squares(const std::vector<std::vector<double>>& features,
                                               const std::vector<double>& targets,
                                               const std::vector<double>& weights) {
  const std::size_t k = features.front().size();
  std::vector<double> best(k, 0.0);
  double best_err = INFINITY;
  for (std::uint32_t mask = 1; mask < (1u << k); ++mask) {
    std::vector<std::size_t> idx;
    for (std::size_t j = 0; j < k; ++j)
      if (mask & (1u << j)) idx.push_back(j);
    if (idx.size() > features.size()) continue;
    // Each feature scaled by its largest value keeps the normal equations well conditioned.
    std::vector<double> scale(idx.size(), 0.0);
    for (const auto& f : features)
      for (std::size_t j = 0; j < idx.size(); ++j) scale[j] = std::max(scale[j], std::abs(f[idx[j]]));
    if (std::any_of(scale.begin(), scale.end(), [](double v) { return v == 0; })) continue;
    std::vector<std::vector<double>> a(idx.size(), std::vector<double>(idx.size(), 0.0));
    std::vector<double> b(idx.size(), 0.0);
    for (std::size_t r = 0; r < features.size(); ++r) {
      const double w2 = weights[r] * weights[r];
      for (std::size_t i = 0; i < idx.size(); ++i) {
        const double xi = features[r][idx[i]] / scale[i];
        b[i] += w2 * xi * targets[r];
        for (std::size_t j = 0; j < idx.size(); ++j) a[i][j] += w2 * xi * (features[r][idx[j]] / scale[j]);
      }
    }
    std::vector<double> x;
    if (!solve(a, b, x)) continue;
    std::vector<double> coef(k, 0.0);
    bool negative = false;
    for (std::size_t i = 0; i < idx.size(); ++i) coef[idx[i]] = x[i] / scale[i], negative |= coef[idx[i]] < 0;
    if (negative) continue;
    std::vector<double> pred(features.size(), 0.0);
    for (std::size_t r = 0; r < features.size(); ++r)
      for (std::size_t j = 0; j < k; ++j) pred[r] += coef[j] * features[r][j];
    const double err = weighted_sse(pred, targets, weights);
    if (err < best_err) best_err = err, best = coef;
  }
  return best;
}

std::vector<double> fit_relative_least_squares(const std::vector<std::vector<double>>& features,
                                               const std::vector<double>& targets) {
  std::vector<double> weights(targets.size());
  for (std::size_t r = 0; r < targets.size(); ++r) weights[r] = 1.0 / targets[r];
  return fit_weighted_least_squares(features, targets, weights);
}

HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& offset,
                    const std::vector<double>& weights) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  HingeLine best;
  double best_err = INFINITY;
  // The floor group is order[0, split); the line group, which needs two points, the rest.
  for (std::size_t split = 0; split + 2 <= order.size(); ++split) {
    if (split > 0 && x[order[split]] == x[order[split - 1]]) continue;  // split between distinct x only
    double num = 0, den = 0;
    for (std::size_t i = 0; i < split; ++i) {
      const double w2 = weights[order[i]] * weights[order[i]];
      num += w2 * y[order[i]], den += w2;
    }
    HingeLine h;
    h.floor = split > 0 ? num / den : 0.0;
    std::vector<std::vector<double>> f;
    std::vector<double> t, w;
    for (std::size_t i = split; i < order.size(); ++i) {
      const std::size_t r = order[i];
      f.push_back({1.0, x[r]}), t.push_back(y[r] - offset[r]), w.push_back(weights[r]);
    }
    const auto line = fit_weighted_least_squares(f, t, w);
    h.fixed = line[0], h.slope = line[1];
    std::vector<double> pred(x.size());
    for (std::size_t r = 0; r < x.size(); ++r) pred[r] = std::max(h.floor, h.fixed + h.slope * x[r] + offset[r]);
    const double err = weighted_sse(pred, y, weights);
    if (err < best_err) best_err = err, best = h;
  }
  return best;
}

HingeLine fit_hinge(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> w(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) w[i] = 1.0 / y[i];
  return fit_hinge(x, y, std::vector<double>(x.size(), 0.0), w);
}

}  // namespace greenfleet::calibration
