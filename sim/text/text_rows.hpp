#pragma once
#include <charconv>
#include <climits>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace greenfleet::text {

enum class BadRowPolicy { kError, kSkip };

// Line-by-line reading shared by the trace readers: the current line number for messages, and the bad-row
// policy (stop with file:line, or skip and count).
class LineReader {
 public:
  // `skip_hint` is appended to errors to say how to skip such rows instead (empty: no hint).
  LineReader(const std::string& path, BadRowPolicy policy,
             std::string skip_hint = "set workload.on_bad_row: skip to skip and count such rows");
  // False at end of file; skips blank lines. A UTF-8 byte-order mark at the start of the file is an error that
  // says so (it would otherwise become part of the first column's name or value).
  bool next_line();
  const std::string& line() const { return line_; }
  std::uint64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }
  // Throws InputError naming file:line (policy error) or counts the row as skipped.
  void bad_row(const std::string& why);
  std::uint64_t skipped() const { return skipped_; }

 private:
  std::string path_;
  std::ifstream in_;
  BadRowPolicy policy_;
  std::string skip_hint_;
  std::string line_;
  std::uint64_t line_number_ = 0;
  std::uint64_t skipped_ = 0;
};

// Splits on commas (no quoting: the supported traces have none) and trims a trailing CR.
void split_csv(const std::string& line, std::vector<std::string_view>& fields);

// `text` shortened to `max` characters, the last three of them "...", for quoting input in messages.
std::string clip(std::string_view text, std::size_t max = 80);

// A token count: a positive integer up to `max`. Returns "" or what is wrong ("is not a positive integer", "is
// out of range (max 2147483647)"), to follow the quoted field in a message.
std::string check_count(std::string_view field, std::int32_t& out, std::int64_t max = INT32_MAX);

// Throws InputError naming the header line when column `i` of `header` is one of `used` and appeared before it
// (a reader would otherwise silently take one of the two).
void reject_repeated_column(const LineReader& rows, const std::vector<std::string_view>& header, int i,
                            std::initializer_list<std::string_view> used);

template <class T>
bool parse_number(std::string_view s, T& out) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

}  // namespace greenfleet::text
