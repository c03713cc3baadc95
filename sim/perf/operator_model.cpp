#include "sim/perf/operator_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace greenfleet::perf {

namespace {

// KV heads held by one TP shard: heads are split across shards, and replicated where there are fewer heads
// than shards (vLLM's rule for grouped-query attention).
double kv_heads_per_shard(const LlmModel& m, int tp) {
  return std::max(1, (m.kv_heads + tp - 1) / tp);
}

BatchShape prefill(std::int64_t tokens, std::int64_t prompt) {
  BatchShape s;
  const std::int64_t seqs = tokens / prompt;
  s.prefill_tokens = tokens;
  s.prefill_seqs = s.prefill_final_chunks = static_cast<std::int32_t>(seqs);
  s.prefill_attn_ctx =
      static_cast<double>(seqs) * (static_cast<double>(prompt) * static_cast<double>(prompt + 1) / 2);
  s.prefill_kv_tokens = tokens;
  return s;
}

}  // namespace

OperatorModel::OperatorModel(OperatorModelSpec spec) : spec_(std::move(spec)) {
  const LlmModel& m = spec_.model;
  const double tp = spec_.tensor_parallel;
  layers_ = m.layers;
  allreduce_bytes_per_token_ = static_cast<double>(m.hidden_size) * m.bytes_per_param;
  // LM head (hidden x vocabulary) against one layer's matrices.
  lm_head_ratio_ = static_cast<double>(m.vocab_size) * m.hidden_size / (m.layer_parameters() / m.layers);
  const double heads = m.heads / tp;
  // Prefill attention: QK^T and AV, 2 FLOPs per multiply-add each, per head and attended position.
  flop_s_per_position_ = layers_ * 4.0 * heads * m.head_dim / (spec_.gpu.fp16_tflops * 1e12);
  // Decode attention: vLLM's paged-attention kernel runs one thread block per query head, each reading the
  // keys and values of its KV head (csrc/attention/attention_kernels: kv_head_idx = head_idx /
  // num_queries_per_kv), so the bytes streamed scale with the query heads; a KV head shared by several query
  // heads is read once per head unless the cache catches it, which the fitted factor absorbs.
  read_s_per_ctx_ =
      layers_ * 2.0 * heads * m.head_dim * m.bytes_per_param / (spec_.gpu.memory_bandwidth_gbps * 1e9);
  if (spec_.tensor_parallel > 1) {
    // Two all-reduces per layer (after attention and after the MLP), each a ring of 2 (t - 1) steps moving
    // 2 (t - 1) / t of the message per GPU.
    hops_ = 2.0 * layers_ * 2.0 * (tp - 1);
    ring_s_per_token_ = 2.0 * layers_ * 2.0 * (tp - 1) / tp * allreduce_bytes_per_token_ /
                        (spec_.gpu.link_bandwidth_gbps * 1e9);
  }
}

double OperatorModel::token_seconds(double tokens, double sampled) const {
  if (tokens <= 0) return 0;
  const double comm =
      spec_.tensor_parallel > 1 ? 2.0 * spec_.all_reduce.seconds(tokens * allreduce_bytes_per_token_) : 0.0;
  const double lm_head = sampled > 0 ? spec_.linear.at(sampled) * lm_head_ratio_ : 0.0;
  const double stack =
      spec_.stack.hop_latency_s * hops_ + spec_.stack.ring_byte_factor * ring_seconds(tokens);
  return layers_ * (spec_.linear.at(tokens) + comm) + spec_.emb.at(tokens) + lm_head + stack;
}

StepCost OperatorModel::step_cost(const BatchShape& s) const {
  StepCost c;
  const double tokens = static_cast<double>(s.tokens());
  if (tokens <= 0) return c;
  const double shared = token_seconds(tokens, s.prefill_final_chunks + s.decode_seqs);
  const double attn_prefill = per_attn_ctx_s() * s.prefill_attn_ctx;
  const double attn_decode = per_decode_ctx_s() * static_cast<double>(s.decode_ctx);
  c.busy_seconds = shared + attn_prefill + attn_decode;
  c.seconds = spec_.stack.step_overhead_s + c.busy_seconds;
  // The token-proportional time is shared by the phases in proportion to their tokens.
  const double prefill_work = shared * static_cast<double>(s.prefill_tokens) / tokens + attn_prefill;
  c.prefill_share = c.busy_seconds > 0 ? prefill_work / c.busy_seconds : 0.0;
  return c;
}

DecodeCost OperatorModel::decode_cost(std::int32_t batch) const {
  DecodeCost d;
  d.batch = batch;
  d.fixed = d.overhead = spec_.stack.step_overhead_s;
  d.a1 = d.a2 = token_seconds(batch, batch);
  d.b1 = d.b2 = per_decode_ctx_s();
  return d;
}

