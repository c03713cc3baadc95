#pragma once
#include <cmath>
#include <cstdint>
#include <string_view>

namespace greenfleet::core {

// xoshiro256** seeded through splitmix64. Distributions are implemented here rather than with <random>'s,
// whose algorithms differ between standard libraries: the same seed must give the same trace everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  // An independent stream per subsystem: mixing the experiment seed with the stream's name means adding a
  // new random consumer never shifts the draws of the existing ones.
  static Rng stream(std::uint64_t seed, std::string_view name) {
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return Rng(seed ^ (h * 0x9E3779B97F4A7C15ULL));
  }

  void reseed(std::uint64_t seed) {
    for (auto& word : s_) word = splitmix64(seed);
    has_spare_ = false;
  }

  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1]: safe for log().
  double uniform_pos() { return 1.0 - uniform(); }
  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-64 * n, negligible here).
  std::uint64_t below(std::uint64_t n) {
    __extension__ typedef unsigned __int128 u128;
    return static_cast<std::uint64_t>((static_cast<u128>(next_u64()) * n) >> 64);
  }

  double exponential(double rate) { return -std::log(uniform_pos()) / rate; }

  double normal() {
    // Box-Muller: each pair of uniforms gives two normals; the second is kept for the next call. Still a pure
    // function of the stream's seed and call count.
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform_pos();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

  double lognormal(double mu, double sigma) { return std::exp(mu + sigma * normal()); }

  // Gamma(shape k, scale theta) by Marsaglia and Tsang (2000); k < 1 uses the boost k+1 then U^(1/k).
  double gamma(double k, double theta) {
    if (k < 1.0) return gamma(k + 1.0, theta) * std::pow(uniform_pos(), 1.0 / k);
    const double d = k - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_pos();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v * theta;
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace greenfleet::core
