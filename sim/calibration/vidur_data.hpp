#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"

namespace greenfleet::calibration {

// Vidur's per-operator GPU profiling (GitHub microsoft/vidur, data/profiling/;
// ../shared/data/profiling/vidur/, whose SOURCE.md describes the files). Times are read in milliseconds and
// kept in seconds.

// One token count of one (GPU, model, TP degree) in compute/<gpu>/<org>/<model>/mlp.csv.
struct OperatorPoint {
  std::int64_t tokens = 0;
  // One transformer layer on one TP shard: the sum of the medians of its linear-path operators.
  double linear_s = 0;
  double emb_s = 0;  // the embedding lookup (once per step, not per layer)
  bool held_out = false;
};

struct OperatorSet {
  std::string gpu, model;  // catalog ids
  std::string source;      // the file, relative to the data directory
  int tensor_parallel = 1;
  // By tokens; repeated token counts collapsed to the median of their rows.
  std::vector<OperatorPoint> points;
};

// The operators of one layer's linear path summed into OperatorPoint::linear_s (everything but attention,
// which the files do not hold). The first four (the GEMMs) are required; the others are summed where the file
// has them (phi-2's parallel attention and MLP block has one layer norm, so its files have no
// post_attention_layernorm).
inline constexpr const char* kVidurLinearOperators[] = {"attn_pre_proj",
                                                        "attn_post_proj",
                                                        "mlp_up_proj",
                                                        "mlp_down_proj",
                                                        "input_layernorm",
                                                        "attn_rope",
                                                        "post_attention_layernorm",
                                                        "mlp_act",
                                                        "add"};
inline constexpr int kVidurRequiredOperators = 4;

// Reads one mlp.csv (columns by name, text/csv_columns.hpp) for catalog `model` on catalog `gpu`, one set per
// TP degree, with the token counts held out by is_held_out (in sorted order). A row whose n_head, n_kv_head,
// n_embd, n_expanded_embd or use_gated_mlp disagrees with the catalog model, whose fields do not parse, or
// whose operator medians are not positive (the relative fits divide by them) is an error naming file:line and
// the column. `source` names the file in coefficient files (a path independent of where the data is).
std::vector<OperatorSet> read_vidur_mlp(const std::string& path, const std::string& source, const std::string& gpu,
                                        const spec::LlmModel& model);

// Every compute/<gpu>/<org>/<model>/mlp.csv under `data_dir`/profiling/vidur, in sorted order, with Vidur's
// GPU and model names mapped to catalog ids (vidur_gpu_id, vidur_model_id). Skipped, with their rows counted
// in `skipped` under what and why: files of GPUs or models without a mapping or missing from `catalog`
// ("<model> on <gpu> (not in the catalog)"), and mlp.csv files at another depth under compute/.
std::vector<OperatorSet> read_vidur_compute(const std::string& data_dir, const catalog::Catalog& catalog,
                                            std::map<std::string, int>& skipped);

// Catalog ids of Vidur's directory names; empty when there is none.
std::string vidur_gpu_id(const std::string& vidur_gpu);
std::string vidur_model_id(const std::string& vidur_model);

// One message size of an all-reduce among `workers` GPUs of one node (network/<node>/all_reduce.csv).
struct AllReducePoint {
  std::int64_t elements = 0;  // fp16 elements (2 bytes each)
  double seconds = 0;
  bool held_out = false;
};

struct AllReduceSet {
  std::string gpu, source;
  int workers = 0;
  std::vector<AllReducePoint> points;  // by size, held out by is_held_out
};

// Reads one all_reduce.csv: only rows with every worker on one node (num_workers == devices_per_node), the
// setting of tensor parallelism inside a server; the multi-node rows are counted in `skipped`. A row of
// another collective than all_reduce, or whose median time or size is not positive, is an error naming
// file:line and the column.
std::vector<AllReduceSet> read_vidur_all_reduce(const std::string& path, const std::string& source,
                                                const std::string& gpu, std::map<std::string, int>& skipped);

// The all-reduce files used, per catalog GPU: the DGX node files (NVSwitch, all GPUs of the server), which
// match the SXM GPUs of the catalog and the DGX machines SplitwiseSim measured. The A40 has none.
std::map<std::string, std::string> vidur_all_reduce_files();

}  // namespace greenfleet::calibration
