#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/load_listener.hpp"

namespace greenfleet::routing {

// Exact argmin indexes of the load-based routers' signals over a fixed set of instances, so a routing decision
// costs about the same with 64 instances as with 10,000 instead of a scan of all of them. They answer exactly
// what a scan at the decision's instant answers (ties: lowest index), relying on what
// serving::Instance::load_window() states: between two calls of the listener an instance's outstanding tokens and
// free KV blocks only fall, at iteration boundaries the window names. Decisions come in time order (the engine's).
//
// Both are winner trees over the instances (leaves in span order) that keep each leaf's signal as last read,
// valid until the leaf's `until`; a listener call marks the leaf, whose path is pulled at the next decision (once,
// however many calls came in between). OutstandingTokensIndex reads the leaf then too; KvUsageIndex at the call.
// A router that is not attached (watch()) to its instances, or is handed another set, scans instead.
class LoadIndexBase : public serving::LoadListener {
 public:
  void watch(const core::Engine* engine) { engine_ = engine; }
  void on_load_changed(const serving::Instance& instance) override;

  // Work counters (tests, profiling): load windows asked of instances, and tree nodes visited by searches.
  std::uint64_t refreshes() const { return refreshes_; }
  std::uint64_t visits() const { return visits_; }

 protected:
  // Whether the index serves `instances` (building it at the first decision); false: the caller scans.
  bool ready(std::span<const serving::Instance* const> instances);
  // The leaf of an instance the index watches (once built), else -1.
  std::int32_t leaf_of(const serving::Instance& instance) const {
    if (!built_) return -1;
    const auto id = static_cast<std::size_t>(instance.id());
    return id < leaf_of_.size() ? leaf_of_[id] : -1;
  }
  void mark(std::uint32_t leaf) {
    if (is_dirty_[leaf]) return;
    is_dirty_[leaf] = 1;
    dirty_.push_back(leaf);
  }
  virtual void build() = 0;
  virtual void changed(std::span<const std::uint32_t> leaves) = 0;  // marked since the last decision

  const core::Engine* engine_ = nullptr;
  std::vector<const serving::Instance*> instances_;
  const serving::Instance* const* data_ = nullptr;  // the span the index serves
  std::vector<std::int32_t> leaf_of_;               // by serving::Instance::id(): its leaf, or -1
  std::vector<std::uint32_t> dirty_;                // leaves the listener marked since the last decision
  std::vector<std::uint8_t> is_dirty_;
  std::size_t leaves_ = 0;  // a power of two >= instances_.size()
  bool built_ = false;
  std::uint64_t refreshes_ = 0, visits_ = 0;
};

// least_outstanding_tokens: outstanding tokens plus the wake penalty of an instance that is not powered. Until its
// next listener call an instance's load only falls, at the boundaries of its run in flight, by the same step at
// each (serving::LoadWindow: base - j * growth from boundary j on). The index keeps a threshold, the band's top:
// at or above the least load, and within a few kBand tokens of it. Loads at or under it are kept exact (stepped
// along their run's boundaries as they pass); a load above it needs nothing until the boundary where it enters the
// band, which is one evaluation of the run's closed form (its `due` time). A winner tree over the loads as last
// known, with the earliest due time below each node, then gives the answer at its root once no due time has
// passed: every load there is exact or above the band, where none can win. A listener call only describes the new
// run (no solve for its completed iterations), and instances that cross boundaries while above the band are not
// looked at, so the work per decision depends on how many loads are near the least (the band's crossings), not on
// how many instances there are.
class OutstandingTokensIndex final : public LoadIndexBase {
 public:
  explicit OutstandingTokensIndex(std::int64_t wake_penalty) : wake_penalty_(wake_penalty) {}
  std::size_t argmin(std::span<const serving::Instance* const> instances);
  std::uint64_t rebuilds() const { return rebuilds_; }

