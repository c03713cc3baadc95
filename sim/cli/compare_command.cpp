#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "sim/cli/commands.hpp"
#include "sim/core/error.hpp"
#include "sim/study/compare.hpp"

namespace greenfleet::cli {

namespace {

constexpr const char* kHelp = R"(greenfleet compare A.h5 B.h5 [C.h5 ...] [options]
greenfleet compare A1.h5 A2.h5 -- B1.h5 B2.h5 [-- C1.h5 ...] [options]

Prints the key metrics of each run (or group of seed replicas, groups separated by --) beside the first, the
baseline, with the difference to it, absolute and relative, and its 95% confidence interval:
  - groups of two or more replicas: a t interval across replicas (paired by seed when both groups have the same
    seeds, else Welch's);
  - single runs: a block bootstrap over time of the /requests table and the /timeseries slots, paired (the same
    blocks drawn for both runs) when both runs were fed the same requests (equal workload_digest).
The method of each interval is printed beside it. Also lists the configuration keys that differ.

options:
  --format F      table (default), markdown, csv or json
  --resamples N   bootstrap resamples, at least 2 (default 1000)
  --blocks K      bootstrap blocks: the arrival span cut into K equal time blocks, at least 2 (default 20)
  --seed S        bootstrap seed (default 20250101)
  -h, --help      this text

The runs must be greenfleet run outputs (HDF5); docs/OUTPUT.md, "Comparing runs", has the method and the JSON
layout.
Exit codes: 0 ok, 1 internal error (a bug: please report it), 2 bad input or usage, 3 the environment failed
(standard output closed).
)";

std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string("n/a"); }
std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:+.3g}%", 100 * v) : std::string("n/a"); }
std::string interval(double lo, double hi, bool percent) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return "n/a";
  return percent ? fmt::format("[{}, {}]", pct(lo), pct(hi)) : fmt::format("[{}, {}]", num(lo), num(hi));
}
std::string json_num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string("null"); }
std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\', o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      o += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      o += c;
    }
  }
  return o + "\"";
}
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}
std::string label(std::size_t g) {
  return g < 26 ? std::string(1, static_cast<char>('A' + g)) : fmt::format("G{}", g);
}

std::string to_json(const study::CompareResult& r) {
  std::string o = "{\n";
  o += fmt::format(
      "  \"baseline\": 0,\n  \"bootstrap\": {{\"resamples\": {}, \"blocks\": {}, \"seed\": {}, "
      "\"confidence\": 0.95}},\n  \"runs\": [\n",
      r.bootstrap.resamples, r.bootstrap.blocks, r.bootstrap.seed);
  for (std::size_t g = 0; g < r.groups.size(); ++g) {
    const auto& gi = r.groups[g];
    std::string files, seeds;
    for (std::size_t i = 0; i < gi.files.size(); ++i)
      files += (i ? ", " : "") + json_str(gi.files[i]), seeds += fmt::format("{}{}", i ? ", " : "", gi.seeds[i]);
    o += fmt::format(
        "    {{\"label\": {}, \"files\": [{}], \"seeds\": [{}], \"experiment\": {}, "
        "\"workload_digest\": {}, \"trace_digest\": {}}}{}\n",
        json_str(label(g)), files, seeds, json_str(gi.experiment), json_str(gi.workload_digest),
        json_str(gi.trace_digest), g + 1 < r.groups.size() ? "," : "");
  }
  o += "  ],\n  \"config_differences\": [\n";
  for (std::size_t i = 0; i < r.config.size(); ++i) {
    std::string vals;
    for (std::size_t g = 0; g < r.config[i].values.size(); ++g)
      vals += (g ? ", " : "") + json_str(r.config[i].values[g]);
    o += fmt::format("    {{\"key\": {}, \"values\": [{}]}}{}\n", json_str(r.config[i].key), vals,
                     i + 1 < r.config.size() ? "," : "");
  }
  o += "  ],\n  \"metrics\": [\n";
  for (std::size_t m = 0; m < r.metrics.size(); ++m) {
    const auto& row = r.metrics[m];
    o += fmt::format("    {{\"key\": {}, \"label\": {}, \"runs\": [\n", json_str(row.key), json_str(row.label));
    for (std::size_t g = 0; g < row.runs.size(); ++g) {
      const auto& c = row.runs[g];
      o += fmt::format(
          "      {{\"value\": {}, \"diff\": {}, \"diff_lo\": {}, \"diff_hi\": {}, \"rel\": {}, "
          "\"rel_lo\": {}, \"rel_hi\": {}, \"method\": {}}}{}\n",
          json_num(c.value), json_num(c.diff), json_num(c.diff_lo), json_num(c.diff_hi), json_num(c.rel),
          json_num(c.rel_lo), json_num(c.rel_hi), json_str(c.method), g + 1 < row.runs.size() ? "," : "");
    }
    o += fmt::format("    ]}}{}\n", m + 1 < r.metrics.size() ? "," : "");
  }
  return o + "  ]\n}\n";
}

