#pragma once
#include <span>
#include <string>

#include "sim/spec/calibrated_entry.hpp"
#include "sim/spec/roofline_params.hpp"

namespace greenfleet::perf {

// Roofline efficiencies implied by calibrated entries at one TP degree: the decode floor is the weight read
// (bandwidth), the prefill slope the matmul rate (compute). Averaged over the entries of one GPU
// architecture, they are what a roofline fallback uses for hardware without measurements of its own; with no
// entry at that TP degree nothing is carried (entries == 0) and the roofline keeps its defaults.
struct CarriedEfficiency {
  double compute = 0, bandwidth = 0;
  double step_overhead_s = 0;  // the entries' own where their derivation separated it, else the default
  int entries = 0;
};
// Which entries carry: those at TP degree `tp` of GPUs of `architecture`, `exclude_gpu` left out
// (validation). Entries of origin measured (fitted to whole-step measurements) come first, then derived ones
// (from operator timings); within each, entries of `model` first (a model's own overheads transfer across
// GPUs better than an average over other sizes). With `cross_architecture`, measured entries of other
// architectures come before derived ones of the same (validation, where each measured GPU is its
// architecture's only one).
struct CarryQuery {
  std::string architecture;
  int tp = 1;
  std::string model = "";
  std::string exclude_gpu = "";
  bool cross_architecture = false;
};
CarriedEfficiency carried_efficiency(std::span<const spec::CalibratedEntry> entries, const CarryQuery& query);
spec::RooflineParams with_carried(spec::RooflineParams base, const CarriedEfficiency& e);

}  // namespace greenfleet::perf
