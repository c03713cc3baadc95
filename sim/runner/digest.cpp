#include "sim/runner/digest.hpp"

#include <fmt/format.h>

#include <fstream>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::runner {

std::string Fnv1a64::text() const { return fmt::format("fnv1a64:{:016x}", h_); }

void WorkloadDigest::on_request_begin(std::uint32_t, const serving::RequestState& r) {
  h_.add_word(static_cast<std::uint64_t>(r.spec.arrival));
  h_.add_word(static_cast<std::uint64_t>(static_cast<std::uint32_t>(r.spec.prompt_tokens)) |
              static_cast<std::uint64_t>(static_cast<std::uint32_t>(r.spec.output_tokens)) << 32 |
              static_cast<std::uint64_t>(r.spec.cls) << 62);
}

std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::InputError(fmt::format("{}: cannot read the trace to digest it", path));
  Fnv1a64 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.add(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  return h.text();
}

}  // namespace greenfleet::runner
