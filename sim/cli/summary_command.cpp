#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "sim/cli/arguments.hpp"
#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"
#include "sim/output/hdf5_file.hpp"
#include "sim/output/summary.hpp"

namespace po = boost::program_options;

namespace greenfleet::cli {

int summary_command(const std::vector<std::string>& args) {
  po::options_description opts("greenfleet summary OUT.h5 [--json]");
  std::string file;
  opts.add_options()("help,h", "show this help")(
      "json", "print the results (/summary) as JSON; wall time (/run_info) is left out");
  po::options_description all;
  all.add(opts).add_options()("file", po::value(&file));
  po::positional_options_description pos;
  pos.add("file", 1);
  const po::variables_map vm = parse_arguments("summary", args, all, pos);
  if (vm.count("help")) {
    std::cout << opts << kExitCodesHelp;
    return 0;
  }
  if (file.empty()) throw core::InputError("summary: missing the output file (greenfleet summary OUT.h5)");
  const output::Summary s = output::read_summary(file);  // refuses files that are not HDF5 or have no /summary
  // A /summary group alone does not make a run's output: runs write the root attribute greenfleet_version
  // (runner/report.cpp), as `run -o` checks before replacing a file.
  if (H5Aexists(output::h5::open_file_readonly(file).get(), "greenfleet_version") <= 0)
    throw core::InputError(
        fmt::format("{}: not a greenfleet output (no root attribute greenfleet_version), "
                    "although it has a /summary group",
                    file));
  if (vm.count("json")) {
    std::cout << output::format_json(s);  // the run's results only: equal for equal configurations
    return 0;
  }
  const output::Summary run_info = output::read_summary(file, "run_info", /*optional=*/true);
  std::cout << output::format_table(s) << (run_info.items.empty() ? "" : output::format_table(run_info));
  return 0;
}

}  // namespace greenfleet::cli
