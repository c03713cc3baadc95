#include "sim/experiment/sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace greenfleet::experiment {

namespace {

std::string where(const std::string& file, const YAML::Mark& m) {
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

std::string flow(const YAML::Node& n) {
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  // yaml-cpp writes a tag verbatim (`!<tag:yaml.org,2002:str> 2`): the file's shorthand is read the same.
  std::string text = e.c_str();
  constexpr std::string_view kVerbatim = "!<tag:yaml.org,2002:";
  for (std::size_t at = text.find(kVerbatim); at != std::string::npos; at = text.find(kVerbatim, at)) {
    const std::size_t close = text.find('>', at);
    if (close == std::string::npos) break;
    text.replace(at, close + 1 - at, "!!" + text.substr(at + kVerbatim.size(), close - at - kVerbatim.size()));
  }
  return text;
}

struct Axis {
  std::vector<std::string> keys;
  std::vector<YAML::Mark> key_marks;            // [key]: its position in the sweep block
  std::vector<std::vector<YAML::Node>> values;  // [key][i]
  std::size_t size() const { return values.empty() ? 1 : values[0].size(); }
};

// A value as the duplicate checks compare it: a number by its value (20, 20.0 and 2e1 are one value), anything
// else by its YAML text.
std::string canonical(const YAML::Node& v) {
  if (v.IsScalar()) {
    const std::string& text = v.Scalar();
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(d)) return fmt::format("{:.17g}", d);
  }
  return flow(v);
}

// Whether a --set value is a mapping with a `path` key (`--set output={path: x.h5}`).
bool value_has_path(const std::string& text) {
  try {
    const YAML::Node v = YAML::Load(text);
    return v.IsMap() && v["path"];
  } catch (const YAML::Exception&) {
    return false;  // not YAML: the run's own load reports it
  }
}

// key path -> list of values, in file order.
void read_lists(const std::string& file, const YAML::Node& block, const std::string& name,
                std::vector<std::string>& keys, std::vector<YAML::Mark>& key_marks,
                std::vector<std::vector<YAML::Node>>& values, std::set<std::string>& seen) {
  if (!block.IsMap())
    throw core::InputError(fmt::format("{}: sweep.{}: expected a mapping of key paths to lists of values",
                                       where(file, block.Mark()), name));
  for (const auto& kv : block) {
    const std::string key = config::dotted_key_path(kv.first.as<std::string>());
    if (!kv.second.IsSequence() || kv.second.size() == 0)
      throw core::InputError(fmt::format("{}: sweep.{}.{}: expected a non-empty list of values",
                                         where(file, kv.second.Mark()), name, key));
    // Each run is written to DIR/pPPPP_rRR.h5 (`sweep -o DIR`): a swept output.path would have no effect.
    const bool path_in_output =
        key == "output" && std::any_of(kv.second.begin(), kv.second.end(),
                                       [](const YAML::Node& v) { return v.IsMap() && v["path"]; });
    if (key == "output.path" || path_in_output)
      throw core::InputError(
          fmt::format("{}: sweep.{}.{}: has no effect: a sweep writes each run to "
                      "DIR/pPPPP_rRR.h5 (greenfleet sweep -o DIR)",
                      where(file, kv.first.Mark()), name, key));
    if (key == "seed" || key == "sweep" || key.rfind("sweep.", 0) == 0)
      throw core::InputError(fmt::format("{}: sweep.{}.{}: {} cannot be swept here{}",
                                         where(file, kv.first.Mark()), name, key, key,
                                         key == "seed" ? " (use sweep.seeds)" : ""));
    if (!seen.insert(key).second)
      throw core::InputError(
          fmt::format("{}: sweep.{}.{}: key path swept twice", where(file, kv.first.Mark()), name, key));
    // A path inside another swept path (`workload.synthetic` and `workload.synthetic.rate`) would be replaced
    // by it, or replace part of it, depending on the order: the index would list values that were not run.
    for (const auto& other : seen)
      if (other != key && (key.rfind(other + ".", 0) == 0 || other.rfind(key + ".", 0) == 0))
        throw core::InputError(
            fmt::format("{}: sweep.{}.{}: overlaps the swept key path {}: one would "
                        "overwrite the other; sweep one of them",
                        where(file, kv.first.Mark()), name, key, other));
    keys.push_back(key);
    key_marks.push_back(kv.first.Mark());
    values.emplace_back(kv.second.begin(), kv.second.end());
    // A grid value listed twice repeats every point it is in (zip lists are checked as tuples below).
    if (name == "grid") {
      std::set<std::string> listed;
      for (const auto& v : values.back())
        if (!listed.insert(canonical(v)).second)
          throw core::InputError(
              fmt::format("{}: sweep.grid.{}: value {} listed twice (its points would run twice)",
                          where(file, v.Mark()), key, config::clip(flow(v))));
    }
  }
}

}  // namespace

