#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "sim/core/event.hpp"

namespace greenfleet::core {

// Min-heap of events by value, 4-ary: half the depth of a binary heap, and the four children of a node share a
// cache line or two, which suits the pop-heavy pattern of a simulation. The sift moves a hole instead of
// swapping records.
class EventQueue {
 public:
  void reserve(std::size_t n) { heap_.reserve(n); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.front(); }

  // A tracked event (at most one per target at a time) can later be moved earlier in place by
  // move_earlier(target, ...), instead of being superseded by a new event that leaves a stale one behind.
  void push(const Event& e) {
    if (e.tracked && e.target >= pos_.size()) pos_.resize(e.target + 1, 0);
    heap_.push_back(e);
    sift_up(heap_.size() - 1, e);
  }

  Event pop() {
    Event out = heap_.front();
    Event last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n > 0) {
      std::size_t i = 0;
      for (;;) {
        const std::size_t first = 4 * i + 1;
        std::size_t best = first;
        if (first + 4 <= n) {
          // A full node, the common case: a fixed two-round tournament the compiler makes branch-free (the
          // general loop below kept a mispredicted branch per child).
          const Event* c = &heap_[first];
          const std::size_t left = runs_before(c[1], c[0]) ? 1 : 0;
          const std::size_t right = runs_before(c[3], c[2]) ? 3 : 2;
          best = first + (runs_before(c[right], c[left]) ? right : left);
        } else {
          if (first >= n) break;
          for (std::size_t c = first + 1; c < n; ++c) best = runs_before(heap_[c], heap_[best]) ? c : best;
        }
        if (!runs_before(heap_[best], last)) break;
        place(i, heap_[best]);
        i = best;
      }
      place(i, last);
    }
    return out;
  }

  // Gives the pending tracked event of `target` an earlier (time, order) key. Returns false when it has none
  // (already popped).
  bool move_earlier(std::uint32_t target, SimTime time, std::uint64_t order) {
    if (target >= pos_.size()) return false;
    const std::size_t i = pos_[target];
    if (i >= heap_.size() || !heap_[i].tracked || heap_[i].target != target) return false;
    Event e = heap_[i];
    if (time == e.time) return true;  // already there: keep its place among equal times
    if (time > e.time) return false;  // only moves earlier (a sift up) are supported
    e.time = time;
    e.order = order;
    sift_up(i, e);
    return true;
  }

  // Gives the pending tracked event of `target` a new (time, order) key, earlier or later. Returns false when it
  // has none.
  bool move(std::uint32_t target, SimTime time, std::uint64_t order) {
    const std::size_t i = find(target);
    if (i == kNone) return false;
    Event e = heap_[i];
    const bool earlier = time < e.time || (time == e.time && order < e.order);
    e.time = time;
    e.order = order;
    earlier ? sift_up(i, e) : sift_down(i, e);
    return true;
  }

  // Removes the pending tracked event of `target`. Returns false when it has none.
  bool remove(std::uint32_t target) {
    const std::size_t i = find(target);
    if (i == kNone) return false;
    const Event last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return true;  // it was the last one
    // The last event takes its place and moves whichever way its key says.
    if (i > 0 && runs_before(last, heap_[(i - 1) / 4]))
      sift_up(i, last);
    else
      sift_down(i, last);
    return true;
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t find(std::uint32_t target) const {
    if (target >= pos_.size()) return kNone;
    const std::size_t i = pos_[target];
    return i < heap_.size() && heap_[i].tracked && heap_[i].target == target ? i : kNone;
  }
  // Moves `e` (for the hole at i) down to where it belongs (the plain loop: pop() has its own, tuned one).
  void sift_down(std::size_t i, const Event& e) {
    const std::size_t n = heap_.size();
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      for (std::size_t c = first + 1; c < std::min(first + 4, n); ++c)
        best = runs_before(heap_[c], heap_[best]) ? c : best;
      if (!runs_before(heap_[best], e)) break;
      place(i, heap_[best]);
      i = best;
    }
    place(i, e);
  }
  void place(std::size_t i, const Event& e) {
    heap_[i] = e;
    if (e.tracked) pos_[e.target] = i;
  }
  void sift_up(std::size_t i, const Event& e) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!runs_before(e, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }

  std::vector<Event> heap_;
  std::vector<std::size_t> pos_;  // heap index of each target's tracked event
};

}  // namespace greenfleet::core
