#include "sim/routing/load_index.hpp"

#include <algorithm>
#include <bit>
#include <limits>

namespace greenfleet::routing {

namespace {

std::size_t leaves_for(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p *= 2;
  return p;
}

}  // namespace

void LoadIndexBase::on_load_changed(const serving::Instance& instance) {
  if (!built_) return;  // built from scratch at the first decision
  const auto id = static_cast<std::size_t>(instance.id());
  if (id >= leaf_of_.size() || leaf_of_[id] < 0) return;
  const auto leaf = static_cast<std::uint32_t>(leaf_of_[id]);
  if (is_dirty_[leaf]) return;
  is_dirty_[leaf] = 1;
  dirty_.push_back(leaf);
}

bool LoadIndexBase::ready(std::span<const serving::Instance* const> instances) {
  if (!engine_) return false;
  if (built_) {
    // Another set of instances is not what the index watches.
    if (instances.size() != instances_.size() || instances.data() != data_) return false;
    if (!dirty_.empty()) {
      for (std::uint32_t leaf : dirty_) is_dirty_[leaf] = 0;
      changed(dirty_);
      dirty_.clear();
    }
    return true;
  }
  instances_.assign(instances.begin(), instances.end());
  data_ = instances.data();
  leaves_ = leaves_for(instances_.size());
  is_dirty_.assign(instances_.size(), 0);
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    const auto id = static_cast<std::size_t>(instances_[i]->id());
    if (id >= leaf_of_.size()) leaf_of_.resize(id + 1, -1);
    if (leaf_of_[id] >= 0) return false;  // an instance twice: not indexable
    leaf_of_[id] = static_cast<std::int32_t>(i);
  }
  build();
  built_ = true;
  return true;
}

// ---- least outstanding tokens

void OutstandingTokensIndex::read(std::size_t i, bool fresh) {
  Slot& s = slot_[i];
  const serving::Instance& in = *instances_[i];
  // After a listener call the run may only have been cut short (an arrival): the same run, whose completed
  // iterations as last read still hint where to look (serving::LoadWindow). A new run is stepped from its
  // start (hint 0): read soon after a step formed it, it has completed a boundary or none.
  const bool same = !fresh || (s.iteration > 0 && s.timer && s.timer->run_start == s.run_start);
  const serving::LoadWindow w = same ? in.load_window(s.iteration, s.until) : in.load_window(0);
  const std::int64_t penalty = in.powered() ? 0 : wake_penalty_;
  s.load = w.outstanding + penalty;
  s.until = w.until;
  s.floor = w.outstanding_min + penalty;
  s.near = w.near_min + penalty;
  s.near_until = w.near_until;
  s.start = w.drain_start + penalty;
  s.rate = w.drain_per_ns;
  s.from = w.drain_from;
  s.iteration = w.iteration;
  s.timer = w.timer;
  s.base = w.run_base + penalty;
  s.last = w.last;
  s.run_start = w.timer ? w.timer->run_start : 0;
  node_[leaves_ + i].due = due(s);
  node_[leaves_ + i].load = s.load;
  ++refreshes_;
}

bool OutstandingTokensIndex::step(Slot& s) const {
  // Its boundary iteration + 1 (s.until) has passed; the next one or two are stepped, further is a solve.
  if (s.iteration < 0) return false;  // the window was a head's, not the run's
  std::int64_t k = s.iteration + 1;
  core::SimTime next = core::kTimeMax;
  for (int steps = 0; k < s.last; ++k) {
    next = s.timer->run_boundary(k + 1);
    if (next > now_) break;
    if (++steps > 1) return false;
    next = core::kTimeMax;
  }
  s.iteration = k;
  s.load = s.base - k * s.timer->run_growth;
  s.until = next;
  return true;
}

core::SimTime OutstandingTokensIndex::entry(const Slot& s) const {
  // The first boundary j of the run (or its start, after a head) whose load base - j * growth is in the band.
  if (!s.timer) return now_;
  const std::int64_t from = std::max<std::int64_t>(s.iteration, 0);
  const std::int64_t over = s.base - from * s.timer->run_growth - band_top_;
  if (over <= 0) return s.iteration < 0 ? s.until : now_;
  if (s.timer->run_growth <= 0) return core::kTimeMax;
  const std::int64_t j = from + (over + s.timer->run_growth - 1) / s.timer->run_growth;
  return j > s.last ? core::kTimeMax : s.timer->run_boundary(j);
}

core::SimTime OutstandingTokensIndex::due(const Slot& s) const {
  if (s.load <= band_top_) return s.until;  // in the band: exact at all times
  if (s.floor > band_top_) return core::kTimeMax;
  // Above the band: until every bound that keeps it above has lapsed.
  core::SimTime t = s.until;
  if (s.near > band_top_) t = std::max(t, s.near_until);
  if (s.rate > 0 && s.start > band_top_) {
    // The drain line stays above the band until `at` (a nanosecond early, for the rounding).
    const double at = static_cast<double>(s.from) + static_cast<double>(s.start - band_top_) / s.rate - 1;
    t = std::max(t, at >= 9e18 ? core::kTimeMax : static_cast<core::SimTime>(at));
  }
  return t;
}

