#include "sim/core/registry.hpp"

namespace greenfleet::core {

namespace {

// Table cells hold no line breaks or bars.
std::string cell(std::string s) {
  for (auto& c : s)
    if (c == '\n') c = ' ';
  std::string out;
  for (char c : s) {
    if (c == '|') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string code_list(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += fmt::format("{}`{}`", out.empty() ? "" : ", ", w);
  return out;
}

}  // namespace

std::string listing_text(const RegistryListing& l) {
  std::string out = fmt::format("{} ({}; parameters in {})\n    {}\n", l.category, l.key, l.params_at, l.doc);
  for (const auto& e : l.entries) {
    out += fmt::format("  {} {}\n      {}\n", e.category, e.name, e.doc);
    if (e.params.empty()) out += "      (no parameters)\n";
    for (const auto& p : e.params) {
      const std::string range = range_text(p);
      out += fmt::format("      - {} ({}, {}{}{}): {}\n", p.name, type_text(p),
                         p.required() ? "required" : "default " + default_text(p), range.empty() ? "" : ", ",
                         range, p.doc);
    }
  }
  return out;
}

std::string listing_markdown(const RegistryListing& l) {
  std::string out = fmt::format("`{}` (registry `{}`): {}\n\n", l.key, l.category, cell(l.doc));
  out += fmt::format("| {} | what it does | parameters |\n|---|---|---|\n", l.category);
  struct Row {
    const ParamSpec* spec;
    std::vector<std::string> entries;
  };
  std::vector<Row> rows;
  for (const auto& e : l.entries) {
    std::vector<std::string> names;
    for (const auto& p : e.params) {
      names.push_back(p.name);
      // One row per declaration: entries that declare a parameter alike share it.
      auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return *r.spec == p; });
      if (it == rows.end())
        rows.push_back({&p, {e.name}});
      else
        it->entries.push_back(e.name);
    }
    out += fmt::format("| `{}` | {} | {} |\n", e.name, cell(e.doc), names.empty() ? "none" : code_list(names));
  }
  if (rows.empty()) return out;
  out += fmt::format("\nParameters, under `{}`:\n\n", l.params_at);
  out += "| key | type | default | taken by | range / notes |\n|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    const ParamSpec& p = *r.spec;
    const std::string range = p.type == ParamType::kChoice ? "one of " + code_list(p.choices) : range_text(p);
    const std::string def = p.required() ? std::string("required") : fmt::format("`{}`", default_text(p));
    out += fmt::format("| `{}` | {} | {} | {} | {}{}{} |\n", p.name, type_text(p), def, code_list(r.entries),
                       cell(range), range.empty() ? "" : ": ", cell(p.doc));
  }
  return out;
}

}  // namespace greenfleet::core
