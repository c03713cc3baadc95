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

  // Standard normal by the ziggurat method (Marsaglia and Tsang, 2000; 128 layers): one 32-bit draw and a table
  // lookup in about 99% of calls, no transcendental functions on that path.
  double normal() {
    const Ziggurat& z = ziggurat();
    for (;;) {
      const auto hz = static_cast<std::int32_t>(next_u64() >> 32);
      const std::uint32_t iz = static_cast<std::uint32_t>(hz) & 127u;
      const std::int64_t mag = hz < 0 ? -static_cast<std::int64_t>(hz) : hz;
      if (mag < z.k[iz]) return hz * z.w[iz];
      const double x = hz * z.w[iz];
      if (iz == 0) {  // the tail beyond r
        double tx, ty;
        do {
          tx = -std::log(uniform_pos()) / Ziggurat::kR;
          ty = -std::log(uniform_pos());
        } while (ty + ty < tx * tx);
        return hz > 0 ? Ziggurat::kR + tx : -Ziggurat::kR - tx;
      }
      if (z.f[iz] + uniform() * (z.f[iz - 1] - z.f[iz]) < std::exp(-0.5 * x * x)) return x;
    }
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
  struct Ziggurat {
    static constexpr double kR = 3.442619855899;
    std::int64_t k[128];
    double w[128], f[128];
    Ziggurat() {
      const double m1 = 2147483648.0, vn = 9.91256303526217e-3;
      double dn = kR, tn = dn;
      const double q = vn / std::exp(-0.5 * dn * dn);
      k[0] = static_cast<std::int64_t>((dn / q) * m1);
      k[1] = 0;
      w[0] = q / m1;
      w[127] = dn / m1;
      f[0] = 1.0;
      f[127] = std::exp(-0.5 * dn * dn);
      for (int i = 126; i >= 1; --i) {
        dn = std::sqrt(-2.0 * std::log(vn / dn + std::exp(-0.5 * dn * dn)));
        k[i + 1] = static_cast<std::int64_t>((dn / tn) * m1);
        tn = dn;
        f[i] = std::exp(-0.5 * dn * dn);
        w[i] = dn / m1;
      }
    }
  };
  static const Ziggurat& ziggurat() {
    static const Ziggurat z;
    return z;
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

}  // namespace greenfleet::core
