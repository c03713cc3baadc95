#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/core/engine.hpp"

namespace greenfleet::serving {

class Instance;

// Told when a server's power state changes (the carbon ledger listens).
class PowerListener {
 public:
  virtual ~PowerListener() = default;
  virtual void on_power(std::size_t server, core::SimTime t, bool on) = 0;
};

struct PowerPolicy {
  bool off_when_idle = false;  // power the server off once all its instances idled for idle_timeout
  core::SimTime idle_timeout = 600 * core::kSecond;
  core::SimTime boot_time = 120 * core::kSecond;  // from power-on until instances can run (draws idle power)
  // Follow a provisioning plan (`greenfleet run --plan`): the server is on over each [start, end) of `plan_on`
  // (sorted, disjoint), booted `boot_time` ahead of each start so that it takes work from the start, and drained
  // at each end: it takes no new work and powers off once what it holds is done.
  bool follow_plan = false;
  std::vector<std::pair<core::SimTime, core::SimTime>> plan_on;
  bool managed() const { return off_when_idle || follow_plan; }
};

// A follow_plan server's state after a change at `time`: powered (booting, on or draining: drawing power) and
// accepting (on and not draining: taking new work, what a plan counts as on).
struct PowerTransition {
  core::SimTime time = 0;
  std::uint32_t server = 0;
  bool powered = false;
  bool accepting = false;
  bool planned = true;  // false: a boot the plan did not ask for (work reached a server with no planned boot left)
};

// Reactive provisioning: servers that power off when idle and boot on demand, or that follow a plan. A server
// that is off draws no power but still carries its embodied carbon; a request routed to one of its instances
// waits for the boot (a follow_plan server boots for it only when the plan has no boot left for the server).
class Provisioner final : public core::EventHandler {
 public:
  Provisioner(core::Engine* engine, PowerListener* listener);

  void add_server(std::size_t server, PowerPolicy policy, bool initially_on, std::vector<Instance*> instances);
  // From instances: it just ran out of work / it got work while its server is not on.
  void on_instance_idle(std::size_t server);
  void on_demand(std::size_t server);
  void on_event(const core::Event& e) override;

  std::uint64_t boots() const { return boots_; }
  std::uint64_t shutdowns() const { return shutdowns_; }
  // follow_plan servers only: every change of state, in time order (the initial states at time 0 first).
  const std::vector<PowerTransition>& transitions() const { return transitions_; }
  std::uint64_t unplanned_boots() const { return unplanned_boots_; }

 private:
  enum class State { kOn, kOff, kBooting };
  struct Server {
    PowerPolicy policy;
    State state = State::kOn;
    std::vector<Instance*> instances;
    std::uint64_t idle_generation = 0;
    bool draining = false;
    bool planned_on = false;       // follow_plan: inside a planned interval (or booting ahead of one)
    std::uint32_t boots_left = 0;  // follow_plan: planned boots still to come
  };
  bool all_idle(const Server& s) const;
  void set_draining(Server& s, bool draining);
  void power_off(std::size_t server);
  void boot(std::size_t server);
  void log(std::size_t server, bool planned = true);

  core::Engine* engine_;
  PowerListener* listener_;
  std::uint16_t kind_;
  std::vector<Server> servers_;
  std::uint64_t boots_ = 0, shutdowns_ = 0, unplanned_boots_ = 0;
  std::vector<PowerTransition> transitions_;
};

}  // namespace greenfleet::serving
