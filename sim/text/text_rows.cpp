#include "sim/text/text_rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "sim/core/error.hpp"

namespace greenfleet::text {

LineReader::LineReader(const std::string& path, BadRowPolicy policy, std::string skip_hint)
    : path_(path), in_(path), policy_(policy), skip_hint_(std::move(skip_hint)) {
  // A directory opens as an empty stream: say what it is (as text::read_file does), not "empty file".
  if (std::error_code ec; std::filesystem::is_directory(path, ec))
    throw core::InputError(fmt::format("{}: is a directory, not a file", path));
  if (!in_) throw core::InputError(fmt::format("{}: cannot open file", path));
}

bool LineReader::next_line() {
  while (std::getline(in_, line_)) {
    ++line_number_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_number_ == 1 && line_.rfind("\xEF\xBB\xBF", 0) == 0)
      throw core::InputError(fmt::format(
          "{}:1: the file starts with a UTF-8 byte-order mark (BOM), which would become part of '{}'; "
          "save it as UTF-8 without BOM",
          path_, clip(line_.substr(3, line_.find(',') == std::string::npos ? 40 : line_.find(',') - 3))));
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

std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  return std::string(text.substr(0, max > 3 ? max - 3 : 0)) + "...";
}

std::string check_count(std::string_view field, std::int32_t& out, std::int64_t max) {
  std::int64_t v = 0;
  if (!parse_number(field, v)) {
    // Digits that overflow even int64 are out of range too.
    std::string_view d = field;
    while (!d.empty() && d.front() == ' ') d.remove_prefix(1);
    while (!d.empty() && d.back() == ' ') d.remove_suffix(1);
    if (!d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos)
      return fmt::format("is out of range (max {})", max);
    return "is not a positive integer";
  }
  if (v < 1) return "is not a positive integer";
  if (v > max) return fmt::format("is out of range (max {})", max);
  out = static_cast<std::int32_t>(v);
  return "";
}

void reject_repeated_column(const LineReader& rows, const std::vector<std::string_view>& header, int i,
                            std::initializer_list<std::string_view> used) {
  const std::string_view name = header[static_cast<std::size_t>(i)];
  if (std::find(used.begin(), used.end(), name) == used.end()) return;
  for (int j = 0; j < i; ++j)
    if (header[static_cast<std::size_t>(j)] == name)
      throw core::InputError(fmt::format("{}:{}: column '{}' appears twice (columns {} and {})", rows.path(),
                                         rows.line_number(), clip(name), j + 1, i + 1));
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
