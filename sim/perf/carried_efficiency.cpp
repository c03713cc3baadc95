#include "sim/perf/carried_efficiency.hpp"

#include <algorithm>

#include "sim/perf/ring_all_reduce.hpp"

namespace greenfleet::perf {

namespace {
CarriedEfficiency carried_efficiency_where(std::span<const spec::CalibratedEntry> entries, const CarryQuery& query,
                                           const std::string& architecture, const std::string& model,
                                           bool measured, int tp);
}  // namespace

CarriedEfficiency carried_efficiency(std::span<const spec::CalibratedEntry> entries, const CarryQuery& query) {
  // Preference tiers, the first with entries averaged: entries fitted to whole-step measurements before
  // entries derived from operator timings (their efficiencies inherit the operator model's reconstructed
  // terms); the same architecture before others (validation only); the same model before other models. Above
  // one GPU, after the model's own measured entry at that TP degree come the architecture's measured
  // single-GPU entries (kernel efficiencies with no communication in them; the roofline adds its own
  // all-reduces), then measured entries of other models at that TP degree, whose decode floors also hold
  // their engine's all-reduce excess (docs/MODELS.md, "Roofline fallback").
  struct Tier {
    bool measured, same_arch, same_model, single_gpu;
  };
  static constexpr Tier kTiers[] = {{true, true, true, false},  {true, true, true, true},
                                    {true, true, false, true},  {true, true, false, false},
                                    {true, false, true, false}, {true, false, false, false},
                                    {false, true, true, false}, {false, true, false, false}};
  for (const Tier& t : kTiers) {
    if (!t.same_arch && !query.cross_architecture) continue;
    if (t.same_model && query.model.empty()) continue;
    if (t.single_gpu && query.tp == 1) continue;  // the tier at the query's own TP degree
    const CarriedEfficiency e =
        carried_efficiency_where(entries, query, t.same_arch ? query.architecture : "",
                                 t.same_model ? query.model : "", t.measured, t.single_gpu ? 1 : query.tp);
    if (e.entries) return e;
  }
  return {};
}

namespace {
// The average over the entries passing the filters (empty strings: any).
CarriedEfficiency carried_efficiency_where(std::span<const spec::CalibratedEntry> entries, const CarryQuery& query,
                                           const std::string& architecture, const std::string& model,
                                           bool measured, int tp) {
  // Only entries at TP degree `tp` carry (the query's, or 1 for the single-GPU tier): overheads and
  // communication change with TP, and a line
  // fitted across TP degrees of one large model does not transfer to other models (its intercept is not an
  // overhead). Per entry: the decode floor less the default overhead and the all-reduces the roofline adds
  // itself is the weight read, giving the bandwidth efficiency; the prefill slope per token gives the compute
  // one (below an entry's prefill knee: the rate of the chunk-sized steps simulations mostly run; the slope
  // above it carried worse, docs/MODELS.md "Prefill knee").
  const spec::RooflineParams defaults;
  CarriedEfficiency e;
  double bw = 0, comp = 0, overhead = 0;
  for (const spec::CalibratedEntry& entry : entries) {
    const spec::CalibrationCoefficients& c = *entry.coefficients;
    if (c.gpu == query.exclude_gpu || c.tensor_parallel != tp) continue;
    if (!model.empty() && c.model != model) continue;
    if ((c.origin == spec::CalibrationOrigin::kMeasured) != measured) continue;
    const spec::GpuSpec& gpu = *entry.gpu;
    if (!architecture.empty() && gpu.architecture != architecture) continue;
    const spec::LlmModel& m = *entry.model;
    const double t = c.tensor_parallel;
    // The roofline's two all-reduces per layer of one token's activations (RooflineModel::comm_seconds).
    const double per_all_reduce = ring_all_reduce_seconds(m.hidden_size * m.bytes_per_param, c.tensor_parallel,
                                                          gpu.link_bandwidth_gbps * 1e9) +
                                  defaults.allreduce_latency_s;
    const double comm = c.tensor_parallel > 1 ? 2.0 * m.layers * per_all_reduce : 0.0;
    // The entry's own step overhead where its derivation separated it, else the roofline's default.
    const double step_overhead = c.step_overhead > 0 ? c.step_overhead : defaults.step_overhead_s;
    const double weight_read_s = c.decode_floor - step_overhead - comm;
    if (weight_read_s <= 0) continue;
    bw += std::clamp(m.weight_bytes() / t / (gpu.memory_bandwidth_gbps * 1e9 * weight_read_s), 0.05, 1.0);
    const double matmul = 2.0 * m.layer_parameters();  // per token, all layers
    comp += std::clamp(matmul / t / (gpu.fp16_tflops * 1e12 * std::max(1e-12, c.per_prefill_token)), 0.05, 1.0);
    overhead += step_overhead;
    ++e.entries;
  }
  if (e.entries) {
    e.bandwidth = bw / e.entries;
    e.compute = comp / e.entries;
    e.step_overhead_s = overhead / e.entries;
  }
  return e;
}

}  // namespace

spec::RooflineParams with_carried(spec::RooflineParams base, const CarriedEfficiency& e) {
  if (e.entries == 0) return base;
  base.compute_efficiency = e.compute;
  base.bandwidth_efficiency = e.bandwidth;
  base.step_overhead_s = e.step_overhead_s;
  return base;
}

}  // namespace greenfleet::perf