std::string to_csv(const study::CompareResult& r) {
  std::string o = "metric,run,value,baseline,diff,diff_lo,diff_hi,rel,rel_lo,rel_hi,method\n";
  auto n = [](double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); };
  for (const auto& row : r.metrics)
    for (std::size_t g = 0; g < row.runs.size(); ++g) {
      const auto& c = row.runs[g];
      o += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", csv(row.key), label(g), n(c.value),
                       n(row.runs[0].value), n(c.diff), n(c.diff_lo), n(c.diff_hi), n(c.rel), n(c.rel_lo),
                       n(c.rel_hi), c.method);
    }
  return o;
}

// Terminal table (aligned columns) or markdown (pipes).
std::string to_table(const study::CompareResult& r, bool markdown) {
  std::string o;
  for (std::size_t g = 0; g < r.groups.size(); ++g) {
    const auto& gi = r.groups[g];
    std::string files;
    for (std::size_t i = 0; i < gi.files.size(); ++i) files += (i ? " " : "") + gi.files[i];
    o += fmt::format("{}{}{}: {} ({}, seed{} ", markdown ? "- " : "", label(g), g == 0 ? " (baseline)" : "", files,
                     gi.experiment, gi.seeds.size() > 1 ? "s" : "");
    for (std::size_t i = 0; i < gi.seeds.size(); ++i) o += fmt::format("{}{}", i ? "," : "", gi.seeds[i]);
    o += fmt::format("; workload {}, trace {})\n", gi.workload_digest.empty() ? "?" : gi.workload_digest,
                     gi.trace_digest.empty() ? "?" : gi.trace_digest);
  }
  const bool replicas =
      std::any_of(r.groups.begin(), r.groups.end(), [](const auto& g) { return g.files.size() > 1; });
  if (replicas) {
    o += fmt::format("{}95% intervals across seed replicas (t; paired by seed where the seeds match)\n\n",
                     markdown ? "\n" : "");
  } else {
    o += fmt::format("{}95% intervals; block bootstrap: {} resamples of {} time blocks, seed {}\n\n",
                     markdown ? "\n" : "", r.bootstrap.resamples, r.bootstrap.blocks, r.bootstrap.seed);
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"metric", "A"};
  for (std::size_t g = 1; g < r.groups.size(); ++g)
    for (const char* h : {"", "diff", "95% CI", "rel", "95% CI", "method"})
      head.push_back(*h ? fmt::format("{} {}", label(g), h) : label(g));
  rows.push_back(head);
  for (const auto& row : r.metrics) {
    std::vector<std::string> cells = {row.key, num(row.runs[0].value)};
    for (std::size_t g = 1; g < row.runs.size(); ++g) {
      const auto& c = row.runs[g];
      cells.insert(cells.end(), {num(c.value), num(c.diff), interval(c.diff_lo, c.diff_hi, false), pct(c.rel),
                                 interval(c.rel_lo, c.rel_hi, true), c.method});
    }
    rows.push_back(cells);
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    for (std::size_t i = 0; i < rows[k].size(); ++i)
      o += markdown ? fmt::format("| {} ", rows[k][i])
           : i == 0 ? fmt::format("{:<{}}", rows[k][i], width[i])
                    : fmt::format("  {:>{}}", rows[k][i], width[i]);
    o += markdown ? "|\n" : "\n";
    if (markdown && k == 0) {
      for (std::size_t i = 0; i < rows[k].size(); ++i) o += i == 0 ? "|---" : "|---:";
      o += "|\n";
    }
  }
  o += fmt::format("\n{}configuration keys that differ from A{}\n", markdown ? "" : "",
                   r.config.empty() ? ": none" : ":");
  for (const auto& d : r.config) {
    o += fmt::format("{}{}:", markdown ? "- " : "  ", d.key);
    for (std::size_t g = 0; g < d.values.size(); ++g) o += fmt::format(" {}={}", label(g), d.values[g]);
    o += "\n";
  }
  return o;
}

}  // namespace

