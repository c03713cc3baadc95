#pragma once
#include <hdf5.h>

#include "sim/catalog/catalog.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/output/summary.hpp"
#include "sim/runner/simulation.hpp"

namespace greenfleet::runner {

// The closing numbers of a run (also stored under /summary): everything the experiment, seed and binary
// determine, so two runs of one configuration store identical summaries.
output::Summary make_summary(const Simulation& sim, const experiment::Experiment& x);

// What the machine determines (wall time, speed), kept apart under /run_info so it never makes two outputs
// of one configuration differ in /summary.
output::Summary make_run_info(const Simulation& sim, double wall_seconds);

// Root attributes and the /instances, /servers and /sites tables (docs/OUTPUT.md).
void write_run_tables(hid_t file, const Simulation& sim, const experiment::Experiment& x,
                      const catalog::Catalog& catalog);

}  // namespace greenfleet::runner
