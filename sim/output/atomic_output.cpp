#include "sim/output/atomic_output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"

namespace greenfleet::output {

namespace fs = std::filesystem;

void check_run_output_path(const std::string& path, const std::vector<std::string>& inputs) {
  core::check_output_path(path, inputs, "output file", core::kHdf5Signature);
  // An HDF5 file from elsewhere (a data set) begins like ours: only one with a run's root attribute
  // greenfleet_version (runner/report.cpp) is an earlier output that may be replaced.
  if (std::error_code ec; fs::file_size(path, ec) > 0 && !ec) {
    bool ours = false;
    try {
      const h5::Handle old = h5::open_file_readonly(path);
      ours = H5Aexists(old.get(), "greenfleet_version") > 0;
    } catch (const std::exception&) {
    }  // unreadable: not one of ours (greenfleet renames only complete files into place)
    if (!ours)
      throw core::InputError(
          fmt::format("{}: the output file exists and is not a complete greenfleet output (an HDF5 file "
                      "without the root attribute greenfleet_version, or one that cannot be read); greenfleet "
                      "replaces only its own outputs: remove the file or choose another path",
                      path));
  }
}

AtomicOutput::AtomicOutput(const std::string& final_path, const std::vector<std::string>& inputs)
    : final_(final_path) {
  check_run_output_path(final_path, inputs);
  temp_ = core::temporary_path(final_path);
  // Created by hand first, so a refusal carries its system error (permission, read-only, full disk).
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) core::throw_write_error(fmt::format("cannot create the output file {}", temp_), errno);
  ::close(fd);
  core::register_temporary(temp_);
  try {
    file_ = h5::create_file(temp_);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp_, ec);
    core::forget_temporary(temp_);
    throw;
  }
}

void AtomicOutput::flush() {
  errno = 0;
  h5::check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "flushing the file");
}

void AtomicOutput::close() {
  h5::close_file(file_);
  // The kernel may accept writes it later cannot store (network and some quota-limited file systems): sync.
  const int fd = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) core::throw_write_error(fmt::format("cannot reopen the output file {}", temp_), errno);
  const int synced = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (synced != 0 && err != EINVAL && err != EROFS)
    core::throw_write_error(fmt::format("writing the output file {}", temp_), err);
}

void AtomicOutput::publish() {
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) core::throw_write_error(fmt::format("cannot rename {} to {}", temp_, final_), ec.value());
  core::forget_temporary(temp_);
  committed_ = true;
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  file_.reset();
  std::error_code ec;
  fs::remove(temp_, ec);
  core::forget_temporary(temp_);
}

}  // namespace greenfleet::output