 private:
  // Measured on bench/throughput_1m.yaml and bench/routing_10k.yaml (docs/PERFORMANCE.md): a narrower band
  // moves up more often (each time O(n)), a wider one holds more loads to keep exact.
  static constexpr std::int64_t kBand = 8;
  static constexpr std::int64_t kHysteresis = 4;
  static constexpr core::SimTime kUnknown = std::numeric_limits<core::SimTime>::min();
  // A leaf's load along its instance's run in flight, as described at the last listener call: `load` is its value
  // from boundary `iteration` of the run (which has passed; -1: the run's head is in flight) to `until`, the next
  // boundary (kUnknown: not evaluated yet; kTimeMax: none before the next call), so exact before `until` and an
  // upper bound after it.
  struct Slot {
    std::int64_t load;
    core::SimTime until;
    std::int64_t iteration;
    std::int64_t
        base;  // the load (wake penalty included) from the run's start: base - j * growth after boundary j
    std::int64_t last;                // the run's boundaries before its end
    const serving::StepTimer* timer;  // the instance's; its run stays as it is until the next call
    core::SimTime run_start;          // the run's, when described: whether `iteration` outlives a call
  };
  struct Node {
    core::SimTime due;     // earliest below
    std::int64_t load;     // the winner's load as last known
    std::uint32_t winner;  // leaf with the least load as last known (ties: lowest)
  };
  void build() override;
  void changed(std::span<const std::uint32_t> leaves) override;
  void describe(std::size_t i);  // after a listener call: the run, not solved
  void settle(std::size_t i);    // the leaf's load (exact in the band) and due time at now_
  // For a load above the band: when its run brings it into the band (a boundary, exactly), kTimeMax if it stays
  // above until the next listener call. A boundary already passed moves the slot to it and is returned.
  core::SimTime entry(Slot& s) const;
  bool step(Slot& s) const;  // a load in the band to now_, a boundary or two on; false: too far, solve
  void solve(Slot& s) const;
  // The winner's fields are copied from the child the comparison indexes, without a branch on which one wins (as
  // good as random: a branch on it is mispredicted about every other node).
  void pull(std::size_t node) {
    const std::size_t c = 2 * node + static_cast<std::size_t>(node_[2 * node + 1].load < node_[2 * node].load);
    Node& p = node_[node];
    p.due = std::min(node_[2 * node].due, node_[2 * node + 1].due);
    p.load = node_[c].load;
    p.winner = node_[c].winner;
  }
  void refresh(std::size_t node);  // settles the leaves due below (node_[node].due <= now_)
  void rebuild();                  // after the band moved up

  std::int64_t wake_penalty_;
  std::vector<Slot> slot_;  // by instance, padded to leaves_
  std::vector<Node> node_;  // 1-based heap order; node leaves_ + i is instance i
  std::int64_t band_top_ = 0;
  core::SimTime now_ = 0;
  std::uint64_t rebuilds_ = 0;
};

// least_kv_usage: the tuple (not powered, kv_usage(), queued()). Between listener calls it only rises, so a
// leaf's key as last read is a lower bound: the root's winner is the answer as soon as its own key is up to date,
// and a decision reads again only stale winners. Unlike the other index it reads an instance at each listener
// call, while the instance's state is still in cache (a step was just formed there, so its run has usually
// passed no boundary yet: no solve), and only pulls the marked leaves' paths at the next decision; the last call
// of a change comes after it is complete, so the key as last read is the settled one.
class KvUsageIndex final : public LoadIndexBase {
 public:
  std::size_t argmin(std::span<const serving::Instance* const> instances);
  void on_load_changed(const serving::Instance& instance) override;

 private:
  // The tuple as one unsigned 128-bit integer whose order is the tuple's (key_of()), so that a tree node compares
  // its two children in one integer comparison, without branches.
  __extension__ typedef unsigned __int128 Key;
  static Key key_of(bool off, double usage, std::size_t queued);
  struct Node {
    Key key;               // the winner's, as last read
    std::uint32_t winner;  // leaf with the least key (ties: lowest)
  };
  struct Leaf {
    core::SimTime until;  // the key holds until then (serving::KvWindow)
    std::int64_t iteration;
  };
  void build() override;
  void changed(std::span<const std::uint32_t> leaves) override;
  void read(std::size_t leaf, bool fresh);
  // A node's winner: a copy of the child the comparison indexes (ties: the left, lower leaves).
  void pull(std::size_t n) {
    node_[n] = node_[2 * n + static_cast<std::size_t>(node_[2 * n + 1].key < node_[2 * n].key)];
  }
  void pull_path(std::size_t leaf);

  std::vector<Node> node_;  // 1-based heap order; node leaves_ + i is instance i
  std::vector<Leaf> leaf_;
};

}  // namespace greenfleet::routing
