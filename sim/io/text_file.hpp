#pragma once
#include <string>

namespace greenfleet::io {

// Whole-file text I/O for the files `greenfleet calibrate` writes and `validate` compares (coefficients,
// power curves).

// The file's contents; throws core::InputError naming the file when it cannot be read.
std::string read_file(const std::string& path);

// Writes `text` to `path`, creating its directories: written under a temporary name beside it and renamed
// into place, so a failure never leaves a partial file. Throws core::InputError naming the file when it
// cannot be written (so the command exits non-zero), std::runtime_error when the rename fails.
void write_file(const std::string& path, const std::string& text);

}  // namespace greenfleet::io