StackFit fit_stack(const std::string& architecture, const std::string& source,
                   const std::vector<std::pair<OperatorModel, MeasuredSet>>& bare) {
  std::vector<std::vector<double>> f;
  std::vector<double> y, w, base;
  for (const auto& [m, set] : bare) {
    for (const auto& p : set.points) {
      if (p.held_out || p.excluded) continue;
      const double tokens = static_cast<double>(p.batch) * p.prompt;
      const BatchShape pre = prefill(static_cast<std::int64_t>(tokens), p.prompt);
      base.push_back(m.step_seconds(pre));
      f.push_back(
          {1.0, m.attention_flop_seconds(pre.prefill_attn_ctx), 0.0, m.ring_hops(), m.ring_seconds(tokens)});
      y.push_back(p.prefill_s);
      if (p.truncated) continue;  // its decode time belongs to an unknown generation length
      // The measured decode time is the mean over output - 1 iterations starting at context batch x (prompt +
      // 1).
      const double mean_ctx = static_cast<double>(p.batch) * (p.prompt + 1) + p.batch * (p.output - 2) / 2.0;
      base.push_back(m.token_seconds(p.batch, p.batch));
      f.push_back({1.0, 0.0, m.kv_read_seconds(mean_ctx), m.ring_hops(), m.ring_seconds(p.batch)});
      y.push_back(p.decode_s);
    }
  }
  if (f.size() < 5)
    throw std::runtime_error("calibration: too few SplitwiseSim steps to fit the " + architecture + " stack");
  std::vector<double> target(y.size());
  for (std::size_t i = 0; i < y.size(); ++i) target[i] = y[i] - base[i], w.push_back(1.0 / y[i]);
  const auto c = fit_weighted_least_squares(f, target, w);
  StackFit s;
  s.architecture = architecture, s.source = source;
  s.step_overhead_s = c[0], s.attn_compute_factor = c[1], s.attn_bandwidth_factor = c[2];
  s.hop_latency_s = c[3], s.ring_byte_factor = c[4];
  s.training_points = static_cast<int>(y.size());
  std::vector<double> ape;
  for (std::size_t i = 0; i < y.size(); ++i) {
    double pred = base[i];
    for (std::size_t j = 0; j < c.size(); ++j) pred += c[j] * f[i][j];
    ape.push_back(100 * std::abs(pred - y[i]) / y[i]);
  }
  s.training = ape_stats(ape);
  return s;
}

std::vector<BatchShape> derivation_grid(int max_context) {
  std::vector<BatchShape> grid;
  for (std::int64_t tokens = 16; tokens <= 16384; tokens *= 2)
    for (std::int64_t prompt = 16; prompt <= std::min<std::int64_t>({8192, tokens, max_context}); prompt *= 2)
      grid.push_back(prefill(tokens, prompt));
  for (std::int32_t batch = 1; batch <= 256; ++batch)
    for (std::int64_t per_seq : {128, 512, 2048, 8192}) {
      if (per_seq > max_context) continue;
      BatchShape s;
      s.decode_seqs = batch;
      s.decode_ctx = batch * per_seq;
      grid.push_back(s);
    }
  return grid;
}

CalibrationCoefficients derive_coefficients(const OperatorModel& m) {
  CalibrationCoefficients c;
  const auto& spec = m.spec();
  c.gpu = spec.gpu.id, c.model = spec.model.id, c.tensor_parallel = spec.tensor_parallel;
  c.per_attn_ctx = m.per_attn_ctx_s();
  c.per_decode_ctx = m.per_decode_ctx_s();
  std::vector<double> px, py, poff, pw, dx, dy, dw;
  for (const BatchShape& s : derivation_grid(spec.model.max_context)) {
    const double y = m.step_seconds(s);
    if (s.prefill_seqs > 0) {
      // Prefill: max(floor, fixed + t x tokens + a x positions), the attention term inside the line.
      px.push_back(static_cast<double>(s.prefill_tokens)), py.push_back(y);
      poff.push_back(c.per_attn_ctx * s.prefill_attn_ctx), pw.push_back(1.0 / y);
    } else {
      // Decode: max(floor, fixed + s x batch) + k x context; the target is the step less its context term,
      // weighted by the whole step.
      dx.push_back(s.decode_seqs), dy.push_back(y - c.per_decode_ctx * static_cast<double>(s.decode_ctx));
      dw.push_back(1.0 / y);
    }
  }
  const HingeLine pre = fit_hinge(px, py, poff, pw);
  c.prefill_floor = pre.floor, c.prefill_fixed = pre.fixed, c.per_prefill_token = pre.slope;
  const HingeLine dec = fit_hinge(dx, dy, std::vector<double>(dx.size(), 0.0), dw);
  c.decode_floor = dec.floor, c.decode_fixed = dec.fixed, c.per_decode_seq = dec.slope;
  return c;
}

ErrorStats approximation_errors(const PerfModel& derived, const OperatorModel& m) {
  std::vector<double> ape;
  for (const BatchShape& s : derivation_grid(m.spec().model.max_context)) {
    const double y = m.step_seconds(s);
    ape.push_back(100 * std::abs(derived.step_seconds(s) - y) / y);
  }
  return ape_stats(ape);
}

bool fits_in_memory(const LlmModel& model, const fleet::GpuSpec& gpu, int tp) {
  const double kv_per_token =
      2.0 * model.layers * kv_heads_per_shard(model, tp) * model.head_dim * model.bytes_per_param;
  const double need = model.weight_bytes() / tp + kv_per_token * model.max_context;
  return need <= 0.9 * gpu.memory_gb * 1e9;
}

}  // namespace greenfleet::perf
