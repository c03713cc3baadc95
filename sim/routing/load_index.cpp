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
  const std::int32_t leaf = leaf_of(instance);  // none before the first decision: built from scratch then
  if (leaf >= 0) mark(static_cast<std::uint32_t>(leaf));
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

void OutstandingTokensIndex::describe(std::size_t i) {
  Slot& s = slot_[i];
  const serving::Instance& in = *instances_[i];
  // A call that only cut the run short (an arrival) leaves the same run, and the boundaries it had passed as last
  // known still behind it (serving::LoadWindow).
  const bool same = s.iteration > 0 && s.timer && s.timer->run_start == s.run_start;
  const serving::LoadWindow w = in.load_window(serving::LoadWindow::kDescribe);
  const std::int64_t penalty = in.powered() ? 0 : wake_penalty_;
  s.base = w.run_base + penalty;
  s.last = w.last;
  s.timer = w.timer;
  s.run_start = w.timer->run_start;
  if (w.iteration < 0 && w.iteration != serving::LoadWindow::kDescribe) {  // the head is in flight
    s.iteration = -1;
    s.load = w.outstanding + penalty;
    s.until = w.until;
  } else {
    if (!same || s.iteration > s.last) s.iteration = 0, s.until = kUnknown;  // boundary 0: the run's start
    // Cut right after its last known boundary: the next one is the run's end, which comes with a listener call.
    else if (s.iteration == s.last)
      s.until = core::kTimeMax;
    s.load = s.base - s.iteration * s.timer->run_growth;
  }
  ++refreshes_;
}

core::SimTime OutstandingTokensIndex::entry(Slot& s) const {
  const std::int64_t growth = s.timer->run_growth;
  const std::int64_t from = std::max<std::int64_t>(s.iteration, 0);
  const std::int64_t over = s.base - from * growth - band_top_;
  if (over <= 0) return s.until;  // a head's load, in the band once the run starts
  if (growth <= 0) return core::kTimeMax;
  const std::int64_t j = from + (over + growth - 1) / growth;
  if (j > s.last) return core::kTimeMax;
  const core::SimTime t = s.timer->run_boundary(j);
  if (t <= now_) s.iteration = j, s.load = s.base - j * growth, s.until = kUnknown;
  return t;
}

bool OutstandingTokensIndex::step(Slot& s) const {
  // s.until (boundary iteration + 1, or the run's start after a head) has passed or is not evaluated yet.
  std::int64_t k = s.iteration;
  core::SimTime next = s.until;
  for (int steps = 0;;) {
    if (next == kUnknown) next = k < s.last ? s.timer->run_boundary(k + 1) : core::kTimeMax;
    if (next > now_) break;
    if (++steps > 2) return false;
    ++k;
    next = kUnknown;
  }
  s.iteration = k;
  s.load = s.base - k * s.timer->run_growth;
  s.until = next;
  return true;
}

void OutstandingTokensIndex::solve(Slot& s) const {
  const std::int64_t k = s.timer->completed_iterations_at(now_);  // at most s.last
  s.iteration = k;
  s.load = s.base - k * s.timer->run_growth;
  s.until = k < s.last ? s.timer->run_boundary(k + 1) : core::kTimeMax;
}

void OutstandingTokensIndex::settle(std::size_t i) {
  Slot& s = slot_[i];
  Node& leaf = node_[leaves_ + i];
  if (s.load > band_top_) {
    const core::SimTime t = entry(s);
    if (t > now_) {  // above the band until then: its load as last known overstates it
      leaf.due = t;
      leaf.load = s.load;
      return;
    }
  }
  // In the band: exact, and again at each boundary (it only falls, so it stays in the band).
  if (s.until <= now_ && !step(s)) solve(s);
  leaf.due = s.until;
  leaf.load = s.load;
}

void OutstandingTokensIndex::build() {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  now_ = engine_->now();
  slot_.assign(leaves_, Slot{kNever, core::kTimeMax, 0, kNever, 0, nullptr, 0});
  node_.assign(2 * leaves_, Node{core::kTimeMax, kNever, 0});
  for (std::size_t i = 0; i < leaves_; ++i) node_[leaves_ + i].winner = static_cast<std::uint32_t>(i);
  band_top_ = kNever - 1;  // everything in the band: exact, then narrowed by the first decision
  for (std::size_t i = 0; i < instances_.size(); ++i) describe(i), settle(i);
  for (std::size_t n = leaves_; n-- > 1;) pull(n);
}

