#include "sim/study/compare.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>

#include "sim/core/error.hpp"
#include "sim/output/hdf5_file.hpp"
#include "sim/output/summary.hpp"

namespace greenfleet::study {

namespace h5 = output::h5;
__extension__ using u128 = unsigned __int128;

namespace {

bool has_link(hid_t parent, const std::string& name) { return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0; }

template <class T>
std::vector<T> read_dataset(hid_t parent, const std::string& name, std::size_t* cols = nullptr) {
  h5::Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  // Errors of a file's content are std::runtime_error: load_run names the file (not a readable output).
  if (!d) throw std::runtime_error(fmt::format("cannot open dataset {}", name));
  h5::Handle space(H5Dget_space(d.get()), H5Sclose);
  hsize_t dims[2] = {0, 1};
  const int rank = H5Sget_simple_extent_ndims(space.get());
  // Columns are 1-D and /timeseries matrices 2-D; another shape (a file another program changed) would overrun
  // `dims`.
  if (rank < 1 || rank > (cols ? 2 : 1))
    throw std::runtime_error(
        fmt::format("dataset {} has {} dimensions, not {}", name, rank, cols ? "1 or 2" : "1"));
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  if (cols) *cols = rank == 2 ? dims[1] : 1;
  std::vector<T> out(static_cast<std::size_t>(dims[0] * (rank == 2 ? dims[1] : 1)));
  if (!out.empty())
    h5::check(H5Dread(d.get(), h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name);
  return out;
}

std::vector<double> row_sums(hid_t group, const std::string& name) {
  std::size_t cols = 1;
  const auto m = read_dataset<double>(group, name, &cols);
  std::vector<double> out(cols ? m.size() / cols : 0, 0.0);
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t c = 0; c < cols; ++c) out[i] += m[i * cols + c];
  return out;
}

double attr_number(hid_t obj, const std::string& name) {
  for (const auto& a : h5::read_attrs(obj))
    if (a.name == name) return a.number;
  return kNaN;
}

constexpr int kPercentiles[3] = {50, 90, 99};

// Per-block sums and per-block request lists of one run.
struct Blocks {
  int k = 0;
  std::vector<std::vector<std::uint32_t>> completed;  // indices of completed requests, per block
  std::vector<double> arrivals, done, met, out_tokens, tokens, done_on, met_on, done_off, met_off;
  std::vector<double> energy, op, emb;
  // p50, p90, p99 of a request column for a draw, computed together on the first request for any of them.
  mutable std::map<std::pair<const void*, const void*>, std::array<double, 3>> percentiles;
};

Blocks make_blocks(const RunData& r, int k) {
  Blocks b;
  b.k = k;
  auto z = [&] { return std::vector<double>(static_cast<std::size_t>(k), 0.0); };
  b.completed.resize(static_cast<std::size_t>(k));
  b.arrivals = z(), b.done = z(), b.met = z(), b.out_tokens = z(), b.tokens = z(), b.done_on = z();
  b.met_on = z(), b.done_off = z(), b.met_off = z(), b.energy = z(), b.op = z(), b.emb = z();
  std::int64_t span = 1;
  for (auto a : r.arrival_ns) span = std::max(span, a + 1);
  auto block_of = [&](std::int64_t t) {
    const auto q = static_cast<std::int64_t>(
        (static_cast<u128>(std::max<std::int64_t>(t, 0)) * static_cast<u128>(k)) / static_cast<u128>(span));
    return static_cast<std::size_t>(std::min<std::int64_t>(q, k - 1));
  };
  const bool from_slots = r.slot_start_s.size() >= static_cast<std::size_t>(k);
  for (std::size_t i = 0; i < r.arrival_ns.size(); ++i) {
    const std::size_t bl = block_of(r.arrival_ns[i]);
    b.arrivals[bl] += 1;
    if (!from_slots) {
      b.energy[bl] += r.energy_j[i], b.op[bl] += r.operational_g[i], b.emb[bl] += r.embodied_g[i];
    }
    if (r.status[i] != 0) continue;
    b.completed[bl].push_back(static_cast<std::uint32_t>(i));
    b.done[bl] += 1;
    b.met[bl] += r.slo_met[i];
    b.out_tokens[bl] += r.output_tokens[i];
    b.tokens[bl] += static_cast<double>(r.prompt_tokens[i]) + r.output_tokens[i];
    if (r.cls[i] == 0) {
      b.done_on[bl] += 1, b.met_on[bl] += r.slo_met[i];
    } else {
      b.done_off[bl] += 1, b.met_off[bl] += r.slo_met[i];
    }
  }
  if (from_slots) {
    for (std::size_t s = 0; s < r.slot_start_s.size(); ++s) {
      const std::size_t bl = block_of(static_cast<std::int64_t>(std::llround(r.slot_start_s[s] * 1e9)));
      b.energy[bl] += r.slot_energy_j[s], b.op[bl] += r.slot_operational_g[s], b.emb[bl] += r.slot_embodied_g[s];
    }
  } else {
    for (int bl = 0; bl < k; ++bl) {
      b.energy[bl] += r.idle_energy_j / k, b.op[bl] += r.idle_operational_g / k,
          b.emb[bl] += r.idle_embodied_g / k;
    }
  }
  return b;
}

// A metric computed from a resample: block multiplicities `m` (sum = k).
using Stat = std::function<double(const RunData&, const Blocks&, const std::vector<int>&)>;

double msum(const std::vector<double>& v, const std::vector<int>& m) {
  double s = 0;
  for (std::size_t b = 0; b < v.size(); ++b) s += m[b] * v[b];
  return s;
}

Stat percentile_stat(const std::vector<float> RunData::*col, int pct, bool tpot) {
  return [col, pct, tpot](const RunData& r, const Blocks& b, const std::vector<int>& m) {
    const std::pair<const void*, const void*> key{&(r.*col), &m};
    auto it = b.percentiles.find(key);
    if (it == b.percentiles.end()) {
      std::vector<double> v;
      for (std::size_t bl = 0; bl < m.size(); ++bl)
        for (int rep = 0; rep < m[bl]; ++rep)
          for (auto i : b.completed[bl])
            if (!tpot || r.output_tokens[i] > 1) v.push_back((r.*col)[i]);
      // Nearest ranks in increasing order: each partial sort only needs the part above the previous rank.
      std::array<double, 3> q{kNaN, kNaN, kNaN};
      std::size_t from = 0;
      for (std::size_t k = 0; k < 3 && !v.empty(); ++k) {
        const std::size_t rank =
            std::max<std::size_t>((static_cast<std::size_t>(kPercentiles[k]) * v.size() + 99) / 100, 1) - 1;
        std::nth_element(v.begin() + static_cast<std::ptrdiff_t>(from),
                         v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
        q[k] = v[rank];
        from = rank;
      }
      it = b.percentiles.emplace(key, q).first;
    }
    return it->second[pct == 50 ? 0 : pct == 90 ? 1 : 2];
  };
}

double ratio(double a, double b) { return b != 0 ? a / b : kNaN; }

struct MetricDef {
  std::string key;
  Stat stat;  // empty: no bootstrap interval
};

std::vector<MetricDef> metric_defs() {
  using B = const Blocks&;
  using M = const std::vector<int>&;
  using R = const RunData&;
  std::vector<MetricDef> d;
  d.push_back({"carbon_kg", [](R, B b, M m) { return (msum(b.op, m) + msum(b.emb, m)) / 1000; }});
  d.push_back({"operational_kg", [](R, B b, M m) { return msum(b.op, m) / 1000; }});
  d.push_back({"operational_gpu_kg", {}});
  d.push_back({"operational_host_kg", {}});
  d.push_back({"embodied_kg", [](R, B b, M m) { return msum(b.emb, m) / 1000; }});
  d.push_back({"embodied_gpu_kg", {}});
  d.push_back({"embodied_host_kg", {}});
  d.push_back({"idle_carbon_kg", {}});
  d.push_back({"energy_it_kwh", [](R, B b, M m) { return msum(b.energy, m) / 3.6e6; }});
  d.push_back({"energy_gpu_kwh", {}});
  d.push_back({"energy_host_kwh", {}});
  d.push_back({"energy_facility_kwh", {}});
  d.push_back({"g_per_1k_tokens",
               [](R, B b, M m) { return ratio(msum(b.op, m) + msum(b.emb, m), msum(b.tokens, m) / 1000); }});
  for (const char* name : {"ttft", "tpot", "e2e"}) {
    const std::string n = name;
    const auto col = n == "ttft" ? &RunData::ttft_s : n == "tpot" ? &RunData::tpot_s : &RunData::e2e_s;
    for (int pct : {50, 90, 99})
      d.push_back({fmt::format("{}_p{}_s", n, pct), percentile_stat(col, pct, n == "tpot")});
  }
  d.push_back({"slo_attainment", [](R, B b, M m) { return ratio(msum(b.met, m), msum(b.arrivals, m)); }});
  d.push_back({"slo_attainment_online", [](R, B b, M m) { return ratio(msum(b.met_on, m), msum(b.done_on, m)); }});
  d.push_back(
      {"slo_attainment_offline", [](R, B b, M m) { return ratio(msum(b.met_off, m), msum(b.done_off, m)); }});
  d.push_back({"goodput_rps", [](R r, B b, M m) { return ratio(msum(b.met, m), r.simulated_seconds); }});
  d.push_back({"throughput_rps", [](R r, B b, M m) { return ratio(msum(b.done, m), r.simulated_seconds); }});
  d.push_back(
      {"output_tokens_per_s", [](R r, B b, M m) { return ratio(msum(b.out_tokens, m), r.simulated_seconds); }});
  return d;
}

// Multiplicities of each block in each resample drawn from `seed`.
std::vector<std::vector<int>> draws(const BootstrapSpec& spec, std::uint64_t seed) {
  SplitMix64 rng{seed};
  std::vector<std::vector<int>> out(static_cast<std::size_t>(spec.resamples),
                                    std::vector<int>(static_cast<std::size_t>(spec.blocks), 0));
  for (auto& m : out)
    for (int i = 0; i < spec.blocks; ++i) ++m[rng.next() % static_cast<std::uint64_t>(spec.blocks)];
  return out;
}

// The 2.5% and 97.5% order statistics of the resampled values: sorted[floor(0.025 R)], sorted[ceil(0.975 R) - 1].
std::pair<double, double> percentile_interval(std::vector<double> v) {
  for (double x : v)
    if (!std::isfinite(x)) return {kNaN, kNaN};
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return {v[(25 * n) / 1000], v[(975 * n + 999) / 1000 - 1]};
}

void flatten(const YAML::Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      flatten(kv.second, path.empty() ? k : path + "." + k, out);
    }
  } else if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) flatten(n[i], fmt::format("{}[{}]", path, i), out);
    if (n.size() == 0) out[path] = "[]";
  } else if (n.IsNull()) {
    out[path] = "~";
  } else {
    out[path] = n.Scalar();
  }
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? kNaN : s / static_cast<double>(v.size());
}
double variance(const std::vector<double>& v) {
  const double mu = mean(v);
  double s = 0;
  for (double x : v) s += (x - mu) * (x - mu);
  return v.size() > 1 ? s / static_cast<double>(v.size() - 1) : kNaN;
}

}  // namespace

