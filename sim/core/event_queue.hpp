#pragma once
#include <cstddef>
#include <vector>

#include "sim/core/event.hpp"

namespace greenfleet::core {

// Binary min-heap of events by value. A hand-written sift keeps the comparison inlined and avoids the
// extra moves std::push_heap/pop_heap make on 40-byte records.
class EventQueue {
 public:
  void reserve(std::size_t n) { heap_.reserve(n); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.front(); }

  void push(const Event& e) {
    heap_.push_back(e);
    std::size_t i = heap_.size() - 1;
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!runs_before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }

  Event pop() {
    Event out = heap_.front();
    Event last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n > 0) {
      std::size_t i = 0;
      for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && runs_before(heap_[child + 1], heap_[child])) ++child;
        if (!runs_before(heap_[child], last)) break;
        heap_[i] = heap_[child];
        i = child;
      }
      heap_[i] = last;
    }
    return out;
  }

 private:
  std::vector<Event> heap_;
};

}  // namespace greenfleet::core
