#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "sim/core/event_queue.hpp"

namespace greenfleet::core {

// Receives the events of the kinds it registered for. Handlers are long-lived simulation objects (instances,
// workload feeder, accounting ticks), so dispatch is one indirect call, no closure per event.
// Handlers register `this` with the engine, so a copy (or a move) would leave the engine dispatching to the
// original: they can be neither.
class EventHandler {
 public:
  EventHandler() = default;
  EventHandler(const EventHandler&) = delete;
  EventHandler& operator=(const EventHandler&) = delete;
  virtual ~EventHandler() = default;
  virtual void on_event(const Event& e) = 0;
};

// The event loop: owns the clock and the queue. Everything else reacts to events it dispatches.
class Engine {
 public:
  Engine();

  // Returns the kind id that routes events to `handler`.
  std::uint16_t register_kind(EventHandler* handler);

  void schedule(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                std::uint64_t payload = 0);
  // A tracked event: at most one pending per target; reschedule_earlier() can move it forward in time, which is
  // how a fast-forwarded run is cut without leaving a stale event behind, and reschedule() and cancel() move it
  // either way or drop it. Targets are unique across all tracked kinds: each owner takes its own from
  // new_tracker().
  void schedule_tracked(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                        std::uint64_t payload = 0);
  // The single pending event of the workload stream: kept beside the heap rather than in it, because arrivals
  // are a quarter of all events and at most one is ever pending. Ordered exactly as if it were in the heap.
  void schedule_stream(SimTime time, std::uint32_t priority, std::uint16_t kind, std::uint32_t target,
                       std::uint64_t payload = 0);
  // Moves the target's pending tracked event to `time` (<= its current time), ordered as if scheduled now.
  // Returns false if it has no pending tracked event.
  bool reschedule_earlier(std::uint32_t target, SimTime time, std::uint32_t priority);
  // Moves the target's pending tracked event to `time`, earlier or later, ordered exactly as a new event scheduled
  // now would be (so a handler that used to schedule a new event and ignore the superseded one when it fires sees
  // the same order without it). Returns false if it has no pending tracked event.
  bool reschedule(std::uint32_t target, SimTime time, std::uint32_t priority);
  // Drops the target's pending tracked event. Returns false if it has none.
  bool cancel(std::uint32_t target) { return queue_.remove(target); }
  // A target for tracked events that no other caller of new_tracker() gets.
  std::uint32_t new_tracker() { return next_tracker_++; }

  // Runs until the queue is empty, `until` is passed, or stop() is called. Returns events dispatched.
  std::uint64_t run(SimTime until = kTimeMax);
  void stop() { stop_requested_ = true; }

  SimTime now() const { return now_; }
  std::uint64_t events_dispatched() const { return dispatched_; }
  std::size_t pending() const { return queue_.size() + (stream_pending_ ? 1 : 0); }
  std::size_t peak_pending() const { return peak_pending_; }

  // Called every `every_events` dispatches with the engine (progress lines, interruption checks).
  void set_heartbeat(std::uint64_t every_events, std::function<void(const Engine&)> fn);

 private:
  EventQueue queue_;
  Event stream_event_;
  bool stream_pending_ = false;
  std::vector<EventHandler*> handlers_;
  SimTime now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::uint32_t next_tracker_ = 0;
  std::uint64_t dispatched_ = 0;
  std::size_t peak_pending_ = 0;
  bool stop_requested_ = false;
  std::uint64_t heartbeat_every_ = 0;
  std::uint64_t heartbeat_countdown_ = 0;
  std::function<void(const Engine&)> heartbeat_;
};

}  // namespace greenfleet::core
