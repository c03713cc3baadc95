#include "sim/text/text_rows.hpp"

#include <fmt/format.h>

#include "sim/core/error.hpp"

namespace greenfleet::text {

LineReader::LineReader(const std::string& path, BadRowPolicy policy, std::string skip_hint)
    : path_(path), in_(path), policy_(policy), skip_hint_(std::move(skip_hint)) {
  if (!in_) throw core::InputError(fmt::format("{}: cannot open file", path));
}

bool LineReader::next_line() {
  while (std::getline(in_, line_)) {
    ++line_number_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (!line_.empty()) return true;
  }
  return false;
}

void LineReader::bad_row(const std::string& why) {
  if (policy_ == BadRowPolicy::kError)
    throw core::InputError(skip_hint_.empty()
                               ? fmt::format("{}:{}: {}", path_, line_number_, why)
                               : fmt::format("{}:{}: {} ({})", path_, line_number_, why, skip_hint_));
  ++skipped_;
}

void split_csv(const std::string& line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string::npos) {
      fields.emplace_back(line.data() + start, line.size() - start);
      return;
    }
    fields.emplace_back(line.data() + start, comma - start);
    start = comma + 1;
  }
}

}  // namespace greenfleet::text
