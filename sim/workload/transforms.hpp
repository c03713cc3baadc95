#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/workload/request.hpp"

namespace greenfleet::workload {

struct TransformSpec {
  core::SimTime window_start = 0;                     // keep arrivals in [start, end) of the original trace time
  std::optional<core::SimTime> window_end;            // and shift them so the window starts at 0
  double rate_scale = 1;                              // > 1 compresses time: 2 doubles the request rate
  double offline_share = 0;                           // share of requests tagged offline (EcoServe: 21-55%)
  core::SimTime offline_deadline = 24 * core::kHour;  // offline completion deadline after arrival
};

// Applies window selection, rate scaling and online/offline tagging to any source, still one request at a time.
// Ids are renumbered from 0 in the order requests are emitted.
class TransformedSource final : public RequestSource {
 public:
  TransformedSource(std::unique_ptr<RequestSource> inner, TransformSpec spec, std::uint64_t seed);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return inner_->skipped_rows(); }
  bool select_column(const std::string& name) override { return inner_->select_column(name); }
  std::string_view column_value() const override { return inner_->column_value(); }

 private:
  std::unique_ptr<RequestSource> inner_;
  TransformSpec spec_;
  core::Rng offline_rng_;
  std::uint64_t next_id_ = 0;
};

// Workload classes (`workload.classes`): how each request gets its class, and what the class makes of it.
inline constexpr std::size_t kMaxClasses = 256;  // our bound: one summary block per class

enum class ClassSelector : std::uint8_t {
  kShare,       // a seeded draw per request against the classes' shares
  kTrace,       // each class its own source, merged by arrival (MergedSource sets the class)
  kColumn,      // the value of one trace column
  kLengthBins,  // prompt-token ranges
};

struct ClassRule {
  RequestClass kind = RequestClass::kOnline;
  core::SimTime deadline = 24 * core::kHour;  // offline: completion deadline after arrival
  double share = 0;                           // kShare
  std::string column_value;                   // kColumn
  std::int32_t min_prompt = 0;                // kLengthBins: prompts of [min_prompt, max_prompt) tokens
  std::int32_t max_prompt = std::numeric_limits<std::int32_t>::max();
};

struct ClassSpec {
  ClassSelector selector = ClassSelector::kShare;
  std::string column;  // kColumn: the column's name
  std::vector<ClassRule> classes;
};

// Gives every request its class (RequestSpec::workload_class) and the class's kind and deadline. Requests that
// no class selects (a column value or prompt length no rule names) are left out, counted by unclassified(), and
// ids are renumbered from 0 over the requests kept. Share draws come from the stream "workload.classes" of the
// seed, one per request, so a run is reproducible and changing a share moves only the requests near the edge.
class ClassifiedSource final : public RequestSource {
 public:
  ClassifiedSource(std::unique_ptr<RequestSource> inner, ClassSpec spec, std::uint64_t seed);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override { return inner_->skipped_rows(); }
  std::uint64_t unclassified() const { return unclassified_; }

 private:
  int pick(const RequestSpec& r);  // the class index, or -1

  std::unique_ptr<RequestSource> inner_;
  ClassSpec spec_;
  core::Rng rng_;
  std::vector<double> cumulative_;  // kShare: running sums of the shares
  std::uint64_t next_id_ = 0, unclassified_ = 0;
};

// Several sources as one stream in arrival order, each source's requests tagged with its index as their class
// (ties go to the lower index). Each source's times start at its own first row. Ids are renumbered from 0.
class MergedSource final : public RequestSource {
 public:
  explicit MergedSource(std::vector<std::unique_ptr<RequestSource>> sources);
  bool next(RequestSpec& out) override;
  std::uint64_t skipped_rows() const override;

 private:
  std::vector<std::unique_ptr<RequestSource>> sources_;
  std::vector<RequestSpec> pending_;  // each source's next request
  std::vector<bool> has_;
  std::uint64_t next_id_ = 0;
};

}  // namespace greenfleet::workload
