#pragma once
#include <hdf5.h>

#include "sim/fleet/catalog.hpp"
#include "sim/io/experiment.hpp"
#include "sim/io/summary.hpp"
#include "sim/runner/simulation.hpp"

namespace greenfleet::runner {

// The closing numbers of a run (also stored under /summary).
io::Summary make_summary(const Simulation& sim, const io::Experiment& x, double wall_seconds);

// Root attributes and the /instances, /servers and /sites tables (docs/OUTPUT.md).
void write_run_tables(hid_t file, const Simulation& sim, const io::Experiment& x, const fleet::Catalog& catalog,
                      double wall_seconds);

}  // namespace greenfleet::runner
