#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/experiment/experiment.hpp"

namespace greenfleet::experiment {

// One run of a sweep: a point of the grid x zip product and one of its seed replicas.
struct SweepRun {
  std::size_t point = 0;
  std::size_t replica = 0;
  std::vector<std::string> values;     // one per Sweep::columns, as YAML text (flow style)
  std::vector<std::string> overrides;  // key.path=value, applied like --set after the command line's
  std::vector<std::string> origins;    // file:line:column of each value in the sweep block
  std::vector<std::string> keys;       // "file:line:column: sweep.grid.KEY" of each value's key in the block
  std::string output;                  // output file name, relative to the sweep's output directory
};

// The `sweep:` block of an experiment file (docs/EXPERIMENTS.md): a grid over key paths (a cartesian product,
// the first key outermost), zipped lists varied together (one more axis, innermost), and seed replicas.
struct Sweep {
  std::vector<std::string> columns;  // swept key paths, grid then zip, then `seed` when seeds are replicated
  std::size_t points = 0;            // configurations, replicas not counted
  std::size_t replicas = 1;
  std::vector<SweepRun> runs;  // in point order, replicas of a point together
  // The command line's --set that every run takes before its own values: all of them but a `seed` that
  // `sweep.seeds: N` counts from (the runs' seeds already hold it).
  std::vector<std::string> base_overrides;
};

// Reads the sweep block of `file` (after the command line's --set `overrides`, which may not touch it).
// Returns an empty sweep (no runs) when the file has none. Structural errors name file:line:column.
Sweep load_sweep(const std::string& file, const std::vector<std::string>& overrides);

// Loads and validates every run of the sweep before any is simulated: each run's overrides are applied to the
// file as --set would, with output path `output_dir/run.output`. Returns each run's resolved configuration. An
// invalid value fails with the file:line:column of the value in the sweep block and the loader's message.
// `notes`, when given, receives each distinct note of the runs (notes_for_fleet), in the order first met. A note
// that the base (the file and the command line's --set, without the swept values) does not raise names the swept
// key that raises it, at the key's line in the sweep block, and the values that do (`FILE:14:5:
// sweep.grid.KEY (values 10, 50): KEY.PATH: no effect ...`), once for all of them; one that only a point's values
// together raise names the point.
std::vector<std::string> validate_sweep(const std::string& file, const catalog::Catalog& catalog,
                                        const LoadOptions& base, const Sweep& sweep, const std::string& output_dir,
                                        std::vector<std::string>* notes = nullptr);

}  // namespace greenfleet::experiment