int compare_command(const std::vector<std::string>& args) {
  std::vector<std::vector<std::string>> groups(1);
  std::string format = "table";
  study::BootstrapSpec spec;
  bool grouped = false;
  auto value = [&](std::size_t& i) {
    if (i + 1 >= args.size()) throw core::InputError(fmt::format("compare: {} needs a value", args[i]));
    return args[++i];
  };
  // `why`: the reason for the bounds, after the range in the message ("" for none).
  auto integer = [&](std::size_t& i, long long lo, long long hi, const char* why = "") {
    const std::string name = args[i], v = value(i);
    try {
      std::size_t used = 0;
      const long long n = std::stoll(v, &used);
      if (used == v.size() && n >= lo && n <= hi) return n;
    } catch (const std::exception&) {
    }
    throw core::InputError(fmt::format("compare: {} {}: expected an integer in [{}, {}]{}", name, v, lo, hi, why));
  };
  std::map<std::string, std::string> given;  // option -> its first value: an option given twice is refused
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--format" || a == "--resamples" || a == "--blocks" || a == "--seed") && i + 1 < args.size()) {
      if (const auto it = given.find(a); it != given.end())
        throw core::InputError(it->second == args[i + 1]
                                   ? fmt::format("compare: {} {} given twice; give it once", a, it->second)
                                   : fmt::format("compare: {} given twice ({} and {}); only one would be used", a,
                                                 it->second, args[i + 1]));
      given.emplace(a, args[i + 1]);
    }
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    } else if (a == "--") {
      grouped = true;
      groups.emplace_back();
    } else if (a == "--format") {
      format = value(i);
      if (format != "table" && format != "markdown" && format != "csv" && format != "json")
        throw core::InputError(fmt::format("compare: --format {}: expected table, markdown, csv or json", format));
    } else if (a == "--resamples") {
      // One resample, or one block (every resample is then the whole run), gives an interval of zero width
      // whatever the data: refused, as two replicas of one seed are.
      spec.resamples = static_cast<int>(
          integer(i, 2, 1000000, " (one resample gives an interval of zero width whatever the runs)"));
    } else if (a == "--blocks") {
      spec.blocks = static_cast<int>(
          integer(i, 2, 1000000,
                  " (one block is the whole run: every resample would be the run itself, an interval of zero "
                  "width)"));
    } else if (a == "--seed") {
      spec.seed = static_cast<std::uint64_t>(integer(i, 0, INT64_MAX));
    } else if (a.size() > 1 && a[0] == '-') {
      throw core::InputError(fmt::format("compare: unknown option '{}' (see greenfleet compare --help)", a));
    } else {
      groups.back().push_back(a);
    }
  }
  if (!grouped) {  // each file is its own run
    std::vector<std::vector<std::string>> single;
    for (const auto& f : groups[0]) single.push_back({f});
    groups = single;
  }
  if (groups.size() < 2)
    throw core::InputError("compare: give at least two runs: greenfleet compare A.h5 B.h5 (see --help)");
  const study::CompareResult r = study::compare(groups, spec);
  if (format == "json") {
    std::cout << to_json(r);
  } else if (format == "csv") {
    std::cout << to_csv(r);
  } else {
    std::cout << to_table(r, format == "markdown");
  }
  return 0;
}

}  // namespace greenfleet::cli
