#include <fmt/format.h>
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "greenfleet/version.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"

namespace {

constexpr const char* kUsage = R"(greenfleet: carbon-aware LLM inference datacenter simulator

usage: greenfleet <command> [options]

commands:
  run EXP.yaml [-o OUT.h5] [--set key.path=value]... [--quiet]
                   simulate an experiment, print a summary table, write HDF5
  list [components|policies|gpus|cpus|servers|models]
                   show registered components with their parameters, or catalog entries
  summary OUT.h5 [--json]
                   print the summary stored in an output file
  compare A.h5 B.h5 [C.h5...] | A1.h5 A2.h5 -- B1.h5 B2.h5 [--format table|markdown|csv|json]
                   key metrics side by side with differences and 95% confidence intervals
  sweep EXP.yaml [-j N] [-o DIR] [--set key.path=value]...
                   run every point of the experiment's sweep: block, write DIR/index.csv (mpirun: over ranks)
  calibrate [--data-dir DIR]
                   fit the calibrated step-time models to measurements, write models/calibration/
  validate [--data-dir DIR]
                   errors of the committed calibrated models on held-out measurements

options:
  --help           this text; `greenfleet <command> --help` for a command's options
  --version        version and git revision
)";

}  // namespace

int main(int argc, char** argv) {
  // HDF5 allocates and frees chunk-sized buffers at every flush; above glibc's default 128 KiB threshold each
  // one is a fresh mmap, so every flush page-faults. Keeping them in the heap removes that kernel time.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    fmt::print("greenfleet {} (git {})\n", greenfleet::core::kVersion, greenfleet::core::kGitRevision);
    return 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "run") return greenfleet::cli::run_command(args);
    if (command == "list") return greenfleet::cli::list_command(args);
    if (command == "summary") return greenfleet::cli::summary_command(args);
    if (command == "compare") return greenfleet::cli::compare_command(args);
    if (command == "sweep") return greenfleet::cli::sweep_command(args);
    if (command == "calibrate") return greenfleet::cli::calibrate_command(args);
    if (command == "validate") return greenfleet::cli::validate_command(args);
    fmt::print(stderr, "greenfleet: unknown command '{}'\n\n{}", command, kUsage);
    return 2;
  } catch (const greenfleet::core::InputError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {}\n", e.what());
    return 1;
  }
}
