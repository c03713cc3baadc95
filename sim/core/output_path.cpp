#include "sim/core/output_path.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "sim/core/error.hpp"

namespace greenfleet::core {

namespace fs = std::filesystem;

namespace {

const char* kind_of(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return "a directory";
  if (S_ISCHR(st.st_mode)) return "a character device";
  if (S_ISBLK(st.st_mode)) return "a block device";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

// The temporary files a fatal signal removes: fixed buffers, read by the handler with async-signal-safe calls.
constexpr int kMaxTemporaries = 64;
char g_temp[kMaxTemporaries][4096];
volatile std::sig_atomic_t g_have_temp[kMaxTemporaries] = {};

constexpr int kFatalSignals[] = {SIGHUP,  SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM,
                                 SIGPROF, SIGSEGV, SIGBUS,  SIGFPE,  SIGILL,  SIGABRT, SIGTRAP, SIGSYS};

extern "C" void remove_temporary_and_die(int sig) {
  for (int i = 0; i < kMaxTemporaries; ++i) {
    if (!g_have_temp[i]) continue;
    ::unlink(g_temp[i]);
    g_have_temp[i] = 0;
  }
  std::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_handlers() {
  static const bool installed = [] {
    for (int sig : kFatalSignals) {
      struct sigaction sa {};
      sa.sa_handler = remove_temporary_and_die;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESETHAND;
      struct sigaction old {};
      ::sigaction(sig, nullptr, &old);
      if (old.sa_handler == SIG_IGN) continue;  // a signal the caller ignores (nohup) stays ignored
      ::sigaction(sig, &sa, nullptr);
    }
    std::signal(SIGXFSZ, SIG_IGN);
    return true;
  }();
  (void)installed;
}

}  // namespace

std::string temporary_path(const std::string& path) { return fmt::format("{}.tmp-{}", path, ::getpid()); }

[[noreturn]] void throw_write_error(const std::string& what, int err) {
  const char* advice = "free space or choose another output directory";
  if (err == EACCES || err == EPERM || err == EROFS) advice = "choose a writable output directory";
  if (err == EFBIG) advice = "raise the file-size limit (ulimit -f) or write less (output.requests: false)";
  throw EnvironmentError(fmt::format("{}: {} ({})", what, std::strerror(err), advice));
}

void check_output_path(const std::string& path, const std::vector<std::string>& inputs, const std::string& what,
                       const std::string& replaces) {
  if (path.empty()) throw InputError(fmt::format("empty path for the {}", what));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      throw InputError(fmt::format("{}: the {} is {}; give a file name", path, what, kind_of(st)));
    for (const auto& in : inputs) {
      struct stat is {};
      if (!in.empty() && ::stat(in.c_str(), &is) == 0 && is.st_dev == st.st_dev && is.st_ino == st.st_ino)
        throw InputError(
            fmt::format("{}: the {} is one of the run's inputs ({}); it would be overwritten", path, what, in));
    }
    // The file is replaced by a rename, which its permissions do not stop: one made read-only (no write bit for
    // anyone) was protected on purpose and is left alone.
    if ((st.st_mode & 0222) == 0)
      throw InputError(
          fmt::format("{}: the {} exists and is read-only (mode {:04o}); greenfleet does not replace a "
                      "protected file: remove it or choose another path",
                      path, what, st.st_mode & 07777));
    // Only a file this command wrote before is replaced: anything else (a typo naming a document, a data set)
    // would be lost without a word.
    if (!replaces.empty() && st.st_size > 0) {
      std::string head(replaces.size(), '\0');
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      const ssize_t got = fd < 0 ? -1 : ::read(fd, head.data(), head.size());
      if (fd >= 0) ::close(fd);
      if (got != static_cast<ssize_t>(head.size()) || head != replaces)
        throw InputError(
            fmt::format("{}: the {} exists and is not one that greenfleet wrote (it does not begin "
                        "as one does); greenfleet replaces only its own outputs: remove the file or "
                        "choose another path",
                        path, what));
    }
  }
  if (!path.empty() && path.back() == '/')
    throw InputError(fmt::format("{}: the {} names a directory; give a file name", path, what));
  const fs::path parent = fs::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) == 0 && !S_ISDIR(ds.st_mode))
    throw InputError(
        fmt::format("{}: cannot create the {}: {} is {}, not a directory", path, what, dir, kind_of(ds)));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec == std::errc::not_a_directory || ec == std::errc::file_exists)
    throw InputError(fmt::format("{}: cannot create the {}: a part of {} is not a directory", path, what, dir));
  if (ec)
    throw_write_error(fmt::format("{}: cannot create the {}: cannot create the directory {}", path, what, dir),
                      ec.value());
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw_write_error(fmt::format("{}: cannot create the {} in the directory {}", path, what, dir), errno);
}

void register_temporary(const std::string& path) {
  install_handlers();
  if (path.size() >= sizeof(g_temp[0])) return;  // too long to keep: no removal on signals
  for (int i = 0; i < kMaxTemporaries; ++i) {
    if (g_have_temp[i]) continue;
    std::memcpy(g_temp[i], path.c_str(), path.size() + 1);
    g_have_temp[i] = 1;
    return;
  }
}

void forget_temporary(const std::string& path) {
  for (int i = 0; i < kMaxTemporaries; ++i)
    if (g_have_temp[i] && path == g_temp[i]) g_have_temp[i] = 0;
}

}  // namespace greenfleet::core
