#pragma once
// Shared by the libFuzzer harnesses (tests/fuzz/README.md): input goes through a file, because the readers take
// paths; core::InputError is the expected outcome for bad input, anything else escaping is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "sim/core/error.hpp"

namespace greenfleet::fuzz {

// A per-process scratch file holding `data`; reused by every input of the run (one extension per harness) and
// removed at exit.
inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& extension) {
  static const std::string path = "/tmp/greenfleet_fuzz_" + std::to_string(::getpid()) + extension;
  static const bool cleanup = [] { return std::atexit([] { std::remove(path.c_str()); }) == 0; }();
  (void)cleanup;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Runs `body`; an InputError is a good answer, any other exception aborts (libFuzzer records the input).
template <class Body>
int expect_input_errors_only(Body body) {
  try {
    body();
  } catch (const core::InputError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception other than InputError escaped: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "finding: a non-standard exception escaped\n");
    std::abort();
  }
  return 0;
}

}  // namespace greenfleet::fuzz
