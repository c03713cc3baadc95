#include "sim/workload/mooncake_jsonl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/workload/trace_origin.hpp"

namespace greenfleet::workload {

namespace {

// A parser for the flat objects of these traces: string keys whose values are numbers or lists of integers.
// Anything else is reported as malformed rather than guessed at.
class FlatJson {
 public:
  explicit FlatJson(const std::string& s) : s_(s) {}

  // Calls on_number(key, value) / on_list(key, values...) for each member; returns an error text or "".
  template <class OnNumber, class OnListItem>
  std::string parse(OnNumber on_number, OnListItem on_list_item) {
    skip();
    if (!eat('{')) return "expected '{'";
    skip();
    if (eat('}')) return "";
    for (;;) {
      std::string key;
      if (!read_key(key)) return "expected a quoted key";
      if (std::find(seen_.begin(), seen_.end(), key) != seen_.end())
        return fmt::format("key \"{}\" appears twice in the object", clip(key));
      seen_.push_back(key);
      skip();
      if (!eat(':')) return fmt::format("expected ':' after \"{}\"", key);
      skip();
      if (eat('[')) {
        skip();
        if (!eat(']')) {
          for (;;) {
            double v;
            if (!read_number(v)) return fmt::format("\"{}\" must be a list of numbers", key);
            on_list_item(key, v);
            skip();
            if (eat(']')) break;
            if (!eat(',')) return fmt::format("expected ',' or ']' in \"{}\"", key);
            skip();
          }
        }
      } else if (peek() == '"') {
        std::string ignored;
        if (!read_key(ignored)) return fmt::format("unterminated string for \"{}\"", key);
      } else {
        double v;
        if (!read_number(v)) return fmt::format("\"{}\" has a value that is not a number", key);
        on_number(key, v);
      }
      skip();
      if (eat('}')) break;
      if (!eat(',')) return "expected ',' or '}'";
      skip();
    }
    skip();
    return pos_ == s_.size() ? "" : "unexpected text after the object";
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool read_key(std::string& out) {
    if (!eat('"')) return false;
    const std::size_t end = s_.find('"', pos_);
    if (end == std::string::npos) return false;
    out.assign(s_, pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool read_number(double& v) {
    const char* begin = s_.data() + pos_;
    // JSON numbers only: strtod alone would also take "nan", "inf" and hexadecimal.
    const char c = peek(), next = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
    if (!((c >= '0' && c <= '9') || (c == '-' && next >= '0' && next <= '9'))) return false;
    if (s_.compare(pos_, 2, "0x") == 0 || s_.compare(pos_, 2, "0X") == 0 || s_.compare(pos_, 3, "-0x") == 0 ||
        s_.compare(pos_, 3, "-0X") == 0)
      return false;
    char* end = nullptr;
    v = std::strtod(begin, &end);
    if (end == begin) return false;
    pos_ += static_cast<std::size_t>(end - begin);
    return std::isfinite(v);
  }
  static std::string clip(const std::string& s) { return text::clip(s); }
  const std::string& s_;
  std::size_t pos_ = 0;
  std::vector<std::string> seen_;
};

}  // namespace

MooncakeJsonlSource::MooncakeJsonlSource(const std::string& path, text::BadRowPolicy on_bad_row,
                                         const std::string& named_by) try
    : named_by_(named_by), rows_(path, on_bad_row, bad_row_hint(named_by)) {
} catch (const core::InputError& e) {
  throw core::InputError(with_origin(e.what(), named_by));
}

bool MooncakeJsonlSource::next_line() {
  try {
    return rows_.next_line();
  } catch (const core::InputError& e) {
    throw core::InputError(with_origin(e.what(), named_by_));
  }
}

bool MooncakeJsonlSource::next(RequestSpec& out) {
  while (next_line()) {
    double ts = NAN, in = NAN, outlen = NAN;
    out.prefix_hashes.clear();
    bool bad_hash = false;
    FlatJson json(rows_.line());
    std::string why = json.parse(
        [&](const std::string& k, double v) {
          if (k == "timestamp")
            ts = v;
          else if (k == "input_length")
            in = v;
          else if (k == "output_length")
            outlen = v;
        },
        [&](const std::string& k, double v) {
          if (k != "hash_ids") return;
          // A hash id is a non-negative integer below 2^64 (larger doubles have no uint64 value: a fuzz finding).
          if (v < 0 || v != std::floor(v) || !(v < 18446744073709551616.0))
            bad_hash = true;
          else
            out.prefix_hashes.push_back(static_cast<std::uint64_t>(v));
        });
    if (why.empty()) {
      if (std::isnan(ts) || std::isnan(in) || std::isnan(outlen))
        why = "needs \"timestamp\", \"input_length\" and \"output_length\"";
      else if (ts < 0)
        why = fmt::format("timestamp {} is negative", ts);
      else if (!(ts * 1e-3 <= core::to_seconds(ArrivalClock::kMaxSpan)))
        why = fmt::format("timestamp {} ms is out of range (max {} ms, 100 years)", ts,
                          core::to_seconds(ArrivalClock::kMaxSpan) * 1e3);
      else if (in < 1 || in != std::floor(in))
        why = fmt::format("input_length {} is not a positive integer", in);
      else if (in > 1e9)
        why = fmt::format("input_length {} is out of range (max 1000000000)", in);
      else if (outlen < 1 || outlen != std::floor(outlen))
        why = fmt::format("output_length {} is not a positive integer", outlen);
      else if (outlen > 1e9)
        why = fmt::format("output_length {} is out of range (max 1000000000)", outlen);
      else if (bad_hash)
        why = "hash_ids must be non-negative integers";
    }
    if (why.empty()) {
      // Relative to the first row, like the other readers (the published traces start at 0 anyway).
      core::SimTime arrival = 0;
      const auto placed = clock_.place(core::from_seconds(ts * 1e-3), arrival);
      if (placed != ArrivalClock::kOk) {
        why = fmt::format("timestamp {} ms {}", ts, ArrivalClock::why(placed));
      } else {
        std::vector<std::uint64_t> hashes = std::move(out.prefix_hashes);
        set_online_request(out, next_id_++, arrival, static_cast<std::int32_t>(in),
                           static_cast<std::int32_t>(outlen));
        out.prefix_hashes = std::move(hashes);
        return true;
      }
    }
    rows_.bad_row(why);
  }
  return false;
}

}  // namespace greenfleet::workload
