#pragma once
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

namespace greenfleet::cli {

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

}  // namespace greenfleet::cli
