#pragma once
#include <cstdint>
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
};

// Reactive provisioning: servers that power off when idle and boot on demand. A server that is off draws no
// power but still carries its embodied carbon; a request routed to one of its instances waits for the boot.
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

 private:
  enum class State { kOn, kOff, kBooting };
  struct Server {
    PowerPolicy policy;
    State state = State::kOn;
    std::vector<Instance*> instances;
    std::uint64_t idle_generation = 0;
  };
  bool all_idle(const Server& s) const;

  core::Engine* engine_;
  PowerListener* listener_;
  std::uint16_t kind_;
  std::vector<Server> servers_;
  std::uint64_t boots_ = 0, shutdowns_ = 0;
};

}  // namespace greenfleet::serving
