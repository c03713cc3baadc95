#pragma once
#include "sim/catalog/catalog.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/spec/llm_model.hpp"

namespace greenfleet::test {

// A one-layer model on hand-sized hardware (1 TFLOP/s, 1 TB/s at full efficiency), so step times are easy to
// work out on paper.
inline spec::LlmModel tiny_model() {
  spec::LlmModel m;
  m.id = "tiny";
  m.layers = 1;
  m.hidden_size = 1024;
  m.heads = 8;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn_size = 4096;
  m.vocab_size = 1000;
  m.max_context = 4096;
  m.gated_mlp = false;
  m.tied_embeddings = true;
  m.bytes_per_param = 2;
  return m;
}

inline spec::GpuSpec unit_gpu() {
  spec::GpuSpec g;
  g.fp16_tflops = 1;
  g.memory_bandwidth_gbps = 1000;
  g.link_bandwidth_gbps = 100;
  g.memory_gb = 80;
  return g;
}

// The tiny model on one unit GPU at full efficiency, with a fixed overhead per step.
inline perf::RooflineModel tiny_roofline(double step_overhead_s = 1e-3) {
  spec::RooflineParams p;
  p.compute_efficiency = 1;
  p.bandwidth_efficiency = 1;
  p.step_overhead_s = step_overhead_s;
  p.compute_memory_serial = 0;  // the classic roofline: the tests' hand computations take the larger term
  return perf::RooflineModel(tiny_model(), unit_gpu(), 1, p);
}

}  // namespace greenfleet::test
