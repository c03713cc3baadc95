#include "sim/config/config_node.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/core/error.hpp"

namespace greenfleet::config {

using core::InputError;

namespace {

std::string type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::set<std::string>& candidates) {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // A suggestion is only useful when it is plausibly a typo of the candidate.
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

ConfigNode::ConfigNode(YAML::Node node, std::string file, std::string path, YAML::Node resolved,
                       std::shared_ptr<const std::set<std::string>> overrides)
    : node_(std::move(node)),
      file_(std::move(file)),
      path_(std::move(path)),
      resolved_(std::move(resolved)),
      overrides_(std::move(overrides)) {
  if (!node_.IsMap() && !node_.IsNull()) fail_here(fmt::format("expected a mapping, got {}", type_name(node_)));
}

YAML::Node ConfigNode::load_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(fmt::format("{}: cannot open file", file));
  try {
    return YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    throw InputError(
        fmt::format("{}:{}:{}: YAML syntax error: {}", file, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

std::string ConfigNode::location(const YAML::Mark& mark) const {
  if (mark.is_null() || mark.line < 0) return fmt::format("{} (--set override)", file_);
  return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
}

std::string ConfigNode::key_path(const std::string& key) const {
  if (key.empty()) return path_.empty() ? "(top level)" : path_;
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigNode::where(const std::string& key) const {
  const std::string path = key_path(key);
  // Values set on the command line have no place in the file: name the override instead of a position.
  // Values set on the command line (the key or a section containing it) have no place in the file.
  if (overrides_ && !key.empty())
    for (const auto& o : *overrides_)
      if (path == o || path.rfind(o + ".", 0) == 0 || path.rfind(o + "[", 0) == 0)
        return fmt::format("{} (--set {})", file_, path);
  const YAML::Node v = value(key);
  const YAML::Mark mark = (v && !key.empty()) ? v.Mark() : node_.Mark();
  return fmt::format("{}: {}", location(mark), path);
}

void ConfigNode::fail(const std::string& key, const std::string& message) const {
  throw InputError(fmt::format("{}: {}", where(key), message));
}

void ConfigNode::fail_here(const std::string& message) const {
  throw InputError(fmt::format("{}: {}: {}", location(node_.Mark()), key_path(""), message));
}

YAML::Node ConfigNode::value(const std::string& key) const {
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& cnode = node_;
  return cnode[key];
}

bool ConfigNode::has(const std::string& key) const {
  const YAML::Node v = value(key);
  return v.IsDefined() && !v.IsNull();
}

bool ConfigNode::is_map(const std::string& key) const {
  const YAML::Node v = value(key);
  return v.IsDefined() && v.IsMap();
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (node_.IsMap())
    for (const auto& kv : node_) out.push_back(kv.first.as<std::string>());
  return out;
}

void ConfigNode::record(const std::string& key, const YAML::Node& v) {
  if (resolved_.IsMap() || resolved_.IsNull()) {
    if (!resolved_.IsDefined()) return;
    resolved_[key] = YAML::Clone(v);
  }
}

std::string ConfigNode::get_string(const std::string& key, std::optional<std::string> def) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected a string)");
    record(key, YAML::Node(*def));
    return *def;
  }
  if (!v.IsScalar()) fail(key, fmt::format("expected a string, got {}", type_name(v)));
  record(key, v);
  return v.Scalar();
}

std::string ConfigNode::get_choice(const std::string& key, const std::vector<std::string>& options,
                                   std::optional<std::string> def) {
  const std::string s = get_string(key, std::move(def));
  if (std::find(options.begin(), options.end(), s) != options.end()) return s;
  std::string list;
  for (const auto& o : options) list += (list.empty() ? "" : ", ") + o;
  const std::string hint = closest_match(s, std::set<std::string>(options.begin(), options.end()));
  fail(key, fmt::format("'{}' is not one of: {}{}", s, list,
                        hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

double ConfigNode::get_double(const std::string& key, std::optional<double> def, double min, double max) {
  known_.insert(key);
  const YAML::Node v = value(key);
  double out;
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected a number)");
    out = *def;
    record(key, YAML::Node(fmt::format(
                    "{}", out)));  // shortest text that reads back exactly: 0.9, not 0.90000000000000002
    return out;
  }
  if (!v.IsScalar()) fail(key, fmt::format("expected a number, got {}", type_name(v)));
  try {
    out = v.as<double>();
  } catch (const YAML::Exception&) {
    fail(key, fmt::format("expected a number, got {}", type_name(v)));
  }
  if (!std::isfinite(out)) fail(key, fmt::format("expected a finite number, got {}", type_name(v)));
  if (out < min || out > max) fail(key, fmt::format("value {} is out of range [{}, {}]", out, min, max));
  record(key, v);
  return out;
}

std::int64_t ConfigNode::get_int(const std::string& key, std::optional<std::int64_t> def, std::int64_t min,
                                 std::int64_t max) {
  known_.insert(key);
  const YAML::Node v = value(key);
  std::int64_t out;
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected an integer)");
    out = *def;
    record(key, YAML::Node(out));
    return out;
  }
  if (!v.IsScalar()) fail(key, fmt::format("expected an integer, got {}", type_name(v)));
  try {
    out = v.as<std::int64_t>();
  } catch (const YAML::Exception&) {
    fail(key, fmt::format("expected an integer, got {}", type_name(v)));
  }
  if (out < min || out > max) {
    if (max == INT64_MAX) fail(key, fmt::format("value {} is out of range (must be at least {})", out, min));
    fail(key, fmt::format("value {} is out of range [{}, {}]", out, min, max));
  }
  record(key, v);
  return out;
}

bool ConfigNode::get_bool(const std::string& key, std::optional<bool> def) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected true or false)");
    record(key, YAML::Node(*def));
    return *def;
  }
  bool out = false;
  try {
    if (!v.IsScalar()) throw YAML::Exception(YAML::Mark(), "");
    out = v.as<bool>();
  } catch (const YAML::Exception&) {
    fail(key, fmt::format("expected true or false, got {}", type_name(v)));
  }
  record(key, v);
  return out;
}

