#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/time.hpp"

namespace greenfleet::workload {

enum class RequestClass : std::uint8_t { kOnline = 0, kOffline = 1 };

// One request as a workload produces it: when it arrives and how much work it carries.
struct RequestSpec {
  std::uint64_t id = 0;
  core::SimTime arrival = 0;
  std::int32_t prompt_tokens = 0;
  std::int32_t output_tokens = 0;
  RequestClass cls = RequestClass::kOnline;
  // Index into the experiment's workload classes (`workload.classes`; 0 when none are configured): which
  // deployment serves the request and which SLO judges it. Sits in the padding after `cls`.
  std::uint16_t workload_class = 0;
  core::SimTime deadline = -1;  // offline requests: latest acceptable completion; -1 when none
  // Mooncake prefix-block hash ids (512-token blocks), kept for prefix-cache work; empty for other traces.
  // Copy-assignment reuses capacity, so streaming them does not allocate per request in steady state.
  std::vector<std::uint64_t> prefix_hashes;
};

// Fills `out` as an online request without a deadline or prefix hashes: what the trace readers emit (the
// workload transforms tag offline requests afterwards).
inline void set_online_request(RequestSpec& out, std::uint64_t id, core::SimTime arrival, std::int32_t prompt,
                               std::int32_t output) {
  out.id = id;
  out.arrival = arrival;
  out.prompt_tokens = prompt;
  out.output_tokens = output;
  out.cls = RequestClass::kOnline;
  out.workload_class = 0;
  out.deadline = -1;
  out.prefix_hashes.clear();
}

// A stream of requests in non-decreasing arrival order. Sources are pulled one request at a time so a trace is
// never held in memory whole.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // Fills `out` and returns true, or returns false at the end of the stream.
  virtual bool next(RequestSpec& out) = 0;
  // Rows skipped because they were malformed (only with on_bad_row: skip).
  virtual std::uint64_t skipped_rows() const { return 0; }
  // Sources with named columns (BurstGPT) can report one column's value for each request: select it once before
  // the first next() (false when the source has no such column), then column_value() is the value of the
  // request last returned, valid until the next call to next().
  virtual bool select_column(const std::string& /*name*/) { return false; }
  virtual std::string_view column_value() const { return {}; }
  // Rows outside the selected window or past max_requests are not "skipped": they are simply not selected.
};

}  // namespace greenfleet::workload
