#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/metrics/log_histogram.hpp"

using namespace greenfleet;

TEST_CASE("histogram quantiles are within 0.05% of the exact order statistic") {
  metrics::LogHistogram h;
  core::Rng rng(5);
  std::vector<std::int64_t> values;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<std::int64_t>(rng.lognormal(18, 2));  // ns, spanning microseconds to hours
    values.push_back(v);
    h.add(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999}) {
    const auto exact = values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1];
    CHECK(static_cast<double>(h.quantile(q)) == doctest::Approx(static_cast<double>(exact)).epsilon(5e-4));
  }
  CHECK(h.quantile(1.0) == values.back());
  CHECK(h.count() == 100000);
}

TEST_CASE("small values are exact") {
  metrics::LogHistogram h;
  for (int v : {5, 1, 3, 2, 4}) h.add(v);
  CHECK(h.quantile(0.5) == 3);
  CHECK(h.quantile(0.0) == 1);
  CHECK(h.mean() == 3.0);
}
