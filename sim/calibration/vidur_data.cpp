#include "sim/calibration/vidur_data.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "sim/calibration/held_out.hpp"
#include "sim/calibration/sample_stats.hpp"
#include "sim/core/error.hpp"
#include "sim/text/csv_columns.hpp"

namespace greenfleet::calibration {

namespace fs = std::filesystem;

namespace {

// Every point in sorted order, held out by the shared rule.
template <class Points>
void mark_held_out(Points& points) {
  for (std::size_t i = 0; i < points.size(); ++i) points[i].held_out = is_held_out(i);
}

// The data rows of a CSV file (all lines but the header).
int data_rows(const std::string& path) {
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  int n = -1;
  while (rows.next_line()) ++n;
  return std::max(n, 0);
}

}  // namespace

std::string vidur_gpu_id(const std::string& vidur_gpu) {
  // SOURCE.md: a100 = A100 80GB (SXM, the DGX-A100 part), h100 = H100 (SXM), a40 = A40.
  static const std::map<std::string, std::string> ids = {
      {"a100", "a100-sxm-80gb"}, {"h100", "h100-sxm"}, {"a40", "a40"}};
  const auto it = ids.find(vidur_gpu);
  return it == ids.end() ? "" : it->second;
}

std::string vidur_model_id(const std::string& vidur_model) {
  // Meta-Llama-3-8B -> llama-3.1-8b is our mapping: the two have the same layer shapes (32 layers, hidden
  // 4096, 32 heads, 8 KV heads, FFN 14336, vocabulary 128256), and the catalog holds Llama-3.1 only.
  static const std::map<std::string, std::string> ids = {{"Llama-2-7b-hf", "llama-2-7b"},
                                                         {"Llama-2-70b-hf", "llama-2-70b"},
                                                         {"Meta-Llama-3-8B", "llama-3.1-8b"},
                                                         {"CodeLlama-34b-Instruct-hf", "codellama-34b"},
                                                         {"phi-2", "phi-2"}};
  const auto it = ids.find(vidur_model);
  return it == ids.end() ? "" : it->second;
}

std::map<std::string, std::string> vidur_all_reduce_files() {
  return {{"a100-sxm-80gb", "profiling/vidur/network/a100_dgx/all_reduce.csv"},
          {"h100-sxm", "profiling/vidur/network/h100_dgx/all_reduce.csv"}};
}

std::vector<OperatorSet> read_vidur_mlp(const std::string& path, const std::string& source, const std::string& gpu,
                                        const spec::LlmModel& model) {
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  const auto col = text::read_csv_header(rows);
  std::vector<std::string> ops;
  for (std::size_t i = 0; i < std::size(kVidurLinearOperators); ++i) {
    const std::string name = fmt::format("time_stats.{}.median", kVidurLinearOperators[i]);
    if (static_cast<int>(i) < kVidurRequiredOperators) text::require_column(rows, col, name);
    if (col.count(name)) ops.push_back(name);
  }
  for (const char* need : {"time_stats.emb.median", "n_head", "n_kv_head", "n_embd", "n_expanded_embd",
                           "use_gated_mlp", "num_tokens", "num_tensor_parallel_workers"})
    text::require_column(rows, col, need);
  // tp -> tokens -> (linear, emb) of each row
  std::map<int, std::map<std::int64_t, std::vector<std::pair<double, double>>>> groups;
  std::vector<std::string_view> f;
  while (rows.next_line()) {
    text::split_csv_row(rows, col, f);
    // The shape the row was profiled for must be the catalog model's: a mismatch means a wrong mapping.
    const std::pair<const char*, int> shape[] = {{"n_head", model.heads},
                                                 {"n_kv_head", model.kv_heads},
                                                 {"n_embd", model.hidden_size},
                                                 {"n_expanded_embd", model.ffn_size}};
    for (const auto& [name, want] : shape) {
      const int got = text::csv_number<int>(rows, f, col, name);
      if (got != want)
        rows.bad_row(fmt::format("column '{}' is {}, but catalog model '{}' has {}", name, got, model.id, want));
    }
    const std::string_view gated = f[col.at("use_gated_mlp")];
    if (gated != "True" && gated != "False")
      rows.bad_row(fmt::format("column 'use_gated_mlp': '{}' is neither True nor False", gated));
    if ((gated == "True") != model.gated_mlp)
      rows.bad_row(fmt::format("column 'use_gated_mlp' is {}, but catalog model '{}' has a {} MLP", gated,
                               model.id, model.gated_mlp ? "gated" : "plain"));
    const auto tokens = text::csv_number<std::int64_t>(rows, f, col, "num_tokens");
    const int tp = text::csv_number<int>(rows, f, col, "num_tensor_parallel_workers");
    if (tokens < 1) rows.bad_row(fmt::format("column 'num_tokens': {} is not positive", tokens));
    if (tp < 1) rows.bad_row(fmt::format("column 'num_tensor_parallel_workers': {} is not positive", tp));
    // Every median must be positive: the fits weigh each point by the inverse of its time.
    auto positive_ms = [&](const std::string& name) {
      const double ms = text::csv_number<double>(rows, f, col, name);
      if (!(ms > 0)) rows.bad_row(fmt::format("column '{}': {} is not positive", name, ms));
      return ms;
    };
    double linear = 0;
    for (const auto& op : ops) linear += positive_ms(op);
    const double emb = positive_ms("time_stats.emb.median");
    groups[tp][tokens].emplace_back(linear / 1000, emb / 1000);  // the file is in milliseconds
  }
  std::vector<OperatorSet> out;
  for (const auto& [tp, by_tokens] : groups) {
    OperatorSet set;
    set.gpu = gpu, set.model = model.id, set.source = source, set.tensor_parallel = tp;
    for (const auto& [tokens, reps] : by_tokens) {
      std::vector<double> lin, emb;
      for (const auto& [l, e] : reps) lin.push_back(l), emb.push_back(e);
      set.points.push_back({tokens, calibration::sample_median(lin), calibration::sample_median(emb), false});
    }
    mark_held_out(set.points);
    out.push_back(std::move(set));
  }
  return out;
}

std::vector<OperatorSet> read_vidur_compute(const std::string& data_dir, const catalog::Catalog& catalog,
                                            std::map<std::string, int>& skipped) {
  const fs::path root = fs::path(data_dir) / "profiling" / "vidur" / "compute";
  if (!fs::is_directory(root))
    throw core::InputError(fmt::format("{}: Vidur compute data not found", root.string()));
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "mlp.csv") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<OperatorSet> out;
  for (const auto& file : files) {
    const fs::path rel = file.lexically_relative(root);  // <gpu>/<org>/<model>/mlp.csv
    const std::string source = (fs::path("profiling") / "vidur" / "compute" / rel).generic_string();
    const std::vector<fs::path> parts(rel.begin(), rel.end());
    if (parts.size() != 4) {
      skipped[source + " (not at compute/<gpu>/<org>/<model>/mlp.csv)"] += data_rows(file.string());
      continue;
    }
    const std::string vgpu = parts[0].string(), vmodel = parts[2].string();
    const std::string gpu = vidur_gpu_id(vgpu), model = vidur_model_id(vmodel);
    if (gpu.empty() || model.empty() || !catalog.gpus().count(gpu) || !catalog.models().count(model)) {
      skipped[vmodel + " on " + vgpu + " (not in the catalog)"] += data_rows(file.string());
      continue;
    }
    auto sets = read_vidur_mlp(file.string(), source, gpu, catalog.model(model));
    for (auto& s : sets) out.push_back(std::move(s));
  }
  return out;
}

