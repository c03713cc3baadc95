#pragma once
#include <stdexcept>
#include <string>

namespace greenfleet::core {

// Bad user input (experiment YAML, catalogs, traces, CI files). The CLI maps it to exit code 2; the message
// already names the file, line, column and key path where they are known.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The environment failed, not the input: a full or read-only disk, an unwritable directory, a closed standard
// output, memory exhausted. The CLI maps it to exit code 3; the message says what failed and what to do.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run was interrupted (SIGINT/SIGTERM): no output file is kept.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace greenfleet::core
