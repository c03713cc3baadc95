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
  if (priority > 0xFF) throw std::logic_error("event priority above 255");
  queue_.push(Event{time, (static_cast<std::uint64_t>(priority) << 56) | next_seq_++, kind, 0, target, payload});
  if (pending() > peak_pending_) peak_pending_ = pending();
}

void Engine::schedule_tracked(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                              std::uint64_t payload) {
  if (time < now_) throw std::logic_error("event scheduled in the past");
  if (priority > 0xFF) throw std::logic_error("event priority above 255");
  Event e{time, (static_cast<std::uint64_t>(priority) << 56) | next_seq_++, kind, 1, target, payload};
  queue_.push(e);
  if (pending() > peak_pending_) peak_pending_ = pending();
}

void Engine::schedule_stream(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                             std::uint64_t payload) {
  if (time < now_) throw std::logic_error("event scheduled in the past");
  if (stream_pending_) throw std::logic_error("a stream event is already pending");
  if (priority > 0xFF) throw std::logic_error("event priority above 255");
  stream_event_ =
      Event{time, (static_cast<std::uint64_t>(priority) << 56) | next_seq_++, kind, 0, target, payload};
  stream_pending_ = true;
  if (pending() > peak_pending_) peak_pending_ = pending();
}

bool Engine::reschedule_earlier(std::uint32_t target, SimTime time, std::uint32_t priority) {
  if (time < now_) throw std::logic_error("event rescheduled into the past");
  return queue_.move_earlier(target, time, (static_cast<std::uint64_t>(priority) << 56) | next_seq_++);
}

bool Engine::reschedule(std::uint32_t target, SimTime time, std::uint32_t priority) {
  if (time < now_) throw std::logic_error("event rescheduled into the past");
  if (priority > 0xFF) throw std::logic_error("event priority above 255");
  return queue_.move(target, time, (static_cast<std::uint64_t>(priority) << 56) | next_seq_++);
}

void Engine::set_heartbeat(std::uint64_t every_events, std::function<void(const Engine&)> fn) {
  heartbeat_every_ = every_events;
  heartbeat_countdown_ = every_events;
  heartbeat_ = std::move(fn);
}

std::uint64_t Engine::run(SimTime until) {
  stop_requested_ = false;
  const std::uint64_t start = dispatched_;
  while ((stream_pending_ || !queue_.empty()) && !stop_requested_) {
    Event e;
    if (stream_pending_ && (queue_.empty() || runs_before(stream_event_, queue_.top()))) {
      if (stream_event_.time > until) break;
      e = stream_event_;
      stream_pending_ = false;
    } else {
      if (queue_.top().time > until) break;
      e = queue_.pop();
    }
    now_ = e.time;
    handlers_[e.kind]->on_event(e);
    ++dispatched_;
    if (heartbeat_every_ != 0 && --heartbeat_countdown_ == 0) {
      heartbeat_countdown_ = heartbeat_every_;
      heartbeat_(*this);
    }
  }
  return dispatched_ - start;
}

}  // namespace greenfleet::core
