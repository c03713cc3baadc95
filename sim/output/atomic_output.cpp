#include "sim/output/atomic_output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "sim/core/error.hpp"

namespace greenfleet::output {

namespace fs = std::filesystem;

AtomicOutput::AtomicOutput(const std::string& final_path) : final_(final_path) {
  const fs::path parent = fs::path(final_path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec)
    throw core::InputError(fmt::format("{}: cannot create output directory: {}", parent.string(), ec.message()));
  temp_ = fmt::format("{}.tmp-{}", final_path, ::getpid());
  try {
    file_ = h5::create_file(temp_);
  } catch (const std::exception&) {
    throw core::InputError(fmt::format("{}: cannot create output file", temp_));
  }
}

void AtomicOutput::commit() {
  file_.reset();  // flush and close before the rename makes it visible
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", temp_, final_, ec.message()));
  committed_ = true;
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  file_.reset();
  std::error_code ec;
  fs::remove(temp_, ec);
}

}  // namespace greenfleet::output
