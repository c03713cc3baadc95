#pragma once
#include <string>
#include <utility>
#include <vector>

namespace greenfleet::text {

// Whole-file text I/O for the files `greenfleet calibrate` writes and `validate` compares (coefficients,
// power curves).

// The file's contents; throws core::InputError naming the file when it cannot be read.
std::string read_file(const std::string& path);

// Writes `text` to `path`, creating its directories: written under a temporary name beside it and renamed
// into place, so a failure never leaves a partial file. Throws core::InputError naming the file when it
// cannot be written (so the command exits non-zero), std::runtime_error when the rename fails.
void write_file(const std::string& path, const std::string& text);

// Files to write together: nothing is written until write_all(), so a command that fails half-way (bad input in
// its third data set) leaves no half-updated set of files behind.
class FileBatch {
 public:
  void add(std::string path, std::string text) { files_.emplace_back(std::move(path), std::move(text)); }
  void write_all() const {
    for (const auto& [path, text] : files_) write_file(path, text);
  }

 private:
  std::vector<std::pair<std::string, std::string>> files_;
};

}  // namespace greenfleet::text
