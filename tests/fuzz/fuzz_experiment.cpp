// The experiment loader with --set: the input is an experiment YAML file; each line starting with "#set " (a YAML
// comment, so the file still parses) adds the rest of the line as a --set override.
#include <sstream>
#include <vector>

#include "fuzz_support.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/experiment/experiment.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace greenfleet;
  static const catalog::Catalog catalog = catalog::Catalog::load(GREENFLEET_SOURCE_DIR);
  const std::string path = fuzz::write_input(data, size, ".yaml");
  experiment::LoadOptions options;
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("#set ", 0) == 0) options.overrides.push_back(line.substr(5));
  // No data directory: relative data files resolve next to the scratch input only, so nothing large is read.
  options.data_dir = "/nonexistent";
  return fuzz::expect_input_errors_only([&] {
    const experiment::Experiment x = experiment::load_experiment(path, catalog, options);
    (void)x;
  });
}
