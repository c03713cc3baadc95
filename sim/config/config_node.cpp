#include "sim/config/config_node.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <tuple>

#include "sim/core/error.hpp"

namespace greenfleet::config {

using core::InputError;

namespace {

std::string type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", clip(n.Scalar()));
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

// yaml-cpp keeps every pair of a mapping, a key written twice included (lookups find the first, so the second
// would be silently dropped): walks the tree in document order and returns the first key seen twice in one
// mapping, with the marks of both. Nodes reached again through an alias are walked once.
struct DuplicateKey {
  std::string key;
  YAML::Mark first, second;
};
std::optional<DuplicateKey> find_duplicate_key(const YAML::Node& n, std::set<std::pair<int, int>>& walked) {
  if (!n.IsMap() && !n.IsSequence()) return std::nullopt;
  if (!walked.emplace(n.Mark().line, n.Mark().column).second) return std::nullopt;
  if (n.IsSequence()) {
    for (const auto& item : n)
      if (auto d = find_duplicate_key(item, walked)) return d;
    return std::nullopt;
  }
  std::map<std::string, YAML::Mark> keys;
  for (const auto& kv : n) {
    if (kv.first.IsScalar()) {
      const auto [it, fresh] = keys.emplace(kv.first.Scalar(), kv.first.Mark());
      if (!fresh) return DuplicateKey{kv.first.Scalar(), it->second, kv.first.Mark()};
    }
    if (auto d = find_duplicate_key(kv.second, walked)) return d;
  }
  return std::nullopt;
}

// Whether the text holds more than one YAML document. A document marker ("---", or "..." for a document's end)
// at the start of a line, followed by a space or the line's end, cannot occur inside any content (YAML 1.2,
// c-forbidden), so the markers found line by line are the documents' boundaries: a "---" after content, or
// content after a "...", starts a second document.
bool has_second_document(const std::string& text) {
  bool content = false, ended = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    auto marker = [&](std::string_view m) {
      return line.substr(0, 3) == m && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    };
    if (marker("---")) {
      if (content || ended) return true;
      content = line.find_first_not_of(" \t\r", 3) != std::string_view::npos &&
                line[line.find_first_not_of(" \t\r", 3)] != '#';
      continue;
    }
    if (marker("...")) {
      ended = true;
      continue;
    }
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;  // blank or comment
    if (!content && !ended && line[first] == '%') continue;               // a directive before the first document
    if (ended) return true;
    content = true;
  }
  return false;
}

// Parses one document (one pass of yaml-cpp's parser), rejecting duplicate keys and further documents. `where`
// prefixes messages: the file name (positions follow as :line:column) or a --set argument.
YAML::Node parse_document(const std::string& text, const std::string& where, bool file_positions) {
  auto at = [&](const YAML::Mark& m) {
    return file_positions ? fmt::format("{}:{}:{}", where, m.line + 1, m.column + 1)
                          : fmt::format("{}: line {} column {}", where, m.line + 1, m.column + 1);
  };
  try {
    // YAML::Load reads the first document only (YAML::LoadAll can loop forever on some malformed input: a fuzz
    // finding); a further one is told from the text (has_second_document).
    YAML::Node root = YAML::Load(text);
    std::set<std::pair<int, int>> walked;
    if (const auto d = find_duplicate_key(root, walked))
      throw InputError(fmt::format("{}: duplicate key '{}' (first at line {}); each key may appear once",
                                   at(d->second), clip(d->key), d->first.line + 1));
    if (has_second_document(text))
      throw InputError(fmt::format("{}: more than one YAML document ('---'); only one is read", where));
    return root;
  } catch (const YAML::ParserException& e) {
    throw InputError(fmt::format("{}: YAML syntax error: {}", at(e.mark), e.msg));
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}: YAML error: {}", where, e.msg));
  }
}