Sweep load_sweep(const std::string& file, const std::vector<std::string>& overrides) {
  Sweep sweep;
  const YAML::Node doc = config::ConfigNode::load_file(file);
  if (!doc.IsMap() || !doc["sweep"]) return sweep;
  const YAML::Node block = doc["sweep"];
  if (!block.IsMap())
    throw core::InputError(
        fmt::format("{}: sweep: expected a mapping with grid, zip and seeds", where(file, block.Mark())));
  for (const auto& kv : block) {
    const std::string k = kv.first.as<std::string>();
    if (k != "grid" && k != "zip" && k != "seeds") {
      const std::string near = config::closest_match(k, {"grid", "zip", "seeds"});
      throw core::InputError(fmt::format("{}: sweep.{}: unknown key{}; expected one of: grid, zip, seeds",
                                         where(file, kv.first.Mark()), k,
                                         near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
    }
  }
  std::set<std::string> seen;
  Axis grid, zip;
  if (block["grid"]) read_lists(file, block["grid"], "grid", grid.keys, grid.key_marks, grid.values, seen);
  if (block["zip"]) {
    read_lists(file, block["zip"], "zip", zip.keys, zip.key_marks, zip.values, seen);
    for (std::size_t k = 1; k < zip.keys.size(); ++k)
      if (zip.values[k].size() != zip.values[0].size())
        throw core::InputError(
            fmt::format("{}: sweep.zip.{}: {} values, but sweep.zip.{} has {}: zipped lists "
                        "must have the same length",
                        where(file, block["zip"][zip.keys[k]].Mark()), zip.keys[k], zip.values[k].size(),
                        zip.keys[0], zip.values[0].size()));
    std::set<std::vector<std::string>> tuples;
    for (std::size_t i = 0; i < zip.size(); ++i) {
      std::vector<std::string> t;
      for (const auto& v : zip.values) t.push_back(canonical(v[i]));
      if (!zip.values.empty() && !tuples.insert(t).second)
        throw core::InputError(
            fmt::format("{}: sweep.zip: entry {} repeats an earlier one (its points would run "
                        "twice)",
                        where(file, zip.values[0][i].Mark()), i));
    }
  }
  // Seeds: a count N (the file's seed, seed+1, ..., seed+N-1) or a list of seeds.
  std::vector<std::uint64_t> seeds;
  std::vector<YAML::Mark> seed_marks;
  if (block["seeds"]) {
    const YAML::Node s = block["seeds"];
    // An explicit tag other than !!int (`!!str 3`) declares something else than a count or a seed: yaml-cpp's
    // conversion would ignore it (as the loader's getters no longer do).
    const auto check_tag = [&](const YAML::Node& v) {
      if (const std::string tag = config::foreign_tag(v, {v.IsScalar() ? "int" : "seq"}); !tag.empty())
        throw core::InputError(
            fmt::format("{}: sweep.seeds: got {} tagged {}; remove the tag", where(file, v.Mark()),
                        v.IsScalar() ? fmt::format("'{}'", config::clip(v.Scalar())) : "a list", tag));
    };
    check_tag(s);
    if (s.IsSequence())
      for (const auto& v : s) check_tag(v);
    try {
      if (s.IsScalar()) {
        const auto n = s.as<std::int64_t>();
        if (n < 1 || n > 100000) throw YAML::Exception(s.Mark(), "");
        YAML::Node d = config::ConfigNode::load_file(file);
        for (const auto& o : overrides) config::apply_override(d, o);
        std::uint64_t base = 1;
        try {
          if (d["seed"]) base = d["seed"].as<std::uint64_t>();
        } catch (const YAML::Exception&) {
        }  // the loader reports a bad seed
        for (std::int64_t r = 0; r < n; ++r)
          seeds.push_back(base + static_cast<std::uint64_t>(r)), seed_marks.push_back(s.Mark());
      } else if (s.IsSequence() && s.size() > 0) {
        for (const auto& v : s) {
          const auto seed = v.as<std::uint64_t>();
          if (std::find(seeds.begin(), seeds.end(), seed) != seeds.end())
            throw core::InputError(
                fmt::format("{}: sweep.seeds: seed {} listed twice (two replicas would be the "
                            "same run)",
                            where(file, v.Mark()), seed));
          seeds.push_back(seed), seed_marks.push_back(v.Mark());
        }
      } else {
        throw YAML::Exception(s.Mark(), "");
      }
    } catch (const YAML::Exception&) {
      throw core::InputError(
          fmt::format("{}: sweep.seeds: expected a count of replicas (1 to 100000) or a "
                      "non-empty list of seeds",
                      where(file, s.Mark())));
    }
  }

  // A --set of a key the sweep sets at every point would be dropped silently by each run (the sweep's value is
  // applied after it): refused. A --set seed is the base `seeds: N` counts from, so the runs take it through
  // their seeds and not twice; with a list of seeds it would be dropped, so it is refused too.
  for (const auto& o : overrides) {
    const std::string key = config::dotted_key_path(o.substr(0, o.find('=')));
    // The block is read from the file, before any --set: a --set of it would reach each run as an unknown key.
    if (key == "sweep" || key.rfind("sweep.", 0) == 0)
      throw core::InputError(
          fmt::format("{}: --set {}: the sweep block is read from the file; --set cannot "
                      "change it (edit the file)",
                      where(file, block.Mark()), o));
    // Each run is written to DIR/pPPPP_rRR.h5: an output path would be dropped by every run.
    if (key == "output.path" ||
        (key == "output" && o.find('=') != std::string::npos && value_has_path(o.substr(o.find('=') + 1))))
      throw core::InputError(
          fmt::format("{}: --set {}: has no effect: a sweep writes each run to "
                      "DIR/pPPPP_rRR.h5 (greenfleet sweep -o DIR)",
                      where(file, block.Mark()), o));
    const bool swept = std::find(grid.keys.begin(), grid.keys.end(), key) != grid.keys.end() ||
                       std::find(zip.keys.begin(), zip.keys.end(), key) != zip.keys.end();
    if (swept || (key == "seed" && !seeds.empty() && !block["seeds"].IsScalar()))
      throw core::InputError(fmt::format(
          "{}: --set {}: the sweep sets {} at every run (sweep.{}), so this value would be dropped; set it in "
          "one place",
          where(file, block.Mark()), o, key, swept ? "grid or sweep.zip" : "seeds"));
    if (key != "seed" || seeds.empty()) sweep.base_overrides.push_back(o);
  }

  sweep.columns = grid.keys;
  sweep.columns.insert(sweep.columns.end(), zip.keys.begin(), zip.keys.end());
  if (!seeds.empty()) sweep.columns.push_back("seed");
  // The product of the lists can be astronomically large (six lists of 100 values: 10^12 points) or wrap
  // around: bounded before any run is built (ours: 100,000 runs, as many as sweep.seeds may give).
  constexpr std::size_t kMaxRuns = 100'000;
  sweep.replicas = seeds.empty() ? 1 : seeds.size();
  std::size_t runs = sweep.replicas;
  std::string product = std::to_string(sweep.replicas) + " replicas";
  auto times = [&](std::size_t n, const std::string& what) {
    product += fmt::format(" x {} {}", n, what);
    if (n > kMaxRuns || runs * n > kMaxRuns)
      throw core::InputError(fmt::format("{}: sweep: {} is more than {} runs; sweep fewer values",
                                         where(file, block.Mark()), product, kMaxRuns));
    runs *= n;
  };
  std::size_t grid_points = 1;
  for (std::size_t k = 0; k < grid.keys.size(); ++k)
    times(grid.values[k].size(), "values of " + grid.keys[k]), grid_points *= grid.values[k].size();
  times(zip.size(), "zipped entries");
  sweep.points = grid_points * zip.size();
  YAML::Mark seeds_key_mark;  // for notes: where the block lists seeds
  for (const auto& kv : block)
    if (kv.first.Scalar() == "seeds") seeds_key_mark = kv.first.Mark();
  for (std::size_t p = 0; p < sweep.points; ++p) {
    SweepRun base;
    base.point = p;
    // Grid: first key outermost (its index changes slowest); the zip axis is innermost.
    std::size_t rest = p / zip.size();
    std::vector<std::size_t> gi(grid.keys.size());
    for (std::size_t k = grid.keys.size(); k-- > 0;)
      gi[k] = rest % grid.values[k].size(), rest /= grid.values[k].size();
    auto add = [&](const char* block_name, const Axis& axis, std::size_t k, const YAML::Node& v) {
      base.values.push_back(flow(v));
      base.overrides.push_back(axis.keys[k] + "=" + base.values.back());
      base.origins.push_back(where(file, v.Mark()));
      base.keys.push_back(
          fmt::format("{}: sweep.{}.{}", where(file, axis.key_marks[k]), block_name, axis.keys[k]));
    };
    for (std::size_t k = 0; k < grid.keys.size(); ++k) add("grid", grid, k, grid.values[k][gi[k]]);
    for (std::size_t k = 0; k < zip.keys.size(); ++k) add("zip", zip, k, zip.values[k][p % zip.size()]);
    for (std::size_t r = 0; r < sweep.replicas; ++r) {
      SweepRun run = base;
      run.replica = r;
      if (!seeds.empty()) {
        run.values.push_back(std::to_string(seeds[r]));
        run.overrides.push_back("seed=" + run.values.back());
        run.origins.push_back(where(file, seed_marks[r]));
        run.keys.push_back(fmt::format("{}: sweep.seeds", where(file, seeds_key_mark)));
      }
      run.output = fmt::format("p{:04}_r{:02}.h5", p, r);
      sweep.runs.push_back(std::move(run));
    }
  }
  return sweep;
}

std::vector<std::string> validate_sweep(const std::string& file, const catalog::Catalog& catalog,
                                        const LoadOptions& base, const Sweep& sweep, const std::string& output_dir,
                                        std::vector<std::string>* notes) {
  std::vector<std::string> resolved;
  resolved.reserve(sweep.runs.size());
  // Notes in the order first met: the base's own as they are; one that swept values raise, once per distinct
  // message under the swept key's line, with the values that raise it.
  struct Noted {
    std::string where;  // the base's own note: the whole note; else the swept key ("FILE:L:C: sweep.grid.KEY")
    std::string what;   // the note without its --set position (empty for the base's own)
    std::vector<std::string> values;
  };
  std::vector<Noted> noted;
  std::optional<std::set<std::string>> base_notes;  // the base's (empty when the base alone does not load)
  std::map<std::string, std::set<std::string>> value_notes;  // per swept value: the base with it alone
  const auto notes_with = [&](const std::vector<std::string>& extra) {
    LoadOptions lo = base;
    lo.output_path = (std::filesystem::path(output_dir) / sweep.runs.front().output).string();
    lo.overrides.insert(lo.overrides.end(), extra.begin(), extra.end());
    try {
      const auto n = notes_for_fleet(load_experiment(file, catalog, lo), catalog);
      return std::set<std::string>(n.begin(), n.end());
    } catch (const core::InputError&) {
      return std::set<std::string>();  // loads only with another value of its point
    }
  };
  const auto add_note = [&](const std::string& where, const std::string& what, const std::string& value) {
    auto it = std::find_if(noted.begin(), noted.end(),
                           [&](const Noted& n) { return n.where == where && n.what == what; });
    if (it == noted.end()) it = noted.insert(noted.end(), Noted{where, what, {}});
    if (!value.empty() && std::find(it->values.begin(), it->values.end(), value) == it->values.end())
      it->values.push_back(value);
  };
  // "FILE (--set PATH): rest", the position of a swept value (the runs take them as --set): the index of the
  // run's value whose key PATH is under, and "PATH: rest"; or npos.
  const std::string tag = file + " (--set ";
  const auto swept_value = [&](const SweepRun& run,
                               const std::string& note) -> std::pair<std::size_t, std::string> {
    if (note.rfind(tag, 0) != 0) return {std::string::npos, {}};
    const std::size_t close = note.find(')', tag.size());
    if (close == std::string::npos) return {std::string::npos, {}};
    const std::string shown = note.substr(tag.size(), close - tag.size());
    const std::string path = config::dotted_key_path(shown);
    for (std::size_t v = 0; v < run.overrides.size(); ++v) {
      const std::string key = config::dotted_key_path(run.overrides[v].substr(0, run.overrides[v].find('=')));
      if (path == key || path.rfind(key + ".", 0) == 0) return {v, shown + note.substr(close + 1)};
    }
    return {std::string::npos, {}};
  };
  for (const auto& run : sweep.runs) {
    LoadOptions lo = base;
    lo.output_path = (std::filesystem::path(output_dir) / run.output).string();
    lo.overrides.insert(lo.overrides.end(), run.overrides.begin(), run.overrides.end());
    try {
      const Experiment x = load_experiment(file, catalog, lo);
      resolved.push_back(x.resolved_yaml);
      if (notes)
        for (const auto& note : notes_for_fleet(x, catalog)) {
          if (const auto [v, what] = swept_value(run, note); v != std::string::npos) {
            add_note(run.keys[v], what, run.values[v]);
            continue;
          }
          if (!base_notes) base_notes = notes_with({});
          if (base_notes->count(note)) {
            add_note(note, "", "");
            continue;
          }
          // A note about a key of the file that a swept value raises (`arrivals: poisson` for the file's `cv`):
          // the values that raise it alone; else the point's values together.
          bool named = false;
          for (std::size_t v = 0; v < run.overrides.size(); ++v) {
            if (run.overrides[v].rfind("seed=", 0) == 0) continue;  // a replica's seed (sweep.seeds) notes nothing
            auto it = value_notes.find(run.overrides[v]);
            if (it == value_notes.end())
              it = value_notes.emplace(run.overrides[v], notes_with({run.overrides[v]})).first;
            if (it->second.count(note)) add_note(run.keys[v], note, run.values[v]), named = true;
          }
          if (!named) {
            std::string values;
            for (const auto& o : run.overrides) values += (values.empty() ? "" : ", ") + o;
            add_note(fmt::format("{}: sweep point {} ({})", run.origins.empty() ? file : run.origins[0], run.point,
                                 values),
                     note, "");
          }
        }
    } catch (const core::InputError& e) {
      // The whole run first: a value may need another value of its point (`cv` with `arrivals: gamma`, a swap
      // bandwidth with swap preemption), so alone it may fail where the run does not. Only when the run fails is
      // each value loaded alone, to name the one whose own load fails the same way; an error of the file or of a
      // --set (the base without any swept value fails the same way) is the base's own, and names no value.
      {
        LoadOptions none = base;
        none.output_path = lo.output_path;
        try {
          (void)load_experiment(file, catalog, none);
        } catch (const core::InputError& own) {
          if (std::string_view(own.what()) == std::string_view(e.what())) throw;
        }
      }
      for (std::size_t v = 0; v < run.overrides.size(); ++v) {
        LoadOptions one = base;
        one.output_path = lo.output_path;
        one.overrides.push_back(run.overrides[v]);
        try {
          (void)load_experiment(file, catalog, one);
        } catch (const core::InputError& alone) {
          if (std::string_view(alone.what()) == std::string_view(e.what()))
            throw core::InputError(fmt::format("{}: sweep value {} (point {}, replica {}): {}", run.origins[v],
                                               run.overrides[v], run.point, run.replica, e.what()));
        }
      }
      throw core::InputError(fmt::format("{}: sweep point {} (replica {}): {}",
                                         run.origins.empty() ? file : run.origins[0], run.point, run.replica,
                                         e.what()));
    }
  }
  if (notes)
    for (const auto& n : noted) {
      if (n.what.empty()) {
        notes->push_back(n.where);
        continue;
      }
      std::string values;
      for (const auto& v : n.values) values += (values.empty() ? "" : ", ") + config::clip(v, 40);
      notes->push_back(n.values.empty() ? fmt::format("{}: {}", n.where, n.what)
                                        : fmt::format("{} ({} {}): {}", n.where,
                                                      n.values.size() == 1 ? "value" : "values", values, n.what));
    }
  return resolved;
}

}  // namespace greenfleet::experiment
