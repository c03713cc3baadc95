#include "sim/calibration/vidur_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/calibration/derived_coefficients.hpp"
#include "sim/catalog/coefficient_files.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/perf/ring_all_reduce.hpp"
#include "sim/perf/roofline.hpp"

namespace greenfleet::calibration {

namespace {

// The SplitwiseSim sets the stack is fitted to: Llama-2-70B, the model Vidur and SplitwiseSim both measured.
constexpr const char* kStackModel = "llama-2-70b";

// The all-reduce of one entry: the Vidur fit for its GPU and TP degree, or for a GPU without all-reduce data
// a ring over the catalog link (2 (t - 1) / t of the message per GPU, plus the roofline's default latency per
// all-reduce): our reconstruction.
AllReduceFit all_reduce_for(const VidurCalibration& v, const spec::GpuSpec& gpu, int tp, bool& measured,
                            std::string& source) {
  measured = false;
  if (tp <= 1) {
    source = "no all-reduce at TP 1";
    return {};
  }
  for (const auto& a : v.all_reduce)
    if (a.gpu == gpu.id && a.workers == tp) {
      measured = true;
      source = fmt::format("{} ({} workers)", a.source, tp);
      return a.fit;
    }
  AllReduceFit ring;
  ring.latency_s = spec::RooflineParams{}.allreduce_latency_s;
  ring.per_byte_s = perf::ring_all_reduce_seconds(1.0, tp, gpu.link_bandwidth_gbps * 1e9);  // of one byte
  source = fmt::format("ring all-reduce over the catalog link ({} GB/s; no Vidur all-reduce data, ours)",
                       gpu.link_bandwidth_gbps);
  return ring;
}

OperatorModelSpec spec_for(const catalog::Catalog& catalog, const OperatorSet& set, const OperatorFit& ops,
                           const AllReduceFit& ar) {
  OperatorModelSpec spec;
  spec.model = catalog.model(set.model);
  spec.gpu = catalog.gpu(set.gpu);
  spec.tensor_parallel = set.tensor_parallel;
  spec.linear = ops.linear, spec.emb = ops.emb, spec.all_reduce = ar;
  return spec;
}

}  // namespace

const char* to_string(VidurStatus s) {
  switch (s) {
    case VidurStatus::kWritten:
      return "written";
    case VidurStatus::kMeasured:
      return "measured";
    case VidurStatus::kMemory:
      return "memory";
    case VidurStatus::kNoStack:
      return "no-stack";
  }
  return "?";
}

bool fits_in_memory(const spec::LlmModel& model, const spec::GpuSpec& gpu, int tp) {
  const double kv_per_token =
      2.0 * model.layers * kv_heads_per_shard(model, tp) * model.head_dim * model.bytes_per_param;
  const double need = model.weight_bytes() / tp + kv_per_token * model.max_context;
  // The same device memory a simulation sizes its KV cache from (binary units, GDDR's inline ECC taken off).
  return need <= 0.9 * experiment::device_memory_bytes(gpu);
}

VidurCalibration calibrate_vidur(const std::string& data_dir, const catalog::Catalog& catalog,
                                 const std::set<std::tuple<std::string, std::string, int>>& measured) {
  namespace fs = std::filesystem;
  VidurCalibration v;
  auto sets = read_vidur_compute(data_dir, catalog, v.skipped);
  std::stable_sort(sets.begin(), sets.end(), [](const OperatorSet& a, const OperatorSet& b) {
    return std::tie(a.gpu, a.model, a.tensor_parallel) < std::tie(b.gpu, b.model, b.tensor_parallel);
  });
  for (const auto& [gpu, file] : vidur_all_reduce_files()) {
    if (!catalog.gpus().count(gpu)) continue;
    for (const auto& s : read_vidur_all_reduce((fs::path(data_dir) / file).string(), file, gpu, v.skipped))
      v.all_reduce.push_back({gpu, s.source, s.workers, fit_all_reduce(s)});
  }

  // Per set: the operator fits and the bare operator model.
  std::vector<OperatorFit> fits;
  std::vector<std::string> ar_sources;
  for (const auto& set : sets) {
    VidurEntry e;
    e.gpu = set.gpu, e.model = set.model, e.tensor_parallel = set.tensor_parallel;
    e.ops = fit_operators(set);
    std::string ar_source;
    const AllReduceFit ar =
        all_reduce_for(v, catalog.gpu(set.gpu), set.tensor_parallel, e.all_reduce_measured, ar_source);
    e.all_reduce_held_out = ar.held_out;
    e.spec = spec_for(catalog, set, e.ops, ar);
    ar_sources.push_back(ar_source);
    v.entries.push_back(std::move(e));
  }

  // Stack fits, one per GPU architecture measured by SplitwiseSim, on the bare models of Llama-2-70B.
  std::map<std::string, int> ignored;
  const auto splitwise = read_splitwise_sim(data_dir + "/profiling/splitwise_sim/perf_model.csv", ignored);
  std::map<std::string, std::vector<std::pair<OperatorModel, MeasuredSet>>> by_arch;
  std::map<std::string, std::vector<std::string>> arch_gpus;
  for (const auto& set : splitwise) {
    if (set.model != kStackModel || !catalog.gpus().count(set.gpu)) continue;
    for (const auto& e : v.entries)
      if (e.gpu == set.gpu && e.model == set.model && e.tensor_parallel == set.tensor_parallel) {
        const std::string& arch = catalog.gpu(set.gpu).architecture;
        by_arch[arch].emplace_back(OperatorModel(e.spec), set);
        auto& g = arch_gpus[arch];
        if (std::find(g.begin(), g.end(), set.gpu) == g.end()) g.push_back(set.gpu);
      }
  }
  // Decode attention: fitted to ML.ENERGY v3's H100 rows (KV read per KV head) and, for want of such data on
  // other GPUs, carried to every architecture (ours: decode attention streams the cache at a fraction of peak
  // bandwidth that depends on the kernel more than on the memory generation).
  std::map<std::string, int> ml_skipped;
  v.decode_attention = fit_decode_attention(
      read_ml_energy_configs(data_dir + "/profiling/ml_energy/mlenergy_v3_llm_configs.csv", catalog, ml_skipped),
      catalog);
  for (const auto& [arch, pairs] : by_arch) {
    std::string gpus, tps;
    for (const auto& g : arch_gpus[arch]) gpus += (gpus.empty() ? "" : ", ") + g;
    for (const auto& p : pairs) tps += fmt::format("{}{}", tps.empty() ? "" : "/", p.second.tensor_parallel);
    const std::string source =
        fmt::format("SplitwiseSim perf_model.csv, Llama-2-70B on {} at TP {}, training points", gpus, tps);
    v.stacks[arch] = fit_stack(arch, source, pairs, 1 / v.decode_attention.efficiency);
    for (const auto& [bare, set] : pairs) {
      OperatorModelSpec spec = bare.spec();
      spec.stack = v.stacks[arch];
      const OperatorModel m(spec);
      v.checks.push_back({set.gpu, set.tensor_parallel, held_out_step_errors(m, set), e2e_errors(m, set)});
    }
  }

  // Entries: the stack of their architecture, then coefficients where they are to be written.
  for (std::size_t i = 0; i < v.entries.size(); ++i) {
    VidurEntry& e = v.entries[i];
    const auto& gpu = catalog.gpu(e.gpu);
    const auto stack = v.stacks.find(gpu.architecture);
    if (stack != v.stacks.end()) e.spec.stack = stack->second;
    if (measured.count({e.gpu, e.model, e.tensor_parallel})) {
      e.status = VidurStatus::kMeasured;
    } else if (!fits_in_memory(e.spec.model, gpu, e.tensor_parallel)) {
      e.status = VidurStatus::kMemory;
    } else if (stack == v.stacks.end()) {
      e.status = VidurStatus::kNoStack;
    } else {
      e.status = VidurStatus::kWritten;
      const OperatorModel m(e.spec);
      spec::CalibrationCoefficients& c = e.coefficients;
      c = derive_coefficients(m);
      c.step_overhead = stack->second.step_overhead_s;
      c.source = fmt::format("Vidur {} (TP {} rows); {}; attention and stack: {} fit ({}); decode attention: {}",
                             sets[i].source, e.tensor_parallel, ar_sources[i], gpu.architecture,
                             stack->second.source, v.decode_attention.source);
      c.training_points = e.ops.training_points;
      c.held_out_points = e.ops.held_out.points;
      c.held_out_median_ape = e.ops.held_out.median_ape;
      c.held_out_p90_ape = e.ops.held_out.p90_ape;
      e.approximation = approximation_errors(perf::CalibratedModel(c), m);
    }
  }
  return v;
}

std::string vidur_coefficients_yaml(const spec::CalibrationCoefficients& c) {
  // A raw string keeps the header's lines as they appear in the committed files.
  static constexpr const char* kHeader =
      R"(# Derived from Vidur per-operator timings (no whole-step measurements of this model on this GPU): the
# operator model of docs/MODELS.md (Vidur linear operators and all-reduce, analytic attention and stack terms
# fitted to SplitwiseSim, decode attention to ML.ENERGY v3), approximated by these coefficients over a grid of batch shapes (`greenfleet
# validate` prints the approximation error). fit: the points are Vidur token counts of this GPU, model and TP
# (every third held out) and the errors those of the per-layer linear-operator time on the held-out ones;
# there are no end-to-end measurements (e2e_* are 0).
)";
  std::string s = catalog::coefficients_yaml(c);
  s.insert(s.find('\n') + 1, kHeader);
  return s;
}

}  // namespace greenfleet::calibration