// The text of a mapping key; keys that are lists or mappings are an input error, not a conversion exception.
std::string key_text(const YAML::Node& key, const std::string& file) {
  if (key.IsScalar()) return key.Scalar();
  if (key.IsNull()) return "null";
  const YAML::Mark m = key.Mark();
  throw InputError(fmt::format("{}:{}:{}: a mapping key must be a plain name, got {}", file, m.line + 1,
                               m.column + 1, type_name(key)));
}

}  // namespace

std::string foreign_tag(const YAML::Node& v, std::initializer_list<std::string_view> allowed) {
  const std::string& tag = v.Tag();
  if (tag.empty() || tag == "?" || tag == "!") return {};
  constexpr std::string_view kCore = "tag:yaml.org,2002:";
  if (tag.rfind(kCore, 0) == 0) {
    const std::string_view type = std::string_view(tag).substr(kCore.size());
    if (std::find(allowed.begin(), allowed.end(), type) != allowed.end()) return {};
    return fmt::format("!!{}", type);
  }
  return tag;
}

std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max > 3 ? max - 3 : 0)) + "...";
}

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
  // A directory opens as an empty stream: say what it is instead of reporting the keys an empty file lacks.
  if (std::error_code ec; std::filesystem::is_directory(file, ec))
    throw InputError(fmt::format("{}: is a directory; give a YAML file", file));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file", file));
  std::ostringstream text;
  text << in.rdbuf();
  return load_text(text.str(), file);
}

YAML::Node ConfigNode::load_text(const std::string& text, const std::string& file) {
  return parse_document(text, file, true);
}

std::string ConfigNode::location(const YAML::Mark& mark) const {
  if (mark.is_null() || mark.line < 0) return fmt::format("{} (--set override)", file_);
  return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
}

