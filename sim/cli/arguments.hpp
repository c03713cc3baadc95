#pragma once
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

namespace greenfleet::cli {

// The exit codes every command but sweep and plan (which add their own cases) ends its --help with; README.md,
// "Command line", has the full table.
inline constexpr const char* kExitCodesHelp =
    "Exit codes: 0 ok, 1 internal error (a bug: please report it), 2 bad input or usage, 3 the environment "
    "failed (disk full or not writable, out of memory, standard output closed), 130 interrupted.\n";

// Where --catalog and --data-dir default to, as every command's --help says it.
inline constexpr const char* kCatalogHelp =
    "project directory holding hardware_catalog/ and models/ (default: $GREENFLEET_HOME, else the source tree)";
inline constexpr const char* kDataDirHelp =
    "public data directory for traces and CI series (default: $GREENFLEET_DATA, else ../shared/data)";

// Parses a subcommand's arguments against `options` (its visible and hidden options) with the positional
// arguments `positional`. A parser error is bad input (exit 2) naming the command and pointing at its --help.
inline boost::program_options::variables_map parse_arguments(
    const std::string& command, const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw core::InputError(fmt::format("{}: {} (see greenfleet {} --help)", command, e.what(), command));
  }
  return vm;
}

// Prints each distinct note (a setting with no effect in this configuration: experiment::notes_for_fleet, a
// planning or lifecycle file's) once, in order, as a `note: ` line on stderr. -q does not hide them: it hides
// progress, and scripts, which pass -q, are where a setting typed for nothing would otherwise go unseen. Commands
// that load an experiment many times (sweep, plan) gather the notes of every load first; a sweep's own runs take
// `run --no-notes` (hidden), the sweep having printed them.
inline void print_notes(const std::vector<std::string>& notes) {
  std::set<std::string> seen;
  for (const auto& note : notes)
    if (seen.insert(note).second) fmt::print(stderr, "note: {}\n", note);
}

}  // namespace greenfleet::cli
