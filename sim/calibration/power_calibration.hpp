#pragma once
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "sim/calibration/ml_energy_replay.hpp"
#include "sim/catalog/catalog.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/spec/power_curve.hpp"

namespace greenfleet::calibration {

struct PowerPoint {
  double batch = 0, watts = 0;  // per GPU
  bool held_out = false;
  std::string model;  // the file's Hugging Face id
};

// ML.ENERGY v3: H100 rows of dense models, per-GPU power vs mean running batch, by catalog GPU id. Held out by
// model, with the split of the ML.ENERGY replay (ml_energy_replay.cpp: Llama-3.3-70B and Qwen3-14B); rows of
// models outside the catalog (Gemma 3, Llama-3.1-405B-FP8) are measurements of power all the same and train.
std::map<std::string, std::vector<PowerPoint>> read_ml_energy_v3(const std::string& path);

// Fits saturated and small-batch power for each batch scale on a fixed grid, keeps the best (relative error) on
// the training points.
spec::GpuPowerCurve fit_power_curve(const std::string& gpu, const std::vector<PowerPoint>& points,
                                    const std::string& source);
// Held-out absolute percentage errors of a curve: median and p90.
std::pair<double, double> power_errors(const spec::GpuPowerCurve& c, const std::vector<PowerPoint>& points);

// ML.ENERGY's 2023 leaderboard (legacy_2023/<GPU>_chat_benchmark.csv): one request at a time, so each row is a
// batch-1 generation with a mean power (energy / latency) and a mean time per output token (latency / response
// length). Its bandwidth utilisation is the weights read per token (2 bytes x the parameter count in the
// model's name: FP16, ours) over that time, against the GPU's peak bandwidth. Held out: the LLaMA-shaped models
// the replay checks (ml_energy_2023_llama_shape); training: the others, except fastchat-t5 (encoder-decoder:
// not all its weights are read per output token) and names without a size.
struct UtilisationPoint {
  std::string name;
  double utilisation = 0, watts = 0;
  bool held_out = false;
  double itl_s = 0;  // latency / response length
};
std::map<std::string, std::vector<UtilisationPoint>> read_ml_energy_2023_power(const std::string& dir,
                                                                               const catalog::Catalog& catalog);
// W = intercept + slope x u, least squares on relative error over the training points.
struct PowerLine {
  double intercept_w = 0, slope_w = 0;
  double at(double utilisation) const { return intercept_w + slope_w * utilisation; }
};
PowerLine fit_power_line(const std::vector<UtilisationPoint>& points);
// Held-out absolute percentage errors of a line: median and p90.
std::pair<double, double> power_line_errors(const PowerLine& line, const std::vector<UtilisationPoint>& points);

// The 2023 engine (issue #17: what the 2023 J/token misses). ML.ENERGY's 2023 runs took about as long per token
// on a V100 as on an A100 (LLaMA-7B 31.6 and 34.8 ms) and grew with the layer count, not the bytes (13B / 7B:
// 1.2-1.5x for 1.9x the weights): the engine (one request at a time, eager kernels) was host-bound, issuing each
// layer's kernels slower than the GPU ran them. Modelled per GPU (each 2023 GPU sat in its own host) as a host
// time per layer, the median of ITL / layers over the training rows (the models the power line fits; layer
// counts: ml_energy_2023_layers); a step takes max(the step model's decode step, host time x layers). The GPU
// then waits part of each step, so its power is the 2023 power line read at the step's bandwidth utilisation
// (weights read over the step time), not at a 2025 engine's.
struct Engine2023 {
  double host_s_per_layer = 0;
  int training_rows = 0;
  PowerLine line;
};
Engine2023 fit_engine_2023(const std::vector<UtilisationPoint>& points);
// A held-out LLaMA-shaped row replayed on that engine: batch 1, halfway through its output (as
// predict_ml_energy_2023), at the step model `model` of the GPU.
MlEnergyPrediction predict_engine_2023(const perf::PerfModel& model, const spec::GpuSpec& gpu,
                                       const spec::LlmModel& llm, const Engine2023& engine,
                                       const MlEnergy2023Row& row);

// The bandwidth utilisation of a 2025 engine's small-batch decode step, measured: the median over the ML.ENERGY
// v3 training configurations at max_num_seqs 8 (H100) of the bytes a GPU reads per decode step (its weight shard
// and the batch's KV cache at prompt + output / 2 tokens) over the median ITL, against peak bandwidth.
double small_batch_utilisation(const std::string& v3_path, const catalog::Catalog& catalog);

// Every decode power curve the ML.ENERGY data in `dir` (profiling/ml_energy) supports: fitted per GPU to the v3
// rows (power vs batch), and for the GPUs of the 2023 leaderboard (batch 1 only) `method: line`: the power line
// of their training rows read at the small-batch utilisation above sets the small-batch level; the saturated
// level is the GPU's TDP times the H100's saturated / TDP ratio, the batch scale the H100's (ours;
// docs/MODELS.md "GPU power").
std::vector<spec::GpuPowerCurve> fit_power_curves(const std::string& dir, const catalog::Catalog& catalog);

}  // namespace greenfleet::calibration
