#pragma once
#include <string>
#include <vector>

#include "sim/experiment/sweep.hpp"

namespace greenfleet::study {

struct SweepOptions {
  std::string experiment_file;
  std::string output_dir;
  std::vector<std::string> run_args;  // passed to every `greenfleet run` (--set, --catalog, --data-dir)
  int jobs = 1;                       // runs at a time on each process (each MPI rank)
  bool quiet = false;
};

// What one run of a sweep gave: read back from its output file, so a reused file gives the same row.
struct RunOutcome {
  std::string status;  // ok | failed
  std::vector<std::pair<std::string, double>> summary;
  double wall_seconds = 0;
  bool reused = false;
  std::string serialize() const;
  static RunOutcome parse(const std::string& text);
};

// True when `path` holds an output of this binary's git revision with this resolved configuration.
bool up_to_date(const std::string& path, const std::string& resolved_yaml);
// Reads a finished run's outcome (status ok) from its file.
RunOutcome read_outcome(const std::string& path);

// index.csv: `point,replica,status,output`, the swept key paths, every /summary key, `wall_seconds`; one row per
// run in point order. Keys come from the first run that succeeded.
std::string index_csv(const experiment::Sweep& sweep, const std::vector<RunOutcome>& outcomes);

// Runs every run of the sweep not already up to date, each as a child `greenfleet run` process, `jobs` at a
// time, and writes DIR/index.csv (atomically). Under mpirun (detected from the environment) the ranks share
// the runs: rank 0 hands them out one at a time as ranks ask for work and gathers the outcomes. Returns the
// exit code: 0, 1 when some run failed, 130 when interrupted (no index written).
int run_sweep(const experiment::Sweep& sweep, const std::vector<std::string>& resolved,
              const SweepOptions& options);

// Whether this process was started by mpirun/srun with more than one rank (and the binary was built with MPI).
bool launched_under_mpi();
// False in the ranks other than 0 of such a launch (read from the launcher's environment), for what one process
// prints for all (a sweep's notes).
bool lead_process();

}  // namespace greenfleet::study
