#include "sim/metrics/log_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace greenfleet::metrics {

std::size_t LogHistogram::index_of(std::uint64_t v) {
  constexpr std::uint64_t kLinear = 1ULL << (kSubBits + 1);
  if (v < kLinear) return static_cast<std::size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= kSubBits + 1
  const int shift = msb - kSubBits;
  const std::uint64_t sub = (v >> shift) & ((1ULL << kSubBits) - 1);
  return static_cast<std::size_t>(kLinear + static_cast<std::uint64_t>(shift - 1) * (1ULL << kSubBits) + sub);
}

std::uint64_t LogHistogram::midpoint_of(std::size_t index) {
  constexpr std::uint64_t kLinear = 1ULL << (kSubBits + 1);
  if (index < kLinear) return index;
  const std::uint64_t rest = index - kLinear;
  const int shift = static_cast<int>(rest >> kSubBits) + 1;
  const std::uint64_t sub = rest & ((1ULL << kSubBits) - 1);
  const std::uint64_t low = ((1ULL << kSubBits) | sub) << shift;
  return low + (1ULL << shift) / 2;
}

void LogHistogram::add(std::int64_t v) {
  if (v < 0) v = 0;
  const std::size_t i = index_of(static_cast<std::uint64_t>(v));
  if (i >= buckets_.size()) buckets_.resize(i + 1, 0);
  ++buckets_[i];
  ++count_;
  sum_ += static_cast<double>(v);
  max_ = std::max(max_, v);
}

std::int64_t LogHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  const std::uint64_t rank =
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * count_)));
  if (rank >= count_) return max_;  // the largest sample is known exactly
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min<std::int64_t>(static_cast<std::int64_t>(midpoint_of(i)), max_);
  }
  return max_;
}

}  // namespace greenfleet::metrics
