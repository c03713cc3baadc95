#pragma once
#include <string>
#include <string_view>

namespace greenfleet::workload {

// Where an experiment named a trace file ("EXP.yaml:12:9: workload.file", as config::ConfigNode::where writes
// it; empty when the reader is used on its own), so that a message about the trace names the key too.

// What LineReader appends to a bad row's message: the key, then how to skip such rows instead.
inline std::string bad_row_hint(const std::string& named_by) {
  const std::string skip = "set workload.on_bad_row: skip to skip and count such rows";
  return named_by.empty() ? skip : "named by " + named_by + "; " + skip;
}

// `message` (a file error about the trace: a header, a BOM, an empty file) with the key appended.
inline std::string with_origin(std::string_view message, const std::string& named_by) {
  std::string out(message);
  if (!named_by.empty()) out += " (named by " + named_by + ")";
  return out;
}

}  // namespace greenfleet::workload
