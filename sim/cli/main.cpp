#include <fmt/format.h>
#include <malloc.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "greenfleet/version.hpp"
#include "sim/cli/commands.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace {

constexpr const char* kUsage = R"(greenfleet: carbon-aware LLM inference datacenter simulator

usage: greenfleet <command> [options]

commands:
  run EXP.yaml [-o OUT.h5] [--set key.path=value]... [-q] [--plan PLAN_OUT.yaml]
                   simulate an experiment, print a summary table, write HDF5
  list [components|policies|presets|gpus|cpus|servers|models] [--markdown] [--embodied]
                   show registered components with their parameters, or catalog entries
  summary OUT.h5 [--json]
                   print the summary stored in an output file
  compare A.h5 B.h5 [C.h5...] | A1.h5 A2.h5 -- B1.h5 B2.h5 [--format table|markdown|csv|json]
                   key metrics side by side with differences and 95% confidence intervals
  sweep EXP.yaml [-j N] [-o DIR] [--set key.path=value]... [-n] [-q]
                   run every point of the experiment's sweep: block, write DIR/index.csv (mpirun: over ranks)
  plan PLAN.yaml [-o PLAN_OUT.yaml] [--set key.path=value]... [--capacity-only] [--rebuild-capacity]
                   provisioning plan: capacity tables by simulation, EcoServe's ILP and baselines (CBC)
  theory EXP.yaml [--json] [--decode-batch B] [--old-decode-batch B] [--prompt N --output N] [--set ...]
                   GreenLLM's closed form: savings vs CI, break-even CI, new-GPU lifetimes
  lifecycle LIFECYCLE.yaml [-o OUT.csv] [--csv] [--set key.path=value]... [-q]
                   EcoServe's Recycle: refresh schedules simulated year by year, carbon per year
  calibrate [--data-dir DIR] [--measurements FILE]... [--out PROJECT]
                   fit the calibrated step-time models to measurements, write models/calibration/
  validate [--data-dir DIR] [--measurements FILE]...
                   errors of the committed calibrated models on held-out measurements

options:
  --help           this text; `greenfleet <command> --help` for all of a command's options
  --version        version and git revision
  --catalog DIR    (every command but compare and summary) the project directory holding hardware_catalog/
                   and models/ (default: $GREENFLEET_HOME, else the source tree the binary was built from)
  --data-dir DIR   (commands that read traces or CI series) the public data directory (default:
                   $GREENFLEET_DATA, else ../shared/data next to the project; traces/README.md)

exit codes:
  0    success
  1    internal error (a bug: please report it); sweep: a point's run failed
  2    bad input or usage (experiment, catalog, trace, CI file, option, output path)
  3    the environment failed: disk full or not writable, file-size limit, out of memory,
       standard output closed; nothing is kept under the output name
  130  interrupted (Ctrl-C, SIGTERM); no output written

docs: README.md (start here), docs/EXPERIMENTS.md (every experiment key), docs/OUTPUT.md (the HDF5 file)
)";

// Leaves without running static destructors and atexit handlers: after a failed write, HDF5's own shutdown
// would try again to flush a file it could not close. Temporary files are already removed by then.
[[noreturn]] void leave(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

// Standard output is part of a command's result: a write error there (a full disk, a closed pipe) is reported.
int checked_stdout(int code) {
  std::cout.flush();
  if (code == 0 && (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout))) {
    fmt::print(stderr, "error: cannot write to standard output: {}\n", std::strerror(errno));
    leave(3);
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // HDF5 allocates and frees chunk-sized buffers at every flush; above glibc's default 128 KiB threshold each
  // one is a fresh mmap, so every flush page-faults. Keeping them in the heap removes that kernel time.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  std::vector<std::string> args(argv + 1, argv + argc);
  // `greenfleet help COMMAND` is `greenfleet COMMAND --help`.
  if (args.size() == 2 && args[0] == "help" && args[1] != "--help" && args[1] != "-h" && args[1] != "help")
    args = {args[1], "--help"};
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
    if (command == "run") return checked_stdout(greenfleet::cli::run_command(args));
    if (command == "list") return checked_stdout(greenfleet::cli::list_command(args));
    if (command == "summary") return checked_stdout(greenfleet::cli::summary_command(args));
    if (command == "compare") return checked_stdout(greenfleet::cli::compare_command(args));
    if (command == "sweep") return checked_stdout(greenfleet::cli::sweep_command(args));
    if (command == "plan") return checked_stdout(greenfleet::cli::plan_command(args));
    if (command == "theory") return checked_stdout(greenfleet::cli::theory_command(args));
    if (command == "lifecycle") return checked_stdout(greenfleet::cli::lifecycle_command(args));
    if (command == "calibrate") return checked_stdout(greenfleet::cli::calibrate_command(args));
    if (command == "validate") return checked_stdout(greenfleet::cli::validate_command(args));
    const std::set<std::string> commands = {"run",  "list",   "summary",   "compare",   "sweep",
                                            "plan", "theory", "lifecycle", "calibrate", "validate"};
    const std::string hint = greenfleet::config::closest_match(command, commands);
    fmt::print(stderr,
               "error: unknown command '{}'{}; expected one of: run, list, summary, compare, sweep, plan, theory, "
               "lifecycle, calibrate, validate (greenfleet --help)\n",
               command, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint));
    return 2;
  } catch (const greenfleet::core::InputError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    leave(2);
  } catch (const greenfleet::core::EnvironmentError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    leave(3);
  } catch (const std::ios_base::failure& e) {
    // A stream read that failed below a reader: a directory given as a file is bad input, anything else (an
    // I/O error) the environment's failure.
    const bool directory = errno == EISDIR || std::strstr(e.what(), "Is a directory") != nullptr;
    fmt::print(stderr, "error: reading a file failed: {}{}\n", e.what(),
               directory ? " (a directory was given where a file is expected)" : "");
    leave(directory ? 2 : 3);
  } catch (const std::bad_alloc&) {
    fmt::print(stderr,
               "error: out of memory; nothing was written. Free memory, run fewer or smaller experiments at once, "
               "or lower the sizes the configuration asks for (fleet counts, max_num_seqs, carbon.slot)\n");
    leave(3);
  } catch (const std::exception& e) {
    fmt::print(stderr, "internal error: {} (a bug: please report it)\n", e.what());
    leave(1);
  }
}
