#pragma once
#include <string>
#include <vector>

namespace greenfleet::output {

// The scalar results of a run: printed as the closing table, stored as attributes of /summary, read back by
// `greenfleet summary`. Keys are stable identifiers (snake_case with a unit suffix).
struct SummaryItem {
  std::string key;
  double value = 0;
  std::string label;  // human label, with the unit
};

struct Summary {
  std::string title;
  std::vector<SummaryItem> items;
  void add(std::string key, double value, std::string label) {
    items.push_back({std::move(key), value, std::move(label)});
  }
};

std::string format_table(const Summary& s);
std::string format_json(const Summary& s);
// Stores a summary as attributes of the group `group` (/summary for the run's results, /run_info for wall time).
void write_summary(long long file_id, const Summary& s, const std::string& group = "summary");
// Reads one back; with `optional`, a missing group gives an empty summary instead of an error.
Summary read_summary(const std::string& h5_path, const std::string& group = "summary", bool optional = false);

}  // namespace greenfleet::output
