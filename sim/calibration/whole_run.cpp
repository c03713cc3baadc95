#include "sim/calibration/whole_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "sim/calibration/sample_stats.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/metrics/request_metrics.hpp"
#include "sim/runner/simulation.hpp"

namespace greenfleet::calibration {

namespace {

// First-token and completion times of every request, and when the first step started (the batch's clock).
class BatchProbe final : public serving::ServingObserver {
 public:
  unsigned signals() const override { return kRequests; }
  void on_request_done(std::uint32_t, const serving::RequestState& r) override {
    if (r.status != serving::RequestStatus::kCompleted) return;
    const auto t = metrics::timings_of(r, {});
    start_ = std::min(start_, r.first_scheduled);
    last_completion_ = std::max(last_completion_, r.completion);
    first_tokens_.push_back(r.first_token);
    if (r.spec.output_tokens > 1) itl_.push_back(t.tpot_s);
    tokens_ += r.spec.output_tokens;
  }
  core::SimTime start_ = INT64_MAX, last_completion_ = 0;
  std::vector<core::SimTime> first_tokens_;
  std::vector<double> itl_;
  std::int64_t tokens_ = 0;
};

// The first server (in id order) of the GPU with room for the TP degree: one instance per TP GPUs.
const spec::ServerSku& server_for(const catalog::Catalog& catalog, const WholeRunCase& c, std::string& id) {
  for (const auto& [sku_id, sku] : catalog.servers())
    if (sku.gpu == c.gpu && sku.gpu_count >= c.tp) {
      id = sku_id;
      return sku;
    }
  throw core::InputError(
      fmt::format("whole-run validation: no server of GPU '{}' holds tensor_parallel {}", c.gpu, c.tp));
}

double signed_error(double predicted, double measured) { return 100 * (predicted - measured) / measured; }

}  // namespace

WholeRunResult simulate_whole_run(const catalog::Catalog& catalog, const WholeRunCase& c) {
  std::string sku_id;
  const spec::ServerSku& sku = server_for(catalog, c, sku_id);
  const int instances = sku.gpu_count / c.tp;
  experiment::LoadOptions lo;
  auto& o = lo.overrides;
  o.push_back("deployments.0.model=" + c.model);
  o.push_back(fmt::format("deployments.0.tensor_parallel={}", c.tp));
  if (!c.preset.empty()) o.push_back("deployments.0.scheduler.preset=" + c.preset);
  o.push_back(fmt::format("deployments.0.scheduler.max_num_seqs={}", c.max_num_seqs));
  o.push_back(fmt::format("deployments.0.scheduler.max_batched_tokens={}", c.max_batched_tokens));
  o.push_back(fmt::format("deployments.0.scheduler.chunked_prefill={}", c.chunked_prefill ? "true" : "false"));
  o.push_back("fleet.0.sku=" + sku_id);
  o.push_back(fmt::format("workload.synthetic.requests={}", static_cast<std::int64_t>(c.batch) * instances));
  o.push_back(fmt::format("workload.synthetic.prompt_tokens.value={}", c.prompt));
  o.push_back(fmt::format("workload.synthetic.output_tokens.value={}", c.output));
  const auto file = std::filesystem::path(catalog.root()) / "models" / "validation" / "whole_run.yaml";
  const experiment::Experiment x = experiment::load_experiment(file.string(), catalog, lo);
  runner::Simulation sim(x, catalog);
  BatchProbe probe;
  sim.add_observer(&probe);
  sim.run();
  WholeRunResult r;
  r.requests = c.batch * instances;
  r.completed = static_cast<int>(probe.first_tokens_.size());
  if (r.completed == 0) return r;
  r.batch_latency_s = core::to_seconds(probe.last_completion_ - probe.start_);
  std::vector<double> ttft;
  for (auto t : probe.first_tokens_) ttft.push_back(core::to_seconds(t - probe.start_));
  r.ttft_s = sample_median(ttft);
  if (!probe.itl_.empty()) r.itl_s = sample_median(probe.itl_);
  if (r.batch_latency_s > 0) r.throughput = static_cast<double>(probe.tokens_) / r.batch_latency_s / instances;
  const auto& ledger = sim.ledger();
  r.gpu_j_per_token = (ledger.phase(energy::kPrefill).energy_gpu + ledger.phase(energy::kDecode).energy_gpu) /
                      static_cast<double>(probe.tokens_);
  return r;
}

WholeRunErrors splitwise_whole_run_errors(const catalog::Catalog& catalog, const MeasuredSet& set) {
  WholeRunErrors e;
  std::vector<double> ape;
  for (const auto& p : set.points) {
    if (!p.held_out || p.excluded || p.truncated) continue;  // the points e2e_errors checks
    // A request longer than the model's context is rejected by the simulator, as by vLLM (the profiler ran
    // Llama-2-70B on 8,192-token prompts, beyond its 4,096-token context): counted, not replayed.
    if (p.prompt + p.output > catalog.model(set.model).max_context) {
      ++e.beyond_context;
      continue;
    }
    WholeRunCase c;
    c.gpu = set.gpu, c.model = set.model, c.tp = set.tensor_parallel;
    c.batch = p.batch, c.prompt = p.prompt, c.output = p.output;
    c.chunked_prefill = false;
    c.max_batched_tokens = std::max(4096, p.batch * p.prompt);
    const WholeRunResult r = simulate_whole_run(catalog, c);
    const double err = r.completed == r.requests ? signed_error(r.batch_latency_s, p.e2e_s) : 100.0;
    e.signed_errors.push_back(err);
    ape.push_back(std::abs(err));
  }
  e.latency = ape_stats(ape);
  if (!e.signed_errors.empty()) e.bias = sample_median(e.signed_errors);
  return e;
}

MlEnergyWholeRun ml_energy_whole_run(const catalog::Catalog& catalog, const MlEnergyConfig& c) {
  WholeRunCase w;
  w.gpu = c.gpu, w.model = c.model, w.tp = c.tp;
  w.max_num_seqs = std::max(1, static_cast<int>(std::lround(c.batch)));
  w.batch = 4 * w.max_num_seqs;
  w.prompt = static_cast<int>(std::lround(ml_energy_prompt_tokens(c.task)));
  w.output = std::max(2, static_cast<int>(std::lround(c.output_tokens)));
  w.preset = "vllm-v1";
  w.chunked_prefill = true;
  w.max_batched_tokens = std::max(2048, w.max_num_seqs);
  MlEnergyWholeRun m;
  m.result = simulate_whole_run(catalog, w);
  m.itl_error = signed_error(m.result.itl_s, c.median_itl_s);
  m.throughput_error = signed_error(m.result.throughput, c.throughput);
  return m;
}

MlEnergyPrediction engine_2023_whole_run(const catalog::Catalog& catalog, const MlEnergy2023Row& row) {
  WholeRunCase w;
  w.gpu = row.gpu, w.model = row.model, w.tp = 1;
  w.batch = 1, w.max_num_seqs = 1;
  w.prompt = static_cast<int>(std::lround(ml_energy_prompt_tokens("chat")));
  w.output = std::max(2, static_cast<int>(std::lround(row.output_tokens)));
  w.preset = "fastchat-hf-2023";
  w.chunked_prefill = false;
  w.max_batched_tokens = std::max(2048, catalog.model(row.model).max_context);
  const WholeRunResult r = simulate_whole_run(catalog, w);
  MlEnergyPrediction p;
  if (r.completed != r.requests || r.batch_latency_s <= 0) return p;
  p.itl_s = r.batch_latency_s / w.output;
  p.throughput = 1 / p.itl_s;
  p.j_per_token = r.gpu_j_per_token;
  p.gpu_w = p.j_per_token / p.itl_s;
  return p;
}

}  // namespace greenfleet::calibration
