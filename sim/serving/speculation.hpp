#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace greenfleet::serving {

class Instance;

// Speculative decoding across two instances (Leviathan et al. 2023, "Fast inference from transformers via
// speculative decoding", ICML): a target instance serves the request and a draft instance, on other devices,
// runs a smaller model that proposes `gamma` tokens per round; the token ids cross the link, the target verifies
// the gamma + 1 positions in one pass batched with its other work, and the accepted count comes back. Each round
// emits the accepted drafts plus one token of the target's own, so 1 to gamma + 1 tokens.
//
// How greenfleet times a round (ours, docs/ARCHITECTURE.md "Speculative decoding"): a target step that holds
// speculative requests first waits for its draft instance to draft for all of them (their draft prefills in the
// first drafting iteration, then gamma decode iterations of the draft batch, priced by the draft's perf model),
// then for the ids' round trip, then runs its own work (whole requests, prefills, and a verify chunk of gamma + 1
// tokens per speculative request, priced like a prefill chunk after its context). The draft instance is the
// target's alone (one per target instance) and runs nothing else; its KV for a request is reserved for the
// request's whole length when the target admits it.
struct Speculation {
  Instance* draft = nullptr;
  std::int32_t gamma = 4;       // tokens drafted per round
  double acceptance = 0.7;      // probability that the target accepts a drafted token (per token, independent)
  bool sampled = false;         // draw each round's accepted count from a seeded stream; else its expected value
  std::uint64_t seed = 0;       // of the draws
  double link_latency_s = 0;    // one way, target to draft (the network path's latency)
  double link_bytes_per_s = 0;  // the path's narrowest link; 0: unlimited (same device or no network)
  static constexpr double kBytesPerId = 4;  // a token id (int32)
  static constexpr std::int32_t kMaxGamma = 16;

  // Expected tokens per round, (1 - a^(gamma+1)) / (1 - a) (Leviathan et al., eq. 1).
  double expected_tokens() const {
    if (acceptance >= 1) return gamma + 1;
    return (1 - std::pow(acceptance, gamma + 1)) / (1 - acceptance);
  }
  // Fills the constants every round reads; call once the settings above are final.
  void prepare() {
    expected = expected_tokens();
    log_acceptance = acceptance > 0 && acceptance < 1 ? std::log(acceptance) : 0.0;
    for (std::int32_t k = 0; k < kTableRounds; ++k)
      expected_table[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(expected_round_tokens(expected, k));
  }
  double expected = 0, log_acceptance = 0;  // prepare()
  // Expected acceptance's tokens in each of a request's first rounds (expected_round_tokens(), at most gamma + 1):
  // read once per request and round where the products cost more.
  static constexpr std::int32_t kTableRounds = 512;
  std::array<std::uint8_t, kTableRounds> expected_table{};  // prepare()
  std::int32_t expected_tokens_at(std::int32_t round) const {
    return round < kTableRounds ? expected_table[static_cast<std::size_t>(round)]
                                : expected_round_tokens(expected, round);
  }
  // Tokens round `round` (0-based) of request `id` emits, before the cap at its remaining output. Expected
  // acceptance spreads E tokens per round over integers: floor((k + 1) E) - floor(k E), so k rounds emit
  // floor(k E). Sampled acceptance accepts each draft with probability `acceptance` until the first rejection,
  // from a stream keyed by (seed, request, round): the same whatever order instances step in.
  std::int32_t round_tokens(std::uint64_t id, std::int32_t round) const {
    if (!sampled) return expected_tokens_at(round);
    if (acceptance <= 0) return 1;
    if (acceptance >= 1) return gamma + 1;
    std::uint64_t z = seed ^ (id * 0x9e3779b97f4a7c15ULL) ^ (static_cast<std::uint64_t>(round) << 32);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;  // splitmix64's finaliser
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const double u = static_cast<double>((z >> 11) + 1) * 0x1.0p-53;  // in (0, 1]
    // P(accepted >= m) = a^m: the accepted count is floor(ln u / ln a), at most gamma.
    const double accepted = std::floor(std::log(u) / log_acceptance);
    return 1 + static_cast<std::int32_t>(std::min<double>(accepted, gamma));
  }
  // Expected acceptance's tokens in round `round`, `e` being `expected`.
  static std::int32_t expected_round_tokens(double e, std::int32_t round) {
    // Both products are non-negative, so truncation is their floor (without a call to floor()).
    return static_cast<std::int32_t>(static_cast<std::int64_t>((round + 1) * e) -
                                     static_cast<std::int64_t>(round * e));
  }
  // The ids' round trip for `seqs` sequences: gamma ids out, the accepted count and the target's token back.
  double link_seconds(std::int32_t seqs) const {
    const double bytes = static_cast<double>(seqs) * (gamma + 2) * kBytesPerId;
    return 2 * link_latency_s + (link_bytes_per_s > 0 ? bytes / link_bytes_per_s : 0.0);
  }
};

}  // namespace greenfleet::serving