std::string ConfigNode::key_path(const std::string& key) const {
  if (key.empty()) return path_.empty() ? "(top level)" : path_;
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigNode::at(const std::string& path, const YAML::Mark& mark) const {
  // Values set on the command line (the key or a section containing it) have no place in the file: name the
  // override instead of a position (their marks are positions in the --set text, not in the file).
  if (overrides_)
    for (const auto& o : *overrides_)
      if (path == o || path.rfind(o + ".", 0) == 0 || path.rfind(o + "[", 0) == 0)
        return fmt::format("{} (--set {})", file_, path);
  // A mapping an override created on its way to its key (`--set scheduler.preset=x` creates `scheduler`), or a
  // default inside one (`--set deployments.0.scheduler.preset=...` where the file has no `scheduler:`), has no
  // position either: name the override that made the closest enclosing mapping.
  if (overrides_ && (mark.is_null() || mark.line < 0))
    for (std::string up = path; !up.empty();) {
      for (const auto& o : *overrides_)
        if (o.rfind(up + ".", 0) == 0 || o.rfind(up + "[", 0) == 0)
          return fmt::format("{} (--set {}): {}", file_, o, path);
      const std::size_t cut = up.find_last_of(".[");  // the enclosing mapping or list
      up.resize(cut == std::string::npos ? 0 : cut);
    }
  return fmt::format("{}: {}", location(mark), path);
}

std::string ConfigNode::where(const std::string& key) const {
  const YAML::Node v = value(key);
  const YAML::Mark mark = (v && !key.empty()) ? v.Mark() : mark_here();
  return at(key_path(key), mark);
}

YAML::Mark ConfigNode::mark_here() const {
  const YAML::Mark m = node_.Mark();
  if (!m.is_null() && m.line >= 0) return m;
  // The root of an empty document (an empty catalog or coefficient file) has no position: its errors are at the
  // file's start, not "(--set override)".
  if (path_.empty() && (section_mark_.is_null() || section_mark_.line < 0)) return YAML::Mark();
  return section_mark_;
}

void ConfigNode::unused_without(const std::string& key, const std::string& enabler, const std::string& refusal,
                                const std::string& note, std::vector<std::string>& notes) const {
  if (!has(enabler)) fail(key, refusal);
  notes.push_back(fmt::format("{}: {}", where(key), note));
}

void ConfigNode::fail(const std::string& key, const std::string& message) const {
  throw InputError(fmt::format("{}: {}", where(key), message));
}

void ConfigNode::fail_here(const std::string& message) const {
  throw InputError(fmt::format("{}: {}", at(key_path(""), mark_here()), message));
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
    for (const auto& kv : node_) out.push_back(key_text(kv.first, file_));
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
  fail(key, fmt::format("'{}' is not one of: {}{}", clip(s), list,
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
  if (const std::string tag = foreign_tag(v, {"int", "float"}); !tag.empty())
    fail(key, fmt::format("expected a number, got {} tagged {}; remove the tag", type_name(v), tag));
  try {
    out = v.as<double>();
  } catch (const YAML::Exception&) {
    // A number too large for a double ("1e999") is out of range, not "not a number".
    const std::string& text = v.Scalar();
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && errno == ERANGE && std::isinf(d))
      fail(key, fmt::format("value {} is out of range [{}, {}]", type_name(v), min, max));
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
  if (const std::string tag = foreign_tag(v, {"int"}); !tag.empty())
    fail(key, fmt::format("expected an integer, got {} tagged {}; remove the tag", type_name(v), tag));
  try {
    out = v.as<std::int64_t>();
  } catch (const YAML::Exception&) {
    // Digits that do not fit an int64 are out of range, not "not an integer".
    std::string_view digits = v.Scalar();
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    if (!digits.empty() &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (max == INT64_MAX) fail(key, fmt::format("value {} is out of range (max {})", type_name(v), max));
      fail(key, fmt::format("value {} is out of range [{}, {}]", type_name(v), min, max));
    }
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
  if (const std::string tag = foreign_tag(v, {"bool"}); !tag.empty())
    fail(key, fmt::format("expected true or false, got {} tagged {}; remove the tag", type_name(v), tag));
  record(key, v);
  return out;
}

core::SimTime ConfigNode::get_duration(const std::string& key, std::optional<core::SimTime> def, core::SimTime min,
                                       core::SimTime max) {
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
    fail(key, fmt::format("expected a duration such as 30s, 250ms or 2h, got '{}'", clip(s)));
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
    fail(key,
         fmt::format("unknown time unit '{}' in '{}' (use ns, us, ms, s, min, h, d or y)", clip(unit), clip(s)));
  const double seconds = number * scale;
  constexpr core::SimTime kYear = 365 * 24 * core::kHour;
  const std::string max_text = max % kYear == 0 ? fmt::format("{}y", max / kYear) : core::duration_text(max);
  // The bound keeps sums of a few durations and trace times inside the int64-nanosecond range (292 years).
  if (!std::isfinite(seconds) || seconds > core::to_seconds(max) || !core::fits_sim_time(seconds))
    fail(key, fmt::format("duration '{}' is out of range (max {})", clip(s), max_text));
  const core::SimTime t = core::from_seconds(seconds);
  if (t < min) fail(key, fmt::format("duration '{}' must be at least {:.10g}s", clip(s), core::to_seconds(min)));
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
    const std::string tag = v[i].IsScalar() ? foreign_tag(v[i], {"int", "float"}) : std::string();
    try {
      if (!tag.empty()) throw YAML::Exception(v[i].Mark(), "tagged");
      d = v[i].as<double>();
    } catch (const YAML::Exception&) {
      throw InputError(fmt::format("{}: expected a number, got {}{}",
                                   at(fmt::format("{}[{}]", key_path(key), i), v[i].Mark()), type_name(v[i]),
                                   tag.empty() ? "" : fmt::format(" tagged {}; remove the tag", tag)));
    }
    if (!std::isfinite(d) || d < min || d > max)
      throw InputError(fmt::format("{}: value {} is out of range [{}, {}]",
                                   at(fmt::format("{}[{}]", key_path(key), i), v[i].Mark()), d, min, max));
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
  ConfigNode c(empty, file_, key_path(key), r, overrides_);
  c.section_mark_ = mark_here();
  return c;
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
      throw InputError(fmt::format("{}: expected a mapping, got {}",
                                   at(fmt::format("{}[{}]", key_path(key), i), v[i].Mark()), type_name(v[i])));
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
    const std::string id = key_text(kv.first, file_);
    if (!kv.second.IsMap())
      throw InputError(fmt::format("{}: expected a mapping, got {}",
                                   at(key_path(key) + "." + id, kv.second.Mark()), type_name(kv.second)));
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
    const std::string k = key_text(kv.first, file_);
    if (known_.count(k)) continue;
    const std::string hint = closest_match(k, known_);
    std::string msg = fmt::format("{}: unknown key", at(key_path(clip(k)), kv.first.Mark()));
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

namespace {

// Nodes reached more than once from the root: YAML aliases (*name) share one node with their anchor, so
// assigning through one would change every place that shares it. Nodes are told apart by their position in the
// text (an alias has its anchor's); positions shared by accident only cause a needless copy.
std::set<std::tuple<int, int, int>> shared_nodes(const YAML::Node& root) {
  std::set<std::tuple<int, int, int>> seen, shared;
  std::vector<YAML::Node> todo{root};
  while (!todo.empty()) {
    const YAML::Node n = todo.back();
    todo.pop_back();
    const YAML::Mark m = n.Mark();
    const auto id = std::make_tuple(m.pos, static_cast<int>(n.Type()), m.column);
    if (!seen.insert(id).second) {
      shared.insert(id);
      continue;  // its children were walked on the first visit
    }
    if (n.IsMap())
      for (const auto& kv : n) todo.push_back(kv.second);
    else if (n.IsSequence())
      for (const auto& c : n) todo.push_back(c);
  }
  return shared;
}

bool is_shared(const std::set<std::tuple<int, int, int>>& shared, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return shared.count(std::make_tuple(m.pos, static_cast<int>(n.Type()), m.column)) > 0;
}

// A new node with the same entries (the entries themselves are not copied: they keep their identity and marks).
YAML::Node shallow_copy(const YAML::Node& n) {
  if (n.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : n) out.force_insert(kv.first, kv.second);
    return out;
  }
  if (n.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& c : n) out.push_back(c);
    return out;
  }
  return YAML::Clone(n);
}

// Makes entry `key` of the mapping `map` the node `value` without touching the node it held (which an alias may
// share), keeping the order of the keys.
void rebind_map_entry(YAML::Node& map, const std::string& key, const YAML::Node& value) {
  std::vector<std::pair<YAML::Node, YAML::Node>> entries;
  for (const auto& kv : map) entries.emplace_back(kv.first, kv.second);
  YAML::Node fresh(YAML::NodeType::Map);
  for (const auto& [k, v] : entries) fresh.force_insert(k, k.IsScalar() && k.Scalar() == key ? value : v);
  // `map` itself is never shared here (the root, or a copy made on the way down), so rebinding it is local.
  map = fresh;
}

void rebind_seq_entry(YAML::Node& seq, std::size_t index, const YAML::Node& value) {
  YAML::Node fresh(YAML::NodeType::Sequence);
  for (std::size_t i = 0; i < seq.size(); ++i) fresh.push_back(i == index ? value : seq[i]);
  seq = fresh;
}

}  // namespace

std::string dotted_key_path(const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const std::size_t close = path[i] == '[' ? path.find(']', i) : std::string::npos;
    if (close != std::string::npos && close > i + 1 && i > 0 &&
        std::all_of(path.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                    path.begin() + static_cast<std::ptrdiff_t>(close),
                    [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back('.');
      out.append(path, i + 1, close - i - 1);
      i = close;
    } else {
      out += path[i];
    }
  }
  return out;
}

void check_distinct_overrides(const std::vector<std::string>& assignments) {
  std::map<std::string, std::string> first;  // dotted key path -> its first assignment
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos) continue;  // apply_override reports the malformed argument
    const auto [at, fresh] = first.emplace(dotted_key_path(a.substr(0, eq)), a);
    if (!fresh)
      throw InputError(
          fmt::format("--set '{}': the key is already set by --set '{}' (only one value would be "
                      "used); give it once",
                      clip(a), clip(at->second)));
  }
}

std::string apply_override(YAML::Node& root, const std::string& assignment) {
  const std::string shown_arg = clip(assignment);
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(fmt::format("--set '{}': expected key.path=value", shown_arg));
  // `fleet[0].count`, as error messages write the path, is `fleet.0.count`.
  const std::string path = dotted_key_path(assignment.substr(0, eq));
  const std::string text = assignment.substr(eq + 1);
  const YAML::Node value = parse_document(text, fmt::format("--set '{}'", shown_arg), false);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) {
    if (p.empty()) throw InputError(fmt::format("--set '{}': empty component in key path", shown_arg));
    parts.push_back(p);
  }
  if (!path.empty() && path.back() == '.')
    throw InputError(fmt::format("--set '{}': empty component in key path", shown_arg));
  std::string shown;  // the path as error messages write it
  for (const auto& p : parts) {
    const bool index = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
    shown += index ? "[" + p + "]" : (shown.empty() ? "" : ".") + p;
  }
  if (!root.IsMap() && !root.IsNull())
    throw InputError(fmt::format("--set '{}': the document is not a mapping", shown_arg));
  const auto shared = shared_nodes(root);
  // Copy-on-write along the path: once a node on it is shared (an alias), it and everything below it on the path
  // are replaced by copies, so only the addressed path changes.
  bool copying = false;
  YAML::Node cur;
  cur.reset(root);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const std::string& p = parts[i];
    if (cur.IsSequence()) {
      std::size_t idx = 0;
      try {
        // Digits only: stoul would take "-1" (as a huge index) and "+0"; no leading zero, so that an index has one
        // spelling (`fleet.00.count` would pass duplicate checks that compare key paths as text).
        if (!std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            (p.size() > 1 && p[0] == '0'))
          throw std::invalid_argument(p);
        std::size_t used = 0;
        idx = std::stoul(p, &used);
        if (used != p.size()) throw std::invalid_argument(p);
      } catch (const std::exception&) {
        throw InputError(
            fmt::format("--set '{}': '{}' indexes a list and must be a whole number without leading zeros (0 for "
                        "the first entry)",
                        shown_arg, clip(p)));
      }
      if (idx >= cur.size())
        throw InputError(
            fmt::format("--set '{}': index {} is past the end of a list of {}", shown_arg, idx, cur.size()));
      if (last) {
        if (copying || is_shared(shared, cur[idx]))
          rebind_seq_entry(cur, idx, value);
        else
          cur[idx] = value;
        return shown;
      }
      YAML::Node next = cur[idx];
      if (copying || is_shared(shared, next)) {
        copying = true;
        next = shallow_copy(next);
        rebind_seq_entry(cur, idx, next);
      }
      cur.reset(next);
    } else {
      if (!cur.IsMap() && !cur.IsNull())
        throw InputError(
            fmt::format("--set '{}': '{}' is inside a value that is not a mapping", shown_arg, clip(p)));
      if (cur.IsNull()) cur = YAML::Node(YAML::NodeType::Map);
      const YAML::Node& ccur = cur;
      const YAML::Node existing = ccur[p];
      if (last) {
        if (existing.IsDefined() && (copying || is_shared(shared, existing)))
          rebind_map_entry(cur, p, value);
        else
          cur[p] = value;
        return shown;
      }
      YAML::Node next;
      if (!existing.IsDefined() || existing.IsNull()) {
        next = YAML::Node(YAML::NodeType::Map);
        if (existing.IsDefined() && (copying || is_shared(shared, existing)))
          rebind_map_entry(cur, p, next);
        else
          cur[p] = next;
        next.reset(ccur[p]);
      } else if (copying || is_shared(shared, existing)) {
        copying = true;
        next = shallow_copy(existing);
        rebind_map_entry(cur, p, next);
        next.reset(ccur[p]);
      } else {
        next.reset(existing);
      }
      cur.reset(next);
    }
  }
  return shown;
}

}  // namespace greenfleet::config
