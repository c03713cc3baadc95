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

// The largest resolved configuration stored as the root attribute config_yaml; larger ones go to the dataset
// /config_yaml (HDF5 attributes hold at most 64 KiB).
inline constexpr std::size_t kConfigAttributeMax = 60000;

// The root attributes (version, experiment, seed) and the resolved configuration: written before the run, so an
// output that cannot hold them fails before any simulation.
void write_run_header(hid_t file, const experiment::Experiment& x);

// The /instances, /servers and /sites tables (docs/OUTPUT.md).
void write_run_tables(hid_t file, const Simulation& sim, const experiment::Experiment& x,
                      const catalog::Catalog& catalog);

}  // namespace greenfleet::runner
