#pragma once
#include <cstdint>

namespace greenfleet::perf {

// What one engine step computes, in the terms every performance model prices. Prefill chunks contribute tokens
// and attention context (a chunk of n tokens after p cached ones attends to n*p + n(n+1)/2 positions); decode
// sequences contribute one token each and the context they attend to.
struct BatchShape {
  std::int64_t prefill_tokens = 0;
  std::int32_t prefill_seqs = 0;
  std::int32_t prefill_final_chunks = 0;  // chunks that finish their prefill and so sample a token
  double prefill_attn_ctx = 0;            // sum over prefill tokens of the positions each attends to
  std::int64_t prefill_kv_tokens = 0;     // sum over chunks of (cached + chunk) tokens whose KV the chunk touches
  std::int32_t decode_seqs = 0;
  std::int64_t decode_ctx = 0;  // sum over decode sequences of their context length this iteration

  std::int64_t tokens() const { return prefill_tokens + decode_seqs; }
};

}  // namespace greenfleet::perf
