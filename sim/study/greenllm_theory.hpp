#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/experiment/experiment.hpp"

namespace greenfleet::study {

// GreenLLM's closed form (Shi et al., arXiv 2412.20322, section "theoretical analysis"; docs/THEORY.md) for its
// first use case, prefill/decode disaggregation: per unit of work (one request of the workload's mean prompt and
// output lengths) the baseline runs the whole request on the new GPU, the disaggregated mode runs its prefill on
// the new GPU and its decode on the old one.
//
// Times are seconds of one instance (a model replica on `tensor_parallel` GPUs) per request, powers are the
// instance's GPU power in watts over that time, embodied rates are the instance's GPUs' embodied carbon in grams
// per second of use (ECn/LTn: card carbon x cards / amortisation; 0 when sunk). Host power, host embodied carbon,
// idle time, the KV transfer and queueing are outside the closed form (docs/THEORY.md says what each changes).
struct TheoryTerms {
  double tn = 0;          // Tn: whole request on the new GPU (prefill + decode)
  double tn_prefill = 0;  // Tn': the prefill on the new GPU
  double to = 0;          // To: the decode on the old GPU
  double pn = 0;          // Pn: mean new-GPU power over Tn
  double pn_prefill = 0;  // Pn': new-GPU power over Tn'
  double po = 0;          // Po: old-GPU power over To
  double rn = 0;          // ECn/LTn, g/s
  double ro = 0;          // ECo/LTo, g/s
  double pue = 1;         // operational carbon = CI x PUE x energy
};

// Carbon per request (g) at grid carbon intensity `ci` (gCO2e/kWh):
// C_base = CI PUE Pn Tn + (ECn/LTn) Tn; C_green = CI PUE (Pn' Tn' + Po To) + (ECn/LTn) Tn' + (ECo/LTo) To.
double carbon_base(const TheoryTerms& t, double ci);
double carbon_green(const TheoryTerms& t, double ci);
// 1 - C_green / C_base, in percent (NaN when C_base is 0).
double savings_percent(const TheoryTerms& t, double ci);
// The grid CI at which C_green = C_base:
// CI* = [(ECn/LTn)(Tn - Tn') - (ECo/LTo) To] / (PUE [Pn' Tn' + Po To - Pn Tn]) (J converted to kWh).
// Empty when the energies are equal (no crossing); may be negative (no crossing at any physical CI).
std::optional<double> break_even_ci(const TheoryTerms& t);

// How the terms were derived from an experiment: the assumptions the closed form is evaluated at.
struct TheorySetup {
  std::string new_deployment, old_deployment;  // the deployment that splits requests and its decode deployment
  std::string new_gpu, old_gpu;
  std::int32_t new_devices = 1, old_devices = 1;
  double prompt_tokens = 0, output_tokens = 0;  // the unit of work
  std::uint64_t requests_read =
      0;  // requests the workload gives a run (0: unit of work given on the command line)
  std::uint64_t requests_used = 0;    // those within max_tokens: the means are theirs
  std::int64_t max_tokens = 0;        // prompt + output an instance of both deployments holds (context, KV cache)
  std::int32_t prefill_batch = 1;     // prompts per prefill step
  std::int32_t decode_batch = 1;      // sequences per decode step on the new GPU
  std::int32_t old_decode_batch = 1;  // and on the old GPU
  double new_card_kg = 0, old_card_kg = 0;  // embodied carbon per card (before sunk)
  bool old_sunk = false, new_sunk = false;
  double new_life_years = 0, old_life_years = 0;  // amortisation spans
  double site_ci = 0;                             // the experiment's constant CI (NaN if not constant)
};

struct TheoryOptions {
  // Else the workload's means over the requests a run could serve (prompt + output within both deployments'
  // context and KV cache: a run rejects the others).
  std::optional<double> prompt_tokens, output_tokens;
  std::int32_t prefill_batch = 1;
  std::int32_t decode_batch = 16;
  std::int32_t old_decode_batch = 0;  // 0: decode_batch
};

struct Theory {
  TheorySetup setup;
  TheoryTerms terms;
};

// Derives the terms from the same performance models (the deployments' perf models on their GPUs), power model
// (the ledger's: catalog prefill power, calibrated decode power vs batch, idle power during step overhead,
// power-delivery losses and gpu_power_scale) and embodied model (carbon.gpu_method per card, the fleet entries'
// amortisation or sunk) as a run. Throws core::InputError naming the experiment file, line and key when no
// deployment has `modes.disaggregated.decode` or the fleet lacks one of the two deployments.
Theory derive_theory(const experiment::Experiment& x, const catalog::Catalog& catalog,
                     const TheoryOptions& options);

// The rate ECn/LTn of the new GPUs when amortised over `years` (8,760-hour years, as the loader counts them).
double new_gpu_rate(const TheorySetup& setup, double years);

// Output: the tables, or one JSON object (CI grid, savings, break-even, lifetime table).
std::string format_theory_table(const Theory& t, const std::vector<double>& ci_grid,
                                const std::vector<double>& lifetimes_years);
std::string format_theory_json(const Theory& t, const std::vector<double>& ci_grid,
                               const std::vector<double>& lifetimes_years);

}  // namespace greenfleet::study