core::SimTime ConfigNode::get_duration(const std::string& key, std::optional<core::SimTime> def,
                                       core::SimTime min) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected a duration such as 30s, 250ms or 2h)");
    record(key, YAML::Node(core::duration_text(*def)));
    return *def;
  }
  if (!v.IsScalar()) fail(key, fmt::format("expected a duration, got {}", type_name(v)));
  const std::string s = v.Scalar();
  std::size_t pos = 0;
  double number = 0;
  try {
    number = std::stod(s, &pos);
  } catch (const std::exception&) {
    fail(key, fmt::format("expected a duration such as 30s, 250ms or 2h, got '{}'", s));
  }
  const std::string unit = s.substr(pos);
  double scale;
  if (unit.empty() || unit == "s")
    scale = 1;
  else if (unit == "ns")
    scale = 1e-9;
  else if (unit == "us")
    scale = 1e-6;
  else if (unit == "ms")
    scale = 1e-3;
  else if (unit == "min" || unit == "m")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  else if (unit == "d")
    scale = 86400;
  else if (unit == "y")
    scale = 365.0 * 86400;  // 8,760 h, as EcoServe's amortisation
  else
    fail(key, fmt::format("unknown time unit '{}' in '{}' (use ns, us, ms, s, min, h, d or y)", unit, s));
  const double seconds = number * scale;
  if (!std::isfinite(seconds) || !core::fits_sim_time(seconds))
    fail(key, fmt::format("duration '{}' is out of range", s));
  const core::SimTime t = core::from_seconds(seconds);
  if (t < min) fail(key, fmt::format("duration '{}' must be at least {}s", s, core::to_seconds(min)));
  record(key, v);
  return t;
}

