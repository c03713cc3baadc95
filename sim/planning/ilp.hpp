#pragma once
#include <string>

#include "sim/planning/problem.hpp"

namespace greenfleet::planning {

// Checks that every class's demand can be met at all (a capacity entry for it; enough servers of the limited
// types in each slot and each offline window; enough GPUs in a slot for all classes together), throwing
// core::InputError naming the slot and the class otherwise, against the program's own bound for the instance
// domain (`integer_instances`: whole instances per type and slot; otherwise continuous ones, which may fill
// every GPU, e.g. 2.67 instances of 3 GPUs on an 8-GPU server). solve_plan calls it first.
void check_feasible(const Problem& problem, const Objective& objective, bool integer_instances);

// Builds the mixed-integer program of docs/PLANNING.md for `objective` and solves it with CBC (one thread,
// settings' time limit and relative gap). Integrality is never relaxed: a plan whose search ran out of time
// carries status `feasible` with its bound and gap, and a search that found no integer solution throws
// core::InputError saying so (the demand cannot be met, or the time limit is too short to find a plan).
Plan solve_plan(const Problem& problem, const Objective& objective, const SolverSettings& settings);

// "slot 37 [1d 13:00, 1d 14:00)": a slot and the times it covers, for messages and tables.
std::string slot_text(const Problem& problem, int slot);

}  // namespace greenfleet::planning
