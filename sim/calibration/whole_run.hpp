#pragma once
#include <string>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/calibration/splitwise_calibration.hpp"
#include "sim/catalog/catalog.hpp"

namespace greenfleet::calibration {

// Whole-run validation (issue #17 item 5): public measurements of whole serving runs replayed through the full
// simulator (experiment::load_experiment + runner::Simulation, the scheduler, KV cache, fast-forward and step
// model a `greenfleet run` uses), not through the step model alone. Each point is one batch of B identical
// requests (prompt P, output O) sent at once to every instance of one server of the GPU
// (models/validation/whole_run.yaml, round robin: each instance gets exactly B). The server is off until the
// first request boots it, so the whole batch waits in the queue when the first step starts, as when an engine is
// handed a batch at once.
struct WholeRunCase {
  std::string gpu, model;
  int tp = 1;
  int batch = 1, prompt = 1, output = 1;  // per instance
  int max_num_seqs = 256, max_batched_tokens = 4096;
  bool chunked_prefill = false;
  std::string preset;  // deployments[].scheduler.preset, "" for none
};

struct WholeRunResult {
  // From the first step (the server boots while the batch arrives, so every request is queued by then) to the
  // last completion, slowest instance; the median time from that start to a request's first token.
  double batch_latency_s = 0;
  double ttft_s = 0;
  double itl_s = 0;       // median over requests of the mean inter-token time after the first token
  double throughput = 0;  // output tokens/s per instance over the run
  // GPU energy the carbon ledger charged for the steps (every instance; idle gaps and unused GPUs not counted)
  // per output token
  double gpu_j_per_token = 0;
  int completed = 0, requests = 0;
};

// Runs one case through the simulator (`project` holds models/validation/whole_run.yaml). Throws
// core::InputError when the catalog has no server of the GPU that fits the TP degree.
WholeRunResult simulate_whole_run(const catalog::Catalog& catalog, const WholeRunCase& c);

// SplitwiseSim's held-out points whose generation ran in full (as e2e_errors selects them), replayed with
// vLLM v0's scheduler as the profiler ran them: no chunked prefill and a token budget that holds the batch's
// prompts in one step (max(4096, B x P)). Absolute percentage errors of the batch latency against e2e_time; a
// point whose batch did not complete in the simulation counts as 100%.
struct WholeRunErrors {
  ErrorStats latency;
  double bias = 0;         // median signed error, %
  int beyond_context = 0;  // held-out points longer than the model's context: not replayable
  std::vector<double> signed_errors;
};
WholeRunErrors splitwise_whole_run_errors(const catalog::Catalog& catalog, const MeasuredSet& set);

// An ML.ENERGY v3 configuration replayed as a whole run: per instance, four times its measured mean batch of
// requests (prompt ml_energy_prompt_tokens, output its mean output length) sent at once with max_num_seqs at
// that mean batch and vLLM v1's scheduler (preset vllm-v1); the median of the requests' inter-token times
// against the median ITL and output tokens/s against the measured throughput.
struct MlEnergyWholeRun {
  WholeRunResult result;
  double itl_error = 0, throughput_error = 0;  // signed, %
};
MlEnergyWholeRun ml_energy_whole_run(const catalog::Catalog& catalog, const MlEnergyConfig& c);

// A held-out LLaMA-shaped row of ML.ENERGY's 2023 leaderboard replayed as a whole run on the engine it measured
// (scheduler.preset fastchat-hf-2023: the GPU's fitted host time per layer and 2023 power line): per instance one
// request (prompt ml_energy_prompt_tokens("chat"), output the row's mean response length), perf_model calibrated
// (the roofline fallback where the GPU has no entry). ITL as the leaderboard measured it: the request's latency
// (prefill included) over its output tokens; J/token: the GPU energy the ledger charged its steps; W: their ratio.
MlEnergyPrediction engine_2023_whole_run(const catalog::Catalog& catalog, const MlEnergy2023Row& row);

}  // namespace greenfleet::calibration