std::vector<double> ConfigNode::get_double_list(const std::string& key, std::optional<std::vector<double>> def,
                                                double min, double max) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) {
    if (!def) fail(key, "required key is missing (expected a list of numbers)");
    YAML::Node r(YAML::NodeType::Sequence);
    for (double d : *def) r.push_back(fmt::format("{}", d));
    record(key, r);
    return *def;
  }
  if (!v.IsSequence()) fail(key, fmt::format("expected a list of numbers, got {}", type_name(v)));
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    double d = 0;
    try {
      d = v[i].as<double>();
    } catch (const YAML::Exception&) {
      throw InputError(fmt::format("{}: {}[{}]: expected a number, got {}", location(v[i].Mark()), key_path(key),
                                   i, type_name(v[i])));
    }
    if (!std::isfinite(d) || d < min || d > max)
      throw InputError(fmt::format("{}: {}[{}]: value {} is out of range [{}, {}]", location(v[i].Mark()),
                                   key_path(key), i, d, min, max));
    out.push_back(d);
  }
  record(key, v);
  return out;
}

ConfigNode ConfigNode::child(const std::string& key) {
  auto c = maybe_child(key);
  if (!c) fail(key, "required section is missing (expected a mapping)");
  return *c;
}

std::optional<ConfigNode> ConfigNode::maybe_child(const std::string& key) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (!v.IsMap()) fail(key, fmt::format("expected a mapping, got {}", type_name(v)));
  YAML::Node r;
  if (resolved_.IsDefined() && (resolved_.IsMap() || resolved_.IsNull())) {
    resolved_[key] = YAML::Node(YAML::NodeType::Map);
    r.reset(resolved_[key]);
  } else {
    r.reset(YAML::Node(YAML::NodeType::Undefined));
  }
  return ConfigNode(v, file_, key_path(key), r, overrides_);
}

ConfigNode ConfigNode::child_or_empty(const std::string& key) {
  if (auto c = maybe_child(key)) return *c;
  YAML::Node r;
  if (resolved_.IsDefined() && (resolved_.IsMap() || resolved_.IsNull())) {
    resolved_[key] = YAML::Node(YAML::NodeType::Map);
    r.reset(resolved_[key]);
  } else {
    r.reset(YAML::Node(YAML::NodeType::Undefined));
  }
  YAML::Node empty(YAML::NodeType::Map);
  return ConfigNode(empty, file_, key_path(key), r, overrides_);
}

std::vector<ConfigNode> ConfigNode::child_list(const std::string& key, bool required) {
  known_.insert(key);
  const YAML::Node v = value(key);
  std::vector<ConfigNode> out;
  if (!v.IsDefined() || v.IsNull()) {
    if (required) fail(key, "required list is missing");
    return out;
  }
  if (!v.IsSequence()) fail(key, fmt::format("expected a list, got {}", type_name(v)));
  const bool track = resolved_.IsDefined() && (resolved_.IsMap() || resolved_.IsNull());
  if (track) resolved_[key] = YAML::Node(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < v.size(); ++i) {
    YAML::Node r;
    if (track) {
      YAML::Node seq = resolved_[key];
      seq.push_back(YAML::Node(YAML::NodeType::Map));
      r.reset(seq[seq.size() - 1]);
    } else {
      r.reset(YAML::Node(YAML::NodeType::Undefined));
    }
    if (!v[i].IsMap())
      throw InputError(fmt::format("{}: {}[{}]: expected a mapping, got {}", location(v[i].Mark()), key_path(key),
                                   i, type_name(v[i])));
    out.emplace_back(v[i], file_, fmt::format("{}[{}]", key_path(key), i), r, overrides_);
  }
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::child_map(const std::string& key) {
  known_.insert(key);
  const YAML::Node v = value(key);
  if (!v.IsDefined() || v.IsNull()) fail(key, "required section is missing (expected a mapping of entries)");
  if (!v.IsMap()) fail(key, fmt::format("expected a mapping of entries, got {}", type_name(v)));
  std::vector<std::pair<std::string, ConfigNode>> out;
  for (const auto& kv : v) {
    const std::string id = kv.first.as<std::string>();
    if (!kv.second.IsMap())
      throw InputError(fmt::format("{}: {}.{}: expected a mapping, got {}", location(kv.second.Mark()),
                                   key_path(key), id, type_name(kv.second)));
    out.emplace_back(
        id, ConfigNode(kv.second, file_, key_path(key) + "." + id, YAML::Node(YAML::NodeType::Undefined)));
  }
  return out;
}

void ConfigNode::note_optional(const std::string& key) {
  known_.insert(key);
  record(key, YAML::Node(YAML::NodeType::Null));
}

void ConfigNode::finish() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    const std::string k = kv.first.as<std::string>();
    if (known_.count(k)) continue;
    const std::string hint = closest_match(k, known_);
    const std::string at = overrides_ && overrides_->count(key_path(k))
                               ? fmt::format("{} (--set {})", file_, key_path(k))
                               : fmt::format("{}: {}", location(kv.first.Mark()), key_path(k));
    std::string msg = fmt::format("{}: unknown key", at);
    if (!hint.empty()) msg += fmt::format(" (did you mean '{}'?)", hint);
    std::string list;
    for (const auto& c : known_) list += (list.empty() ? "" : ", ") + c;
    msg += list.empty() ? std::string("; this mapping takes no keys") : fmt::format("; expected one of: {}", list);
    throw InputError(msg);
  }
}

