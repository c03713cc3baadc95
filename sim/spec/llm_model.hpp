#pragma once
#include <cstdint>
#include <string>

namespace greenfleet::spec {

// The shape of a decoder-only transformer, as read from models/llm/<id>.yaml.
struct LlmModel {
  std::string id;
  std::string name;
  int layers = 0;
  int hidden_size = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int ffn_size = 0;
  int vocab_size = 0;
  int max_context = 0;
  bool gated_mlp = true;
  bool tied_embeddings = false;
  double bytes_per_param = 2;  // from dtype
  double published_params_b = 0;

  // Parameters of the transformer layers (the matrices every token multiplies through).
  double layer_parameters() const {
    const double q = static_cast<double>(heads) * head_dim;
    const double kv = static_cast<double>(kv_heads) * head_dim;
    const double attn = hidden_size * q + 2.0 * hidden_size * kv + q * hidden_size;
    const double mlp = (gated_mlp ? 3.0 : 2.0) * hidden_size * static_cast<double>(ffn_size);
    return layers * (attn + mlp);
  }
  // Parameters counted from the shape (norms and biases are < 0.1% and left out).
  double parameters() const {
    const double emb = static_cast<double>(vocab_size) * hidden_size * (tied_embeddings ? 1.0 : 2.0);
    return layer_parameters() + emb;
  }
  double weight_bytes() const { return parameters() * bytes_per_param; }
  // Key and value vectors of one token across all layers.
  double kv_bytes_per_token() const { return 2.0 * layers * kv_heads * head_dim * bytes_per_param; }
};

}  // namespace greenfleet::spec
