#include "sim/core/params.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace greenfleet::core {

namespace {

ParamSpec make(std::string name, ParamType type, ParamValue def, std::string doc) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = type;
  p.def = std::move(def);
  p.doc = std::move(doc);
  return p;
}

template <class T>
ParamValue value_or_required(const std::optional<T>& v) {
  if (!v) return std::monostate{};
  return ParamValue(*v);
}

const char* type_word(ParamType t) {
  switch (t) {
    case ParamType::kInt:
      return "int";
    case ParamType::kNumber:
      return "number";
    case ParamType::kString:
    case ParamType::kChoice:
      return "string";
    case ParamType::kBool:
      return "bool";
    case ParamType::kDuration:
      return "duration";
    case ParamType::kFile:
      return "file";
    case ParamType::kSection:
      return "mapping";
  }
  return "?";
}

}  // namespace

ParamSpec int_param(std::string name, std::optional<std::int64_t> def, std::int64_t min, std::int64_t max,
                    std::string doc) {
  ParamSpec p = make(std::move(name), ParamType::kInt, value_or_required(def), std::move(doc));
  p.int_min = min, p.int_max = max;
  return p;
}

ParamSpec number_param(std::string name, std::optional<double> def, double min, double max, std::string doc) {
  ParamSpec p = make(std::move(name), ParamType::kNumber, value_or_required(def), std::move(doc));
  p.num_min = min, p.num_max = max;
  return p;
}

ParamSpec string_param(std::string name, std::optional<std::string> def, std::string doc) {
  return make(std::move(name), ParamType::kString, value_or_required(def), std::move(doc));
}

ParamSpec bool_param(std::string name, std::optional<bool> def, std::string doc) {
  return make(std::move(name), ParamType::kBool, value_or_required(def), std::move(doc));
}

ParamSpec duration_param(std::string name, std::optional<SimTime> def, SimTime min, std::string doc) {
  ParamSpec p = make(std::move(name), ParamType::kDuration, value_or_required(def), std::move(doc));
  p.dur_min = min;
  return p;
}

ParamSpec choice_param(std::string name, std::vector<std::string> choices, std::optional<std::string> def,
                       std::string doc) {
  if (def && std::find(choices.begin(), choices.end(), *def) == choices.end())
    throw std::logic_error(fmt::format("parameter {}: default '{}' is not one of its choices", name, *def));
  ParamSpec p = make(std::move(name), ParamType::kChoice, value_or_required(def), std::move(doc));
  p.choices = std::move(choices);
  return p;
}

ParamSpec file_param(std::string name, std::string doc) {
  return make(std::move(name), ParamType::kFile, std::monostate{}, std::move(doc));
}

ParamSpec section_param(std::string name, std::string doc) {
  return make(std::move(name), ParamType::kSection, std::monostate{}, std::move(doc));
}

std::string duration_text(SimTime t) {
  struct Unit {
    SimTime ns;
    const char* name;
  };
  for (const Unit u : {Unit{kHour, "h"}, Unit{kSecond, "s"}, Unit{kMillisecond, "ms"}, Unit{kMicrosecond, "us"}})
    if (t % u.ns == 0) return fmt::format("{}{}", t / u.ns, u.name);
  return fmt::format("{}ns", t);
}

std::string type_text(const ParamSpec& p) { return type_word(p.type); }

std::string default_text(const ParamSpec& p) {
  if (p.required()) return "required";
  if (const auto* i = std::get_if<std::int64_t>(&p.def))
    return p.type == ParamType::kDuration ? duration_text(*i) : fmt::format("{}", *i);
  if (const auto* d = std::get_if<double>(&p.def)) return fmt::format("{}", *d);
  if (const auto* b = std::get_if<bool>(&p.def)) return *b ? "true" : "false";
  const std::string& s = std::get<std::string>(p.def);
  return s.empty() ? "\"\"" : s;
}

std::string range_text(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::kInt: {
      const bool lo = p.int_min != std::numeric_limits<std::int64_t>::min();
      const bool hi = p.int_max != std::numeric_limits<std::int64_t>::max();
      if (lo && hi) return fmt::format("[{}, {}]", p.int_min, p.int_max);
      if (lo) return fmt::format(">= {}", p.int_min);
      if (hi) return fmt::format("<= {}", p.int_max);
      return "";
    }
    case ParamType::kNumber: {
      const bool lo = p.num_min > -1e300, hi = p.num_max < 1e300;
      if (lo && hi) return fmt::format("[{}, {}]", p.num_min, p.num_max);
      if (lo) return fmt::format(">= {}", p.num_min);
      if (hi) return fmt::format("<= {}", p.num_max);
      return "";
    }
    case ParamType::kDuration:
      return fmt::format(">= {}", p.dur_min == 0 ? std::string("0") : duration_text(p.dur_min));
    case ParamType::kChoice: {
      std::string out;
      for (const auto& c : p.choices) out += (out.empty() ? "" : ", ") + c;
      return "one of " + out;
    }
    default:
      return "";
  }
}

void ParamValues::set(std::string name, ParamType type, ParamValue value) {
  for (auto& e : values_)
    if (e.name == name) {
      e.type = type, e.value = std::move(value);
      return;
    }
  values_.push_back(Entry{std::move(name), type, std::move(value)});
}

const ParamValues::Entry* ParamValues::find(const std::string& name) const {
  for (const auto& e : values_)
    if (e.name == name) return &e;
  return nullptr;
}

const ParamValues::Entry& ParamValues::get(const std::string& name, std::initializer_list<ParamType> types) const {
  const Entry* e = find(name);
  if (!e) throw std::logic_error(fmt::format("parameter '{}' was not declared (or has no value)", name));
  if (std::find(types.begin(), types.end(), e->type) == types.end())
    throw std::logic_error(fmt::format("parameter '{}' is declared as {}", name, type_word(e->type)));
  return *e;
}

std::int64_t ParamValues::get_int(const std::string& name) const {
  return std::get<std::int64_t>(get(name, {ParamType::kInt}).value);
}
double ParamValues::get_number(const std::string& name) const {
  return std::get<double>(get(name, {ParamType::kNumber}).value);
}
std::string ParamValues::get_string(const std::string& name) const {
  return std::get<std::string>(get(name, {ParamType::kString, ParamType::kChoice, ParamType::kFile}).value);
}
bool ParamValues::get_bool(const std::string& name) const {
  return std::get<bool>(get(name, {ParamType::kBool}).value);
}
std::vector<std::string> ParamValues::files() const {
  std::vector<std::string> out;
  for (const auto& e : values_)
    if (const auto* s = std::get_if<std::string>(&e.value); e.type == ParamType::kFile && s && !s->empty())
      out.push_back(*s);
  return out;
}

SimTime ParamValues::get_duration(const std::string& name) const {
  return std::get<std::int64_t>(get(name, {ParamType::kDuration}).value);
}

ParamValues default_values(const std::vector<ParamSpec>& specs) {
  ParamValues v;
  for (const auto& p : specs)
    if (!p.required()) v.set(p.name, p.type, p.def);
  return v;
}

}  // namespace greenfleet::core