void OutstandingTokensIndex::rebuild() {
  ++rebuilds_;
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    Slot& s = slot_[i];
    node_[leaves_ + i].due = s.load > band_top_ ? entry(s) : s.until;
    node_[leaves_ + i].load = s.load;
  }
  for (std::size_t n = leaves_; n-- > 1;) pull(n);
}

void OutstandingTokensIndex::changed(std::span<const std::uint32_t> leaves) {
  for (std::uint32_t i : leaves) {
    describe(i);
    settle(i);
    // All the way up: a test whether a node changed, to stop there, is mispredicted too often to pay.
    for (std::size_t n = (leaves_ + i) / 2; n >= 1; n /= 2) pull(n);
  }
}

void OutstandingTokensIndex::refresh(std::size_t n) {
  ++visits_;
  if (n >= leaves_) {
    settle(n - leaves_);
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

KvUsageIndex::Key KvUsageIndex::key_of(bool off, double usage, std::size_t queued) {
  // Not powered on top. Then usage's bits mapped so that unsigned order is the doubles' order: positive doubles'
  // bits already compare as their values (the sign bit set on top of them), negative ones in reverse (all bits
  // flipped); -0.0, equal to 0.0, first made 0.0 (x + 0.0). Then queued in the low 63 bits (a count of requests
  // held in memory: far below 2^63).
  const auto bits = std::bit_cast<std::uint64_t>(usage + 0.0);
  const std::uint64_t ordered = bits >> 63 ? ~bits : bits | (std::uint64_t{1} << 63);
  const std::uint64_t q = std::min<std::uint64_t>(queued, (std::uint64_t{1} << 63) - 1);
  return (static_cast<Key>(off) << 127) | (static_cast<Key>(ordered) << 63) | q;
}

void KvUsageIndex::read(std::size_t i, bool fresh) {
  Leaf& l = leaf_[i];
  const serving::Instance& in = *instances_[i];
  const serving::KvWindow w = fresh ? in.kv_window(-1) : in.kv_window(l.iteration, l.until);
  node_[leaves_ + i].key = key_of(w.off, in.kv_usage_of(w.free), w.queued);
  l.until = w.until;
  l.iteration = w.iteration;
  ++refreshes_;
}

void KvUsageIndex::pull_path(std::size_t i) {
  // All the way up, each level a copy of the child the comparison indexes: which child wins is as good as random,
  // and a branch on it (or on whether the node changed, to stop early) is mispredicted about every other level,
  // which costs more than the levels above.
  for (std::size_t n = (leaves_ + i) / 2; n >= 1; n /= 2) pull(n);
}

void KvUsageIndex::build() {
  leaf_.assign(leaves_, Leaf{core::kTimeMax, -1});
  node_.assign(2 * leaves_, Node{key_of(true, std::numeric_limits<double>::infinity(), SIZE_MAX), 0});
  for (std::size_t i = 0; i < leaves_; ++i) {
    node_[leaves_ + i].winner = static_cast<std::uint32_t>(i);
    if (i < instances_.size()) read(i, true);
  }
  for (std::size_t n = leaves_; n-- > 1;) pull(n);
}

void KvUsageIndex::on_load_changed(const serving::Instance& instance) {
  const std::int32_t leaf = leaf_of(instance);
  if (leaf < 0) return;
  read(static_cast<std::size_t>(leaf), true);
  mark(static_cast<std::uint32_t>(leaf));
}

void KvUsageIndex::changed(std::span<const std::uint32_t> leaves) {
  for (std::uint32_t i : leaves) pull_path(i);
}

std::size_t KvUsageIndex::argmin(std::span<const serving::Instance* const> instances) {
  if (!ready(instances)) {
    std::size_t best = 0;
    Key best_key{};
    for (std::size_t i = 0; i < instances.size(); ++i) {
      const Key k = key_of(!instances[i]->powered(), instances[i]->kv_usage(), instances[i]->queued());
      if (i == 0 || k < best_key) best = i, best_key = k;
    }
    return best;
  }
  const core::SimTime now = engine_->now();
  // Keys only rise between listener calls, so every key as last read is a lower bound: an up-to-date winner wins.
  for (;;) {
    ++visits_;
    const std::uint32_t w = node_[1].winner;
    if (leaf_[w].until > now) return w;
    read(w, false);
    pull_path(w);
  }
}

}  // namespace greenfleet::routing