void OutstandingTokensIndex::build() {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  now_ = engine_->now();
  slot_.assign(leaves_, Slot{kNever, core::kTimeMax, kNever, kNever, core::kTimeMax, kNever, 0.0, now_, 0, nullptr,
                             kNever, 0, 0});
  node_.assign(2 * leaves_, Node{core::kTimeMax, kNever, 0});
  for (std::size_t i = 0; i < leaves_; ++i) node_[leaves_ + i].winner = static_cast<std::uint32_t>(i);
  band_top_ = kNever - 1;  // everything in the band: read exactly, then narrowed by the first decision
  for (std::size_t i = 0; i < instances_.size(); ++i) read(i, true);
  for (std::size_t n = leaves_; n-- > 1;) pull(n);
}

void OutstandingTokensIndex::rebuild() {
  ++rebuilds_;
  for (std::size_t i = 0; i < instances_.size(); ++i) node_[leaves_ + i].due = due(slot_[i]);
  for (std::size_t n = leaves_; n-- > 1;) pull(n);
}

void OutstandingTokensIndex::changed(std::span<const std::uint32_t> leaves) {
  for (std::uint32_t i : leaves) {
    read(i, true);
    for (std::size_t n = (leaves_ + i) / 2; n >= 1; n /= 2) pull(n);
  }
}

void OutstandingTokensIndex::refresh(std::size_t n) {
  ++visits_;
  if (n >= leaves_) {
    Slot& s = slot_[n - leaves_];
    if (s.load <= band_top_) {
      if (step(s)) {
        node_[n].due = s.until;  // in the band, and falling: still in it
        node_[n].load = s.load;
        return;
      }
    } else {
      // Its bounds lapsed (or the band came down to it): the boundary that brings it into the band is one
      // evaluation, a read a solve. Until then its load as last read overstates a load above the band.
      const core::SimTime t = entry(s);
      if (t > now_) {
        node_[n].due = t;
        return;
      }
    }
    read(n - leaves_, false);
    return;
  }
  if (node_[2 * n].due <= now_) refresh(2 * n);
  if (node_[2 * n + 1].due <= now_) refresh(2 * n + 1);
  pull(n);
}

std::size_t OutstandingTokensIndex::argmin(std::span<const serving::Instance* const> instances) {
  now_ = engine_ ? engine_->now() : 0;
  if (!ready(instances)) {
    std::size_t best = 0;
    std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = 0; i < instances.size(); ++i) {
      const std::int64_t l = instances[i]->outstanding_tokens() + (instances[i]->powered() ? 0 : wake_penalty_);
      if (i == 0 || l < best_load) best = i, best_load = l;
    }
    return best;
  }
  for (;;) {
    if (node_[1].due <= now_) refresh(1);
    // Every load is now exact or, if due later, above the band; the loads in the band are up to date.
    const std::uint32_t w = node_[1].winner;
    const std::int64_t load = node_[1].load;
    if (load <= band_top_) {
      // Lowering the top is free (due times set for a higher one come early, never late), but each lowering makes
      // early due times read for nothing: lower it only once the band is several times too wide.
      if (band_top_ > load + kHysteresis * kBand) band_top_ = load + kBand;
      return w;
    }
    // The band is empty: the least load is at most this one (loads as last read only overstate). Move the band up
    // to it, which brings due times earlier, and read again whoever is due.
    band_top_ = load + kBand;
    rebuild();
  }
}

// ---- least KV usage

void KvUsageIndex::read(std::size_t i, bool fresh) {
  Leaf& l = leaf_[i];
  const serving::Instance& in = *instances_[i];
  const serving::LoadWindow w = in.load_window(fresh ? -1 : l.iteration);
  l.key = Key{!in.powered(), in.kv_usage(), in.queued()};
  l.until = w.until;
  l.iteration = w.iteration;
  ++refreshes_;
}

void KvUsageIndex::pull_path(std::size_t i) {
  for (std::size_t n = (leaves_ + i) / 2; n >= 1; n /= 2) {
    const std::uint32_t a = winner_[2 * n], b = winner_[2 * n + 1];
    winner_[n] = leaf_[b].key < leaf_[a].key ? b : a;
  }
}

void KvUsageIndex::build() {
  leaf_.assign(leaves_, Leaf{Key{true, std::numeric_limits<double>::infinity(), SIZE_MAX}, core::kTimeMax, -1});
  winner_.assign(2 * leaves_, 0);
  for (std::size_t i = 0; i < leaves_; ++i) {
    if (i < instances_.size()) read(i, true);
    winner_[leaves_ + i] = static_cast<std::uint32_t>(i);
  }
  for (std::size_t n = leaves_; n-- > 1;) {
    const std::uint32_t a = winner_[2 * n], b = winner_[2 * n + 1];
    winner_[n] = leaf_[b].key < leaf_[a].key ? b : a;
  }
}

void KvUsageIndex::changed(std::span<const std::uint32_t> leaves) {
  for (std::uint32_t i : leaves) {
    read(i, true);
    pull_path(i);
  }
}

std::size_t KvUsageIndex::argmin(std::span<const serving::Instance* const> instances) {
  if (!ready(instances)) {
    std::size_t best = 0;
    Key best_key{};
    for (std::size_t i = 0; i < instances.size(); ++i) {
      const Key k{!instances[i]->powered(), instances[i]->kv_usage(), instances[i]->queued()};
      if (i == 0 || k < best_key) best = i, best_key = k;
    }
    return best;
  }
  const core::SimTime now = engine_->now();
  // Keys only rise between listener calls, so every key as last read is a lower bound: an up-to-date winner wins.
  for (;;) {
    ++visits_;
    const std::uint32_t w = winner_[1];
    if (leaf_[w].until > now) return w;
    read(w, false);
    pull_path(w);
  }
}

}  // namespace greenfleet::routing
