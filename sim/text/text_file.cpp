#include "sim/text/text_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"

namespace greenfleet::text {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw core::InputError(fmt::format("{}: is a directory, not a file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::InputError(fmt::format("{}: cannot open for reading", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw core::InputError(fmt::format("{}: read error", path));
  return ss.str();
}

namespace {

void discard(const std::string& temp) {
  ::unlink(temp.c_str());
  core::forget_temporary(temp);
}

// Writes `text` to PATH.tmp-PID, synced, registered for removal on fatal signals; returns its name. On failure
// nothing is left and core::EnvironmentError says why.
std::string write_temporary(const std::string& path, const std::string& text) {
  const std::string temp = core::temporary_path(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) core::throw_write_error(fmt::format("{}: cannot create {}", path, temp), errno);
  core::register_temporary(temp);
  auto fail = [&](int err) {
    ::close(fd);
    discard(temp);
    core::throw_write_error(fmt::format("{}: cannot write", path), err);
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) fail(errno);
  if (::close(fd) != 0) {
    const int err = errno;
    discard(temp);
    core::throw_write_error(fmt::format("{}: cannot write", path), err);
  }
  return temp;
}

void publish(const std::string& temp, const std::string& path) {
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    discard(temp);
    core::throw_write_error(fmt::format("cannot rename {} to {}", temp, path), ec.value());
  }
  core::forget_temporary(temp);
}

}  // namespace

void write_file(const std::string& path, const std::string& text) {
  core::check_output_path(path, {}, "output file");
  publish(write_temporary(path, text), path);
}

void FileBatch::write_all() const {
  // Two files of one path would share a temporary name: the second rename would fail after the first file was
  // replaced. Callers write each path once; a repeat is a bug, found before anything is written.
  std::set<std::string> paths;
  for (const auto& f : files_)
    if (!paths.insert(f.first).second)
      throw std::logic_error(fmt::format("{}: written twice in one batch of output files", f.first));
  for (const auto& f : files_) core::check_output_path(f.first, {}, "output file");
  // Every file is written in full before any is renamed, so a full disk half-way replaces none of them.
  std::vector<std::string> temps;
  try {
    for (const auto& [path, text] : files_) temps.push_back(write_temporary(path, text));
  } catch (...) {
    for (const auto& t : temps) discard(t);
    throw;
  }
  for (std::size_t i = 0; i < files_.size(); ++i) publish(temps[i], files_[i].first);
}

}  // namespace greenfleet::text
