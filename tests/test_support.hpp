#pragma once
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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
  if (const char* env = std::getenv("GREENFLEET_DATA"); env && *env) return env;
  return std::filesystem::is_directory(p) ? p.string() : std::string();
}

// The whole file as a string (empty when it cannot be read).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace greenfleet::test
