#pragma once
#include <cstdint>
#include <vector>

namespace greenfleet::metrics {

// Percentiles in constant memory: non-negative integer samples (nanoseconds) in log-linear buckets of 1/1024
// relative width, so any reported quantile is within 0.05% of the exact order statistic (values below 2048 are
// exact). Memory does not grow with the number of requests.
class LogHistogram {
 public:
  void add(std::int64_t v);
  std::uint64_t count() const { return count_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  std::int64_t max() const { return max_; }
  // Nearest-rank quantile q in [0, 1]; 0 when empty.
  std::int64_t quantile(double q) const;

 private:
  static constexpr int kSubBits = 10;
  static std::size_t index_of(std::uint64_t v);
  static std::uint64_t midpoint_of(std::size_t index);
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace greenfleet::metrics
