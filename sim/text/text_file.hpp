#pragma once
#include <string>
#include <utility>
#include <vector>

namespace greenfleet::text {

// Whole-file text I/O for the files `greenfleet calibrate` writes and `validate` compares (coefficients,
// power curves).

// The file's contents; throws core::InputError naming the file when it cannot be read.
std::string read_file(const std::string& path);

// Writes `text` to `path`, creating its directories: the path is checked first (core::check_output_path), the
// text written under a temporary name beside it, synced and renamed into place, so a failure or a fatal signal
// never leaves a partial file. Throws core::InputError for a path that cannot be a file (a directory, a
// device), core::EnvironmentError when the disk refuses the write (exit 3).
void write_file(const std::string& path, const std::string& text);

// Files to write together: nothing is written until write_all(), so a command that fails half-way (bad input in
// its third data set) leaves no half-updated set of files behind.
class FileBatch {
 public:
  void add(std::string path, std::string text) { files_.emplace_back(std::move(path), std::move(text)); }
  // Checks every path, then writes every file under its temporary name, then renames them all: a bad path or
  // a full disk fails before any file is replaced.
  void write_all() const;

 private:
  std::vector<std::pair<std::string, std::string>> files_;
};

}  // namespace greenfleet::text
