#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sim/core/time.hpp"

namespace greenfleet::core {

// Typed, documented parameters of pluggable components (routers, perf models, workload sources, power
// policies). One declaration drives the loader's validation (config::read_params), `greenfleet list` and the
// parameter tables of docs/EXPERIMENTS.md, so the three cannot drift apart.

enum class ParamType {
  kInt,       // integer in [int_min, int_max]
  kNumber,    // finite number in [num_min, num_max]
  kString,    // any string
  kBool,      // true / false
  kDuration,  // "30s", "250ms", ...: at least dur_min
  kChoice,    // one of `choices`
  kFile,      // a data file: a string the loader resolves to a path
  kSection,   // a mapping with its own keys, read and documented by its owner (not by read_params)
};

// A value as the factory sees it: integers, durations (ns) in the int64; files as resolved paths.
using ParamValue = std::variant<std::monostate, std::int64_t, double, std::string, bool>;

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  ParamValue def;  // monostate: required
  std::int64_t int_min = std::numeric_limits<std::int64_t>::min();
  std::int64_t int_max = std::numeric_limits<std::int64_t>::max();
  double num_min = -1e300, num_max = 1e300;
  SimTime dur_min = 0;
  std::vector<std::string> choices;
  std::string doc;

  bool required() const { return std::holds_alternative<std::monostate>(def); }
  bool operator==(const ParamSpec&) const = default;
};

// Builders: the declarations read as one line each.
ParamSpec int_param(std::string name, std::optional<std::int64_t> def, std::int64_t min, std::int64_t max,
                    std::string doc);
ParamSpec number_param(std::string name, std::optional<double> def, double min, double max, std::string doc);
ParamSpec string_param(std::string name, std::optional<std::string> def, std::string doc);
ParamSpec bool_param(std::string name, std::optional<bool> def, std::string doc);
ParamSpec duration_param(std::string name, std::optional<SimTime> def, SimTime min, std::string doc);
ParamSpec choice_param(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
                       std::string doc);
ParamSpec file_param(std::string name, std::string doc);
ParamSpec section_param(std::string name, std::string doc);

// How a declaration is documented: "int", "duration", ...; the default as written in YAML ("required" when
// none); the accepted range or choices ("[0, 1]", ">= 1s", "`a`, `b`"; empty when anything goes).
std::string type_text(const ParamSpec& p);
std::string default_text(const ParamSpec& p);
std::string range_text(const ParamSpec& p);
// The largest unit that divides the duration exactly ("600s", "8us", "2h"): readable, and reads back exactly.
std::string duration_text(SimTime t);

// The parameters of one component after validation: every declared one, defaults filled in. Getters name a
// parameter that must have been declared with that type; asking for anything else is a programming error
// (std::logic_error), caught by the registry tests that build every entry with its defaults.
class ParamValues {
 public:
  void set(std::string name, ParamType type, ParamValue value);
  bool has(const std::string& name) const { return find(name) != nullptr; }
  void merge(const ParamValues& other) {
    for (const auto& e : other.values_) set(e.name, e.type, e.value);
  }
  std::size_t size() const { return values_.size(); }

  std::int64_t get_int(const std::string& name) const;
  double get_number(const std::string& name) const;
  std::string get_string(const std::string& name) const;  // strings, choices and files
  bool get_bool(const std::string& name) const;
  SimTime get_duration(const std::string& name) const;
  // The resolved paths of every file parameter (the run's inputs, which an output path must not name).
  std::vector<std::string> files() const;

  bool operator==(const ParamValues&) const = default;

 private:
  struct Entry {
    std::string name;
    ParamType type;
    ParamValue value;
    bool operator==(const Entry&) const = default;
  };
  const Entry* find(const std::string& name) const;
  const Entry& get(const std::string& name, std::initializer_list<ParamType> types) const;
  std::vector<Entry> values_;  // declaration order
};

// The declared defaults, as a factory would get them from an empty mapping (required parameters left out).
ParamValues default_values(const std::vector<ParamSpec>& specs);

}  // namespace greenfleet::core
