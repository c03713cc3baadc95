#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include <cstdio>

#include "sim/catalog/catalog.hpp"

namespace greenfleet::test {

// The project's own catalog, loaded once for all tests.
inline const catalog::Catalog& catalog() {
  static const catalog::Catalog c = catalog::Catalog::load(GREENFLEET_SOURCE_DIR);
  return c;
}

// A scratch directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("greenfleet-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string path(const std::string& name = "") const { return (path_ / name).string(); }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::filesystem::path path_;
};

// Public data sets live outside the repository; tests that need them skip when the folder is absent.
inline std::string shared_data_dir() {
  const auto p = std::filesystem::path(GREENFLEET_SOURCE_DIR) / ".." / "shared" / "data";
  // A data directory that does not exist means no data: the cases that need it skip.
  if (const char* env = std::getenv("GREENFLEET_DATA"); env && *env)
    return std::filesystem::is_directory(env) ? std::string(env) : std::string();
  return std::filesystem::is_directory(p) ? p.string() : std::string();
}

// Reports the running test case as skipped, saying why; the caller returns. Under ctest each test case runs
// in its own process with GREENFLEET_TEST_EXIT_ON_SKIP set, and exits with 77, which ctest counts as a skip
// (SKIP_RETURN_CODE), so data-dependent cases show up as skipped rather than as silent passes.
inline void skip(const std::string& why) {
  MESSAGE("skipped: " << why);
  if (const char* e = std::getenv("GREENFLEET_TEST_EXIT_ON_SKIP"); e && *e == '1') {
    std::printf("skipped: %s\n", why.c_str());
    std::fflush(stdout);
    std::_Exit(77);
  }
}

// The whole file as a string (empty when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace greenfleet::test
