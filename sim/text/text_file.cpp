#include "sim/text/text_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <fstream>
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

void write_file(const std::string& path, const std::string& text) {
  core::check_output_path(path, {}, "output file");
  const std::string temp = core::temporary_path(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) core::throw_write_error(fmt::format("cannot create {}", temp), errno);
  core::register_temporary(temp);
  auto fail = [&](const std::string& what, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    core::forget_temporary();
    core::throw_write_error(what, err);
  };
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(fmt::format("writing {}", path), errno);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) fail(fmt::format("writing {}", path), errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    core::forget_temporary();
    core::throw_write_error(fmt::format("writing {}", path), err);
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    ::unlink(temp.c_str());
    core::forget_temporary();
    core::throw_write_error(fmt::format("cannot rename {} to {}", temp, path), ec.value());
  }
  core::forget_temporary();
}

void FileBatch::write_all() const {
  for (const auto& f : files_) core::check_output_path(f.first, {}, "output file");
  for (const auto& [path, text] : files_) write_file(path, text);
}

}  // namespace greenfleet::text
