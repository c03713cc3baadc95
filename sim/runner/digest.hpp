#pragma once
#include <cstdint>
#include <string>

#include "sim/serving/observer.hpp"

namespace greenfleet::runner {

// 64-bit FNV-1a, the hash behind the digests stored in every output (root attributes `workload_digest` and
// `trace_digest`): not cryptographic, it only tells whether two runs were fed the same requests or trace.
class Fnv1a64 {
 public:
  void add(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
  }
  // Little-endian bytes of an integer, so the digest is the same on every platform.
  template <class T>
  void add_le(T v) {
    unsigned char b[sizeof(T)];
    auto u = static_cast<std::uint64_t>(v);
    for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(u >> (8 * i));
    add(b, sizeof(T));
  }
  // The FNV-1a step applied to a whole 64-bit word at once: eight times fewer dependent multiplies than its
  // bytes one by one, for the digest taken of every request (a different hash than byte-wise FNV-1a over the same
  // bytes, and just as deterministic).
  void add_word(std::uint64_t w) { h_ = (h_ ^ w) * 0x100000001b3ULL; }
  std::uint64_t value() const { return h_; }
  std::string text() const;  // "fnv1a64:" + 16 hex digits

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

// Hashes the requests actually fed to the fleet, in arrival order: for each, two 64-bit words, arrival_ns and
// prompt | output << 32 | class << 62 (prompt and output are below 2^31, so the fields do not overlap), each
// through Fnv1a64::add_word.
class WorkloadDigest final : public serving::ServingObserver {
 public:
  unsigned signals() const override { return kRequests; }
  void on_request_begin(std::uint32_t slot, const serving::RequestState& r) override;
  std::string text() const { return h_.text(); }

 private:
  Fnv1a64 h_;
};

// "fnv1a64:..." of a file's bytes. Throws core::InputError when it cannot be read.
std::string file_digest(const std::string& path);

}  // namespace greenfleet::runner