namespace {
RunData load_run_file(const std::string& path);
}  // namespace

double nearest_rank(std::vector<double>& v, int pct) {
  if (v.empty()) return kNaN;
  const std::size_t n = v.size();
  std::size_t rank = (static_cast<std::size_t>(pct) * n + 99) / 100;
  rank = std::max<std::size_t>(rank, 1);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank - 1), v.end());
  return v[rank - 1];
}

double t975(double df) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (!(df >= 1)) return kNaN;
  const auto d = static_cast<int>(std::floor(df));
  if (d <= 30) return table[d - 1];
  const double z = 1.959964, x = static_cast<double>(d);
  return z + (z * z * z + z) / (4 * x) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * x * x);
}

std::map<std::string, std::string> flatten_yaml(const std::string& yaml) {
  std::map<std::string, std::string> out;
  flatten(YAML::Load(yaml), "", out);
  return out;
}

RunData load_run(const std::string& path) {
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw core::InputError(fmt::format("{}: is a directory; give a greenfleet output file", path));
  // A device or pipe (/dev/null) exists: say what it is, not "no such file".
  if (std::error_code ec; std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
    throw core::InputError(fmt::format("{}: not a regular file; give a greenfleet output file", path));
  if (!std::filesystem::is_regular_file(path)) throw core::InputError(fmt::format("{}: no such file", path));
  try {
    return load_run_file(path);
  } catch (const core::InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw core::InputError(fmt::format("{}: not a readable greenfleet output ({})", path, e.what()));
  }
}

namespace {

RunData load_run_file(const std::string& path) {
  RunData r;
  r.file = path;
  const h5::Handle f = h5::open_file_readonly(path);
  for (const auto& a : h5::read_attrs(f.get())) {
    if (a.name == "experiment") r.experiment = a.text;
    if (a.name == "git_revision") r.git_revision = a.text;
    if (a.name == "config_yaml") r.config_yaml = a.text;
    if (a.name == "workload_digest") r.workload_digest = a.text;
    if (a.name == "trace_digest") r.trace_digest = a.text;
    if (a.name == "seed") r.seed = static_cast<std::uint64_t>(a.number);
  }
  // Parsed here so that a configuration another program changed is this file's error (it was an internal error
  // where the groups' configurations are compared).
  (void)YAML::Load(r.config_yaml);
  for (const auto& item : output::read_summary(path).items) {
    r.summary_keys.push_back(item.key);
    r.summary_labels.push_back(item.label);
    r.summary[item.key] = item.value;
  }
  r.simulated_seconds = r.summary.count("simulated_seconds") ? r.summary["simulated_seconds"] : kNaN;
  if (has_link(f.get(), "requests")) {
    h5::Handle g = h5::open_group(f.get(), "requests");
    r.has_requests = true;
    r.arrival_ns = read_dataset<std::int64_t>(g.get(), "arrival_ns");
    r.prompt_tokens = read_dataset<std::int32_t>(g.get(), "prompt_tokens");
    r.output_tokens = read_dataset<std::int32_t>(g.get(), "output_tokens");
    r.cls = read_dataset<std::uint8_t>(g.get(), "class");
    r.status = read_dataset<std::uint8_t>(g.get(), "status");
    r.slo_met = read_dataset<std::uint8_t>(g.get(), "slo_met");
    r.ttft_s = read_dataset<float>(g.get(), "ttft_s");
    r.tpot_s = read_dataset<float>(g.get(), "tpot_s");
    r.e2e_s = read_dataset<float>(g.get(), "e2e_s");
    r.energy_j = read_dataset<float>(g.get(), "energy_j");
    r.operational_g = read_dataset<float>(g.get(), "operational_g");
    r.embodied_g = read_dataset<float>(g.get(), "embodied_g");
    // One row per request in every column: a shorter one (a file cut or changed by another program) would be
    // read past its end.
    const std::size_t n = r.arrival_ns.size();
    for (const auto& [name, size] : {std::pair<const char*, std::size_t>{"prompt_tokens", r.prompt_tokens.size()},
                                     {"output_tokens", r.output_tokens.size()},
                                     {"class", r.cls.size()},
                                     {"status", r.status.size()},
                                     {"slo_met", r.slo_met.size()},
                                     {"ttft_s", r.ttft_s.size()},
                                     {"tpot_s", r.tpot_s.size()},
                                     {"e2e_s", r.e2e_s.size()},
                                     {"energy_j", r.energy_j.size()},
                                     {"operational_g", r.operational_g.size()},
                                     {"embodied_g", r.embodied_g.size()}})
      if (size != n)
        throw core::InputError(
            fmt::format("{}: /requests/{} has {} rows, /requests/arrival_ns {}", path, name, size, n));
  }
  if (has_link(f.get(), "timeseries")) {
    h5::Handle g = h5::open_group(f.get(), "timeseries");
    r.slot_start_s = read_dataset<double>(g.get(), "slot_start_s");
    r.slot_energy_j = row_sums(g.get(), "energy_j");
    r.slot_operational_g = row_sums(g.get(), "operational_g");
    r.slot_embodied_g = row_sums(g.get(), "embodied_g");
    for (const auto& [name, size] : {std::pair<const char*, std::size_t>{"energy_j", r.slot_energy_j.size()},
                                     {"operational_g", r.slot_operational_g.size()},
                                     {"embodied_g", r.slot_embodied_g.size()}})
      if (size != r.slot_start_s.size())
        throw core::InputError(fmt::format("{}: /timeseries/{} has {} slots, /timeseries/slot_start_s {}", path,
                                           name, size, r.slot_start_s.size()));
  }
  if (has_link(f.get(), "carbon")) {
    h5::Handle g = h5::open_group(f.get(), "carbon");
    r.idle_energy_j = attr_number(g.get(), "idle_energy_j");
    r.idle_operational_g = attr_number(g.get(), "idle_operational_g");
    r.idle_embodied_g = attr_number(g.get(), "idle_embodied_g");
  }
  return r;
}

}  // namespace

CompareResult compare(const std::vector<std::vector<std::string>>& files, const BootstrapSpec& spec) {
  if (files.size() < 2) throw core::InputError("compare: give at least two runs (or groups of runs)");
  if (spec.resamples < 1 || spec.blocks < 1) throw core::InputError("compare: resamples and blocks must be >= 1");
  CompareResult res;
  res.bootstrap = spec;
  std::vector<std::vector<RunData>> groups;
  for (const auto& g : files) {
    if (g.empty()) throw core::InputError("compare: an empty group of runs (two `--` in a row?)");
    groups.emplace_back();
    GroupInfo info;
    info.files = g;
    for (const auto& path : g) {
      groups.back().push_back(load_run(path));
      info.seeds.push_back(groups.back().back().seed);
      // Replicas differ in their seed: a seed twice in a group (the same file, or a copy) would be one run counted
      // as two, and its t interval would claim a spread that was never measured.
      for (std::size_t i = 0; i + 1 < info.seeds.size(); ++i)
        if (info.seeds[i] == info.seeds.back())
          throw core::InputError(
              fmt::format("compare: {} and {} are in one group of replicas with the same seed "
                          "({}); replicas of a run differ in their seed",
                          g[i], path, info.seeds.back()));
    }
    info.experiment = groups.back()[0].experiment;
    info.workload_digest = groups.back()[0].workload_digest;
    info.trace_digest = groups.back()[0].trace_digest;
    res.groups.push_back(info);
  }
  const bool replicas = std::any_of(groups.begin(), groups.end(), [](const auto& g) { return g.size() > 1; });

  // Bootstrap state (single runs only).
  std::vector<Blocks> blocks;
  std::vector<std::vector<std::vector<int>>> draw;  // per group
  std::vector<bool> paired(groups.size(), false);
  if (!replicas) {
    for (std::size_t j = 0; j < groups.size(); ++j) {
      const RunData& r = groups[j][0];
      blocks.push_back(make_blocks(r, spec.blocks));
      paired[j] = j > 0 && !r.workload_digest.empty() && r.workload_digest == groups[0][0].workload_digest;
      draw.push_back(draws(spec, spec.seed + (paired[j] ? 0 : j)));
    }
  }

  const auto& base_keys = groups[0][0].summary_keys;
  for (const auto& def : metric_defs()) {
    const auto kit = std::find(base_keys.begin(), base_keys.end(), def.key);
    if (kit == base_keys.end()) continue;
    MetricRow row;
    row.key = def.key;
    row.label = groups[0][0].summary_labels[static_cast<std::size_t>(kit - base_keys.begin())];
    auto values = [&](std::size_t j) {
      std::vector<double> v;
      for (const auto& r : groups[j]) v.push_back(r.summary.count(def.key) ? r.summary.at(def.key) : kNaN);
      return v;
    };
    const std::vector<double> base_v = values(0);
    const double base = mean(base_v);
    // Baseline resamples, computed once.
    std::vector<double> base_stats;
    if (!replicas && def.stat && groups[0][0].has_requests)
      for (const auto& m : draw[0]) base_stats.push_back(def.stat(groups[0][0], blocks[0], m));
    for (std::size_t j = 0; j < groups.size(); ++j) {
      Comparison c;
      const std::vector<double> v = values(j);
      c.value = mean(v);
      c.diff = c.value - base;
      c.rel = base != 0 ? c.diff / base : kNaN;
      c.method = "none";
      if (j == 0) {
        c.diff = 0, c.rel = base != 0 ? 0 : kNaN;
        c.method = "baseline";
        row.runs.push_back(c);
        continue;
      }
      if (replicas) {
        const std::size_t na = base_v.size(), nb = v.size();
        std::vector<std::uint64_t> sa = res.groups[0].seeds, sb = res.groups[j].seeds;
        std::sort(sa.begin(), sa.end()), std::sort(sb.begin(), sb.end());
        if (na == nb && sa == sb && na > 1) {
          // Paired by seed: the t interval of the per-seed differences.
          std::vector<double> d, rel;
          for (std::size_t a = 0; a < na; ++a)
            for (std::size_t b = 0; b < nb; ++b)
              if (res.groups[0].seeds[a] == res.groups[j].seeds[b]) d.push_back(v[b] - base_v[a]);
          const double half = t975(static_cast<double>(d.size() - 1)) * std::sqrt(variance(d) / d.size());
          c.diff_lo = mean(d) - half, c.diff_hi = mean(d) + half;
          c.method = "paired-replicas-t";
        } else if (na > 1 && nb > 1) {
          const double va = variance(base_v) / na, vb = variance(v) / nb;
          const double se = std::sqrt(va + vb);
          const double df =
              (va + vb) == 0 ? 1e9 : (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
          c.diff_lo = c.diff - t975(df) * se, c.diff_hi = c.diff + t975(df) * se;
          c.method = "replicas-t";
        }
        if (c.method != "none" && base != 0) c.rel_lo = c.diff_lo / base, c.rel_hi = c.diff_hi / base;
      } else if (def.stat && groups[j][0].has_requests && groups[0][0].has_requests) {
        std::vector<double> d, rel;
        for (std::size_t s = 0; s < draw[j].size(); ++s) {
          const double x = def.stat(groups[j][0], blocks[j], draw[j][s]);
          d.push_back(x - base_stats[s]);
          rel.push_back(base_stats[s] != 0 ? (x - base_stats[s]) / base_stats[s] : kNaN);
        }
        std::tie(c.diff_lo, c.diff_hi) = percentile_interval(d);
        std::tie(c.rel_lo, c.rel_hi) = percentile_interval(rel);
        c.method = !std::isfinite(c.diff_lo) ? "none" : paired[j] ? "paired-block-bootstrap" : "block-bootstrap";
      }
      row.runs.push_back(c);
    }
    res.metrics.push_back(row);
  }

  // Configuration keys that differ from the baseline's (first file of each group; output.path left out).
  std::vector<std::map<std::string, std::string>> flat;
  std::set<std::string> all_keys;
  for (const auto& g : groups) {
    flat.push_back(flatten_yaml(g[0].config_yaml));
    for (const auto& kv : flat.back()) all_keys.insert(kv.first);
  }
  for (const auto& k : all_keys) {
    if (k == "output.path") continue;
    ConfigDifference d;
    d.key = k;
    bool differs = false;
    for (const auto& fm : flat) {
      const auto it = fm.find(k);
      d.values.push_back(it == fm.end() ? "(absent)" : it->second);
      differs = differs || d.values.back() != d.values.front();
    }
    if (differs) res.config.push_back(d);
  }
  return res;
}

}  // namespace greenfleet::study
