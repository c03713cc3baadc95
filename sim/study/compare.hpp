#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace greenfleet::study {

// What `compare` reads from one output file.
struct RunData {
  std::string file, experiment, git_revision, config_yaml, workload_digest, trace_digest;
  std::uint64_t seed = 0;
  std::vector<std::string> summary_keys, summary_labels;
  std::map<std::string, double> summary;
  double simulated_seconds = 0;
  // /requests (empty when the run was written with output.requests: false)
  bool has_requests = false;
  std::vector<std::int64_t> arrival_ns;
  std::vector<std::int32_t> prompt_tokens, output_tokens;
  std::vector<std::uint8_t> cls, status, slo_met;
  std::vector<float> ttft_s, tpot_s, e2e_s, energy_j, operational_g, embodied_g;
  // /timeseries summed over servers, and the idle lines of /carbon
  std::vector<double> slot_start_s, slot_energy_j, slot_operational_g, slot_embodied_g;
  double idle_energy_j = 0, idle_operational_g = 0, idle_embodied_g = 0;
};
RunData load_run(const std::string& path);

// The block bootstrap (docs/OUTPUT.md, "Comparing runs"): the run's arrival span [0, last arrival] is cut into
// `blocks` equal blocks; a resample draws `blocks` block indices with replacement from splitmix64 seeded with
// `seed` (baseline) or `seed + j` (run j; paired runs use the baseline's draws), index = next() % blocks.
struct BootstrapSpec {
  int resamples = 1000;
  int blocks = 20;
  std::uint64_t seed = 20250101;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Comparison {
  double value = kNaN;                                 // this run's (mean) value
  double diff = kNaN, diff_lo = kNaN, diff_hi = kNaN;  // value - baseline, 95% interval
  double rel = kNaN, rel_lo = kNaN, rel_hi = kNaN;     // diff / baseline
  std::string method;  // paired-block-bootstrap | block-bootstrap | paired-replicas-t | replicas-t | none
};

struct MetricRow {
  std::string key, label;
  std::vector<Comparison> runs;  // [0] is the baseline (diff 0)
};

struct ConfigDifference {
  std::string key;
  std::vector<std::string> values;  // one per group, "(absent)" where the key is missing
};

struct GroupInfo {
  std::vector<std::string> files;
  std::string experiment, workload_digest, trace_digest;
  std::vector<std::uint64_t> seeds;
};

struct CompareResult {
  BootstrapSpec bootstrap;
  std::vector<GroupInfo> groups;
  std::vector<MetricRow> metrics;
  std::vector<ConfigDifference> config;
};

// Compares groups of runs (a group of one file is one run; several files of a group are seed replicas) with the
// first group as the baseline.
CompareResult compare(const std::vector<std::vector<std::string>>& groups, const BootstrapSpec& spec);

// Pieces exposed for tests.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};
// Nearest rank: the ceil(pct * n / 100)-th smallest value (1-based); NaN when empty. Reorders `v`.
double nearest_rank(std::vector<double>& v, int pct);
// Student's t 0.975 quantile for `df` degrees of freedom (table to 30, expansion above).
double t975(double df);
// Key path -> scalar text of a YAML document ("a.b[0].c" as in error messages).
std::map<std::string, std::string> flatten_yaml(const std::string& yaml);

}  // namespace greenfleet::study
