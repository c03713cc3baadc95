#pragma once
#include <cstddef>

namespace greenfleet::serving {

class Provisioner;

// An instance's view of its server's power: whether it may run, and whom to tell that it needs its server
// booted or has run out of work. Without a provisioner the server is always on.
class PowerState {
 public:
  void attach(Provisioner* provisioner, std::size_t server, bool on) {
    provisioner_ = provisioner;
    server_ = server;
    on_ = on;
  }
  bool on() const { return on_; }
  void set_on(bool on) { on_ = on; }
  // On and taking new work: a draining server (a plan turns it off once its work is done) runs what it holds
  // but routers treat it as asleep.
  bool accepting() const { return on_ && !draining_; }
  void set_draining(bool draining) { draining_ = draining; }
  // The instance got work while its server is off: it waits for the boot.
  void request_boot() const;
  // The instance ran out of work (its server may power off after the idle timeout).
  void report_idle() const;

 private:
  Provisioner* provisioner_ = nullptr;
  std::size_t server_ = 0;
  bool on_ = true;
  bool draining_ = false;
};

}  // namespace greenfleet::serving