std::vector<AllReduceSet> read_vidur_all_reduce(const std::string& path, const std::string& source,
                                                const std::string& gpu, std::map<std::string, int>& skipped) {
  text::LineReader rows(path, text::BadRowPolicy::kError, "");
  const auto col = text::read_csv_header(rows);
  for (const char* need :
       {"time_stats.all_reduce.median", "num_workers", "size", "collective", "devices_per_node"})
    text::require_column(rows, col, need);
  std::map<int, std::map<std::int64_t, std::vector<double>>> groups;  // workers -> elements -> seconds
  std::vector<std::string_view> f;
  while (rows.next_line()) {
    text::split_csv_row(rows, col, f);
    if (const std::string_view c = f[col.at("collective")]; c != "all_reduce")
      rows.bad_row(fmt::format("column 'collective': '{}' is not all_reduce", c));
    const int workers = text::csv_number<int>(rows, f, col, "num_workers");
    const int per_node = text::csv_number<int>(rows, f, col, "devices_per_node");
    const auto elements = text::csv_number<std::int64_t>(rows, f, col, "size");
    const double ms = text::csv_number<double>(rows, f, col, "time_stats.all_reduce.median");
    if (!(ms > 0)) rows.bad_row(fmt::format("column 'time_stats.all_reduce.median': {} is not positive", ms));
    if (elements < 1) rows.bad_row(fmt::format("column 'size': {} is not positive", elements));
    if (workers != per_node) {  // spans nodes: not tensor parallelism inside a server
      ++skipped[source + " (all-reduce across nodes)"];
      continue;
    }
    groups[workers][elements].push_back(ms / 1000);
  }
  std::vector<AllReduceSet> out;
  for (const auto& [workers, by_size] : groups) {
    AllReduceSet set;
    set.gpu = gpu, set.source = source, set.workers = workers;
    for (const auto& [elements, reps] : by_size)
      set.points.push_back({elements, calibration::sample_median(reps), false});
    mark_held_out(set.points);
    out.push_back(std::move(set));
  }
  return out;
}

}  // namespace greenfleet::calibration
