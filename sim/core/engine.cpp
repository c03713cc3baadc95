#include "sim/core/engine.hpp"

#include <stdexcept>

namespace greenfleet::core {

Engine::Engine() { queue_.reserve(1024); }

std::uint16_t Engine::register_kind(EventHandler* handler) {
  if (handlers_.size() >= 0xFFFF) throw std::logic_error("too many event kinds");
  handlers_.push_back(handler);
  return static_cast<std::uint16_t>(handlers_.size() - 1);
}

void Engine::schedule(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                      std::uint64_t payload) {
  // The clock never goes back: scheduling into the past is a logic error in the caller.
  if (time < now_) throw std::logic_error("event scheduled in the past");
  queue_.push(Event{time, next_seq_++, priority, kind, target, payload});
}

void Engine::set_heartbeat(std::uint64_t every_events, std::function<void(const Engine&)> fn) {
  heartbeat_every_ = every_events;
  heartbeat_ = std::move(fn);
}

std::uint64_t Engine::run(SimTime until) {
  stop_requested_ = false;
  const std::uint64_t start = dispatched_;
  while (!queue_.empty() && !stop_requested_) {
    if (queue_.top().time > until) break;
    const Event e = queue_.pop();
    now_ = e.time;
    handlers_[e.kind]->on_event(e);
    ++dispatched_;
    if (heartbeat_every_ != 0 && dispatched_ % heartbeat_every_ == 0) heartbeat_(*this);
  }
  return dispatched_ - start;
}

}  // namespace greenfleet::core
