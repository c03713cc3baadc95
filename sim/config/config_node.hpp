#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/params.hpp"
#include "sim/core/time.hpp"

namespace greenfleet::config {

// A strict, self-documenting view of one YAML mapping. Loaders ask for every key they understand (optional ones
// with a default); finish() then rejects any other key with a "did you mean" suggestion. Every value read,
// defaults included, is copied into a `resolved` tree, which becomes the resolved configuration stored in the
// output. Errors throw core::InputError with file:line:column, the key path and what was expected.
class ConfigNode {
 public:
  static constexpr core::SimTime kMaxDuration = 100LL * 365 * 24 * core::kHour;  // 100 years of 365 days

  // `resolved` may be an undefined node when the caller does not need the resolved tree (catalog files).
  // `overrides` lists the key paths set with --set ("fleet[0].count"), so their errors name the override.
  ConfigNode(YAML::Node node, std::string file, std::string path, YAML::Node resolved,
             std::shared_ptr<const std::set<std::string>> overrides = nullptr);

  // Parses a file; syntax errors become InputError with the file's line and column.
  // Duplicate keys in a mapping and a second document are errors naming the lines, not silently dropped.
  static YAML::Node load_file(const std::string& file);
  // The same for text already in memory; `file` names it in messages.
  static YAML::Node load_text(const std::string& text, const std::string& file);
  // The root of a data file (catalogs, coefficient files): no resolved tree, no overrides.
  static ConfigNode open_file(const std::string& file) {
    return ConfigNode(load_file(file), file, "", YAML::Node(YAML::NodeType::Undefined));
  }

  bool has(const std::string& key) const;
  bool is_map(const std::string& key) const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }

  std::string get_string(const std::string& key, std::optional<std::string> def = std::nullopt);
  std::string get_choice(const std::string& key, const std::vector<std::string>& options,
                         std::optional<std::string> def = std::nullopt);
  double get_double(const std::string& key, std::optional<double> def = std::nullopt, double min = -1e300,
                    double max = 1e300);
  std::int64_t get_int(const std::string& key, std::optional<std::int64_t> def = std::nullopt,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  bool get_bool(const std::string& key, std::optional<bool> def = std::nullopt);
  // A duration is a number of seconds or a string with a unit: "250ms", "30s", "2h", "1.5d". At most `max`
  // (100 years unless the caller says less), so that sums of durations and trace times stay within the int64
  // nanosecond range (about 292 years) and fail here, naming the key, instead of wrapping.
  core::SimTime get_duration(const std::string& key, std::optional<core::SimTime> def = std::nullopt,
                             core::SimTime min = 0, core::SimTime max = kMaxDuration);
  std::vector<double> get_double_list(const std::string& key, std::optional<std::vector<double>> def,
                                      double min = -1e300, double max = 1e300);

  // An optional key with no default value: known (no "unknown key" error), recorded as null in the resolved tree.
  void note_optional(const std::string& key);

  ConfigNode child(const std::string& key);  // required mapping
  std::optional<ConfigNode> maybe_child(const std::string& key);
  // A mapping whose keys are absent means "all defaults" (so optional sections can be omitted entirely).
  ConfigNode child_or_empty(const std::string& key);
  std::vector<ConfigNode> child_list(const std::string& key, bool required = true);
  // Mapping of id -> mapping (catalog files): children in file order.
  std::vector<std::pair<std::string, ConfigNode>> child_map(const std::string& key);
  // The keys of this mapping, in file order (for maps of named entries read as a whole).
  std::vector<std::string> keys() const;

  // Rejects keys that were never asked for, suggesting the closest known one.
  void finish();

  // `key` is set but has no effect, its `enabler` (a key of this mapping) being off. With the enabler left out
  // (its default is off) that is a mistake: fail(key, refusal). Set off explicitly (a sweep's or --set's point
  // sharing the rest of a file) it is legitimate: "WHERE: note" goes to `notes`, for the command to print.
  void unused_without(const std::string& key, const std::string& enabler, const std::string& refusal,
                      const std::string& note, std::vector<std::string>& notes) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  [[noreturn]] void fail_here(const std::string& message) const;
  std::string where(const std::string& key) const;  // "file:line:col: key path"

 private:
  YAML::Node value(const std::string& key) const;
  void record(const std::string& key, const YAML::Node& v);
  std::string key_path(const std::string& key) const;
  // "file:line:col: path", or "file (--set path)" when the path is (under) a --set override.
  std::string at(const std::string& path, const YAML::Mark& mark) const;
  std::string location(const YAML::Mark& mark) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  YAML::Node resolved_;
  std::set<std::string> known_;
  std::shared_ptr<const std::set<std::string>> overrides_;
  // For a section absent from the file (child_or_empty), the position of the nearest one present, so that its
  // errors point into the file rather than reading like those of a --set override.
  YAML::Mark section_mark_ = YAML::Mark::null_mark();
  YAML::Mark mark_here() const;
};

// Applies `a.b.0.c=value` overrides to a parsed document; the value is parsed as YAML. Malformed overrides and
// paths through non-mappings are InputErrors naming the --set argument. Returns the key path in the form error
// messages use ("a.b[0].c").
std::string apply_override(YAML::Node& root, const std::string& assignment);

// The command line's --set arguments name each key once: a second value for a key would silently replace the
// first, so it is an InputError naming both. (Programs that build overrides, such as the planner's capacity
// runs, layer them on purpose and do not call this.)
void check_distinct_overrides(const std::vector<std::string>& assignments);

// A --set key path with list indices written as messages write them (`fleet[0].count`) in the dotted form
// (`fleet.0.count`); other paths are returned unchanged.
std::string dotted_key_path(const std::string& path);

// Reads the declared parameters of a component from `node` with the strict getters above: the declaration gives
// each key's type, default, range and choices, so the error messages (file:line:column, wrong type, out of range
// with the bound, not one of the choices with a suggestion) and the resolved tree come from it. Files (kFile) go
// through `resolve_file` (by default read as plain strings); sections (kSection) are left to the caller. Does not
// call finish(): the caller does, once it has read the mapping's other keys.
using FileResolver = std::function<std::string(ConfigNode&, const std::string& key)>;
core::ParamValues read_params(ConfigNode& node, const std::vector<core::ParamSpec>& specs,
                              const FileResolver& resolve_file = {});

// yaml-cpp's conversions ignore a scalar's tag, so `!!str 2` (an explicit string) would be read as the number 2
// where a number goes. A plain scalar has the tag "?" and a quoted one "!": they are read by their text (a quoted
// "2" is still the number 2, the quotes being style). Any other tag is an explicit type, allowed only when it is
// one of `allowed`, the key's YAML core types ("int", "float", "bool", "seq"). Returns the tag as written
// (`!!str`, `!local`), or empty when the value may be read.
std::string foreign_tag(const YAML::Node& v, std::initializer_list<std::string_view> allowed);

// `text` shortened to `max` characters, the last three of them "...", for quoting input in messages.
std::string clip(std::string_view text, std::size_t max = 80);

// Levenshtein-closest candidate within a small distance, or empty.
std::string closest_match(const std::string& word, const std::set<std::string>& candidates);

}  // namespace greenfleet::config
