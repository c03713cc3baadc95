#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/calibration/held_out.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/spec/roofline_params.hpp"

namespace greenfleet::calibration {

// One configuration of ML.ENERGY v3 (H100, vLLM, 2025): a model served on `tp` GPUs with a `max_num_seqs` cap,
// with its measured mean running batch, mean output length, inter-token latencies, throughput and GPU energy.
struct MlEnergyConfig {
  std::string model_id, task;  // the file's Hugging Face id and task
  std::string model, gpu;      // catalog ids
  int tp = 1, max_num_seqs = 0;
  double batch = 0, output_tokens = 0;
  double median_itl_s = 0, p90_itl_s = 0, throughput = 0;  // output tokens/s of the instance
  double gpu_w = 0, j_per_token = 0;                       // summed over the instance's GPUs
  bool held_out = false;
};

// The committed split and name mapping (ml_energy_replay.cpp says why): the configurations of models the
// catalog has (Llama-3.3-70B on Llama-3.1-70B's shape), dense, one data-parallel replica; others are skipped and
// counted in `skipped` by Hugging Face id.
std::vector<MlEnergyConfig> read_ml_energy_configs(const std::string& path, const catalog::Catalog& catalog,
                                                   std::map<std::string, int>& skipped);

// Whether a Hugging Face id of the v3 files is one of the held-out models of that split (the power fit of
// power_calibration.cpp shares it; ids outside the catalog mapping are not held out).
bool ml_energy_held_out_model(const std::string& hf_id);

// Mean prompt tokens the replay assumes for an ML.ENERGY task (the data set does not record them; ours).
double ml_energy_prompt_tokens(const std::string& task);

// What the simulator predicts for a configuration run at its measured mean batch: the mean step, with the
// prefill work of the requests that replace finished ones spread over the steps (the median ITL; throughput), and
// GPU energy per output token priced as the ledger prices steps (power curve on the busy part, idle power on the
// rest).
struct MlEnergyPrediction {
  double itl_s = 0, throughput = 0, j_per_token = 0, gpu_w = 0;
};
MlEnergyPrediction predict_ml_energy(const perf::PerfModel& model, const spec::GpuSpec& gpu,
                                     const spec::GpuPowerCurve* curve, const MlEnergyConfig& c);

// The step-time model a simulation builds for (gpu, model, tp) with `perf_model.kind: calibrated` and default
// parameters: the committed coefficients, else the roofline with efficiencies carried from calibrated entries
// (over `params`, the roofline's defaults unless a fit varies them).
std::unique_ptr<perf::PerfModel> calibrated_or_fallback(const catalog::Catalog& catalog, const std::string& gpu,
                                                        const std::string& model, int tp,
                                                        const spec::RooflineParams& params = {});

// The roofline's serial share of compute and memory time (spec::RooflineParams::compute_memory_serial) that
// best predicts the training models' median ITLs (held-out models left out): a grid of 0, 0.05, ..., 1, the
// least median absolute percentage error (the first on ties). `grid` holds that median per grid point.
struct ComputeMemorySerialFit {
  double serial = 0, training_median_ape = 0;
  std::vector<double> grid;
};
ComputeMemorySerialFit fit_compute_memory_serial(const std::vector<MlEnergyConfig>& rows,
                                                 const catalog::Catalog& catalog);

// The bandwidth efficiency of decode attention (KV read per KV head, against the GPU's peak bandwidth), fitted
// to the training models' configurations: pairs of one model at one TP degree and `max_num_seqs` measured on
// GPQA (about 7,000-token outputs) and on chat (a few hundred), whose mean batches agree within 5%; the
// difference of their median ITLs over the difference of the KV bytes a GPU reads per step is the achieved
// bandwidth of the attention reads alone (the weights, the batch's matmuls and the overheads cancel). The median
// over the pairs.
struct DecodeAttentionFit {
  double efficiency = 0;
  std::vector<double> pairs;  // per pair, in file order
  std::string source;
};
DecodeAttentionFit fit_decode_attention(const std::vector<MlEnergyConfig>& rows, const catalog::Catalog& catalog);

// ML.ENERGY's 2023 leaderboard (legacy_2023/<GPU>_chat_benchmark.csv): one request at a time (its throughput is
// each request's output over its latency), so each row is a batch-1 generation of a LLaMA-shaped 7B or 13B chat
// model: the mean inter-token time (latency / response length), GPU power (energy / latency) and J per output
// token. Mapped to the catalog's Llama-2-7B and -13B, which have the LLaMA-1 7B and 13B shapes exactly; other
// architectures are skipped. GPU names as read_ml_energy_2023_power maps them.
struct MlEnergy2023Row {
  std::string gpu, name, model;
  double output_tokens = 0, itl_s = 0, gpu_w = 0, j_per_token = 0;
};
// The catalog shape of a 2023 model name when it is LLaMA-shaped (those rows are replayed), else empty.
std::string ml_energy_2023_llama_shape(const std::string& name);
// Layer count of a 2023 model name: the LLaMA shapes above and the other models of those files (their
// config.json), 0 for names not known.
int ml_energy_2023_layers(const std::string& name);
std::vector<MlEnergy2023Row> read_ml_energy_2023_rows(const std::string& dir, const catalog::Catalog& catalog);
// One run of the 2023 chat benchmark files (`A100`, `A40`, `V100` `_chat_benchmark.csv` under `dir`, mapped to the
// catalog's GPUs; the benchmark's exact SKUs are not stated, the mapping is ours): the GPU's catalog id, the
// model's name and the measured response length (tokens), latency (s) and energy (J). The readers of these files
// (the replay above, the power lines) keep the models `keep` accepts; a kept row that is not positive in all
// three is an error naming the file and line.
struct MlEnergy2023Run {
  std::string gpu, model;
  double tokens = 0, latency_s = 0, energy_j = 0;
};
std::vector<MlEnergy2023Run> read_ml_energy_2023_runs(const std::string& dir, const catalog::Catalog& catalog,
                                                      const std::function<bool(const std::string&)>& keep);
// The replay of such a row: a decode step of one sequence halfway through its output.
MlEnergyPrediction predict_ml_energy_2023(const perf::PerfModel& model, const spec::GpuSpec& gpu,
                                          const spec::GpuPowerCurve* curve, const MlEnergy2023Row& row);

// Absolute percentage errors over a group of configurations.
struct MlEnergyErrors {
  ErrorStats itl, throughput, j_per_token, gpu_w;
  // Median signed errors, % (positive: predicted too high). The W error is also the J/token error of the
  // measured times priced with the modelled power (ML.ENERGY's J/token is its power over its throughput).
  double itl_bias = 0, j_bias = 0, w_bias = 0;
};
MlEnergyErrors ml_energy_errors(const catalog::Catalog& catalog, const std::vector<const MlEnergyConfig*>& rows);

}  // namespace greenfleet::calibration