core::ParamValues read_params(ConfigNode& node, const std::vector<core::ParamSpec>& specs,
                              const FileResolver& resolve_file) {
  using core::ParamType;
  core::ParamValues out;
  auto opt = [](const core::ParamSpec& p, auto tag) -> std::optional<decltype(tag)> {
    if (p.required()) return std::nullopt;
    return std::get<decltype(tag)>(p.def);
  };
  for (const auto& p : specs) {
    switch (p.type) {
      case ParamType::kInt:
        out.set(p.name, p.type, node.get_int(p.name, opt(p, std::int64_t{}), p.int_min, p.int_max));
        break;
      case ParamType::kNumber:
        out.set(p.name, p.type, node.get_double(p.name, opt(p, double{}), p.num_min, p.num_max));
        break;
      case ParamType::kString:
        out.set(p.name, p.type, node.get_string(p.name, opt(p, std::string{})));
        break;
      case ParamType::kChoice:
        out.set(p.name, p.type, node.get_choice(p.name, p.choices, opt(p, std::string{})));
        break;
      case ParamType::kBool:
        out.set(p.name, p.type, node.get_bool(p.name, opt(p, bool{})));
        break;
      case ParamType::kDuration:
        out.set(p.name, p.type, node.get_duration(p.name, opt(p, std::int64_t{}), p.dur_min));
        break;
      case ParamType::kFile:
        out.set(p.name, p.type, resolve_file ? resolve_file(node, p.name) : node.get_string(p.name));
        break;
      case ParamType::kSection:
        break;
    }
  }
  return out;
}

std::string apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(fmt::format("--set '{}': expected key.path=value", assignment));
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("--set '{}': the value is not valid YAML: {}", assignment, e.msg));
  }
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw InputError(fmt::format("--set '{}': empty component in key path", assignment));
    parts.push_back(p);
  }
  std::string shown;  // the path as error messages write it
  for (const auto& p : parts) {
    const bool index = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    shown += index ? "[" + p + "]" : (shown.empty() ? "" : ".") + p;
  }
  YAML::Node cur;
  cur.reset(root);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const std::string& p = parts[i];
    if (cur.IsSequence()) {
      std::size_t idx = 0;
      try {
        std::size_t used = 0;
        idx = std::stoul(p, &used);
        if (used != p.size()) throw std::invalid_argument(p);
      } catch (const std::exception&) {
        throw InputError(fmt::format("--set '{}': '{}' indexes a list and must be a number", assignment, p));
      }
      if (idx >= cur.size())
        throw InputError(
            fmt::format("--set '{}': index {} is past the end of a list of {}", assignment, idx, cur.size()));
      if (last) {
        cur[idx] = value;
        return shown;
      }
      YAML::Node next = cur[idx];
      cur.reset(next);
    } else {
      if (!cur.IsMap() && !cur.IsNull())
        throw InputError(fmt::format("--set '{}': '{}' is inside a value that is not a mapping", assignment, p));
      if (last) {
        cur[p] = value;
        return shown;
      }
      YAML::Node next = cur[p];
      if (!next.IsDefined() || next.IsNull()) {
        cur[p] = YAML::Node(YAML::NodeType::Map);
        next.reset(cur[p]);
      }
      cur.reset(next);
    }
  }
  return shown;
}

}  // namespace greenfleet::config
