#include "sim/workload/transforms.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/core/error.hpp"
#include "sim/workload/arrival_clock.hpp"

namespace greenfleet::workload {

TransformedSource::TransformedSource(std::unique_ptr<RequestSource> inner, TransformSpec spec, std::uint64_t seed)
    : inner_(std::move(inner)), spec_(spec), offline_rng_(core::Rng::stream(seed, "workload.offline")) {}

bool TransformedSource::next(RequestSpec& out) {
  while (inner_->next(out)) {
    if (out.arrival < spec_.window_start) continue;
    if (spec_.window_end && out.arrival >= *spec_.window_end) return false;  // sources are time-ordered
    if (spec_.rate_scale == 1.0) {
      out.arrival -= spec_.window_start;  // exact in integers (the common case)
    } else {
      const double scaled = static_cast<double>(out.arrival - spec_.window_start) / spec_.rate_scale;
      if (!(scaled <= static_cast<double>(ArrivalClock::kMaxSpan)))
        throw core::InputError(
            fmt::format("workload.rate_scale {}: request {} would arrive more than 100 years into the run (out "
                        "of range)",
                        spec_.rate_scale, out.id));
      out.arrival = static_cast<core::SimTime>(std::llround(scaled));
    }
    out.id = next_id_++;
    // One draw per request whatever the share, so changing the share does not reshuffle which requests flip
    // (the stream is this transform's own, so a share of 0 or 1 needs none).
    const double share = spec_.offline_share;
    const bool offline = share >= 1.0 || (share > 0.0 && offline_rng_.uniform() < share);
    out.cls = offline ? RequestClass::kOffline : RequestClass::kOnline;
    out.deadline = offline ? out.arrival + spec_.offline_deadline : -1;
    return true;
  }
  return false;
}

ClassifiedSource::ClassifiedSource(std::unique_ptr<RequestSource> inner, ClassSpec spec, std::uint64_t seed)
    : inner_(std::move(inner)), spec_(std::move(spec)), rng_(core::Rng::stream(seed, "workload.classes")) {
  double sum = 0;
  for (const auto& c : spec_.classes) cumulative_.push_back(sum += c.share);
}

int ClassifiedSource::pick(const RequestSpec& r) {
  const int n = static_cast<int>(spec_.classes.size());
  switch (spec_.selector) {
    case ClassSelector::kShare: {
      const double u = rng_.uniform() * cumulative_.back();  // shares sum to 1 up to rounding
      for (int i = 0; i < n; ++i)
        if (u < cumulative_[static_cast<std::size_t>(i)]) return i;
      return n - 1;
    }
    case ClassSelector::kTrace:
      return r.workload_class < n ? r.workload_class : -1;
    case ClassSelector::kColumn: {
      const std::string_view v = inner_->column_value();
      for (int i = 0; i < n; ++i)
        if (spec_.classes[static_cast<std::size_t>(i)].column_value == v) return i;
      return -1;
    }
    case ClassSelector::kLengthBins:
      for (int i = 0; i < n; ++i) {
        const ClassRule& c = spec_.classes[static_cast<std::size_t>(i)];
        if (r.prompt_tokens >= c.min_prompt && r.prompt_tokens < c.max_prompt) return i;
      }
      return -1;
  }
  return -1;
}

bool ClassifiedSource::next(RequestSpec& out) {
  while (inner_->next(out)) {
    const int c = pick(out);
    if (c < 0) {
      ++unclassified_;
      continue;
    }
    const ClassRule& rule = spec_.classes[static_cast<std::size_t>(c)];
    out.id = next_id_++;
    out.workload_class = static_cast<std::uint16_t>(c);
    out.cls = rule.kind;
    // Arrivals and deadlines are bounded (100 years each), so the sum stays in range.
    out.deadline = rule.kind == RequestClass::kOffline ? out.arrival + rule.deadline : -1;
    return true;
  }
  return false;
}

MergedSource::MergedSource(std::vector<std::unique_ptr<RequestSource>> sources)
    : sources_(std::move(sources)), pending_(sources_.size()), has_(sources_.size()) {
  for (std::size_t i = 0; i < sources_.size(); ++i) has_[i] = sources_[i]->next(pending_[i]);
}

bool MergedSource::next(RequestSpec& out) {
  std::size_t best = sources_.size();
  for (std::size_t i = 0; i < sources_.size(); ++i)
    if (has_[i] && (best == sources_.size() || pending_[i].arrival < pending_[best].arrival)) best = i;
  if (best == sources_.size()) return false;
  std::swap(out, pending_[best]);  // vectors trade buffers: no allocation per request
  out.id = next_id_++;
  out.workload_class = static_cast<std::uint16_t>(best);
  has_[best] = sources_[best]->next(pending_[best]);
  return true;
}

std::uint64_t MergedSource::skipped_rows() const {
  std::uint64_t n = 0;
  for (const auto& s : sources_) n += s->skipped_rows();
  return n;
}

}  // namespace greenfleet::workload
