#include "sim/serving/provisioner.hpp"

#include "sim/serving/instance.hpp"

namespace greenfleet::serving {

namespace {
constexpr std::uint64_t kIdleCheck = 0, kBootDone = 1;
}

Provisioner::Provisioner(core::Engine* engine, PowerListener* listener) : engine_(engine), listener_(listener) {
  kind_ = engine_->register_kind(this);
}

void Provisioner::add_server(std::size_t server, PowerPolicy policy, bool initially_on,
                             std::vector<Instance*> instances) {
  if (servers_.size() <= server) servers_.resize(server + 1);
  Server& s = servers_[server];
  s.policy = policy;
  s.state = initially_on ? State::kOn : State::kOff;
  s.instances = std::move(instances);
  for (Instance* in : s.instances) in->attach_power(this, server, initially_on);
  // A server that starts on and never gets work should still power off.
  if (initially_on && policy.off_when_idle)
    engine_->schedule(policy.idle_timeout, core::kPriorityTick, kind_, static_cast<std::uint32_t>(server),
                      (s.idle_generation << 1) | kIdleCheck);
}

bool Provisioner::all_idle(const Server& s) const {
  for (const Instance* in : s.instances)
    if (in->busy() || in->queued() != 0 || in->running() != 0) return false;
  return true;
}

void Provisioner::on_instance_idle(std::size_t server) {
  Server& s = servers_[server];
  if (!s.policy.off_when_idle || s.state != State::kOn || !all_idle(s)) return;
  // The last instance to go idle arms the check; any later idle supersedes it.
  ++s.idle_generation;
  engine_->schedule(engine_->now() + s.policy.idle_timeout, core::kPriorityTick, kind_,
                    static_cast<std::uint32_t>(server), (s.idle_generation << 1) | kIdleCheck);
}

void Provisioner::on_demand(std::size_t server) {
  Server& s = servers_[server];
  if (s.state != State::kOff) return;  // booting already, or on
  s.state = State::kBooting;
  ++boots_;
  listener_->on_power(server, engine_->now(), true);  // a booting server draws power
  engine_->schedule(engine_->now() + s.policy.boot_time, core::kPriorityTick, kind_,
                    static_cast<std::uint32_t>(server), kBootDone);
}

void Provisioner::on_event(const core::Event& e) {
  Server& s = servers_[e.target];
  if ((e.payload & 1) == kBootDone) {
    s.state = State::kOn;
    for (Instance* in : s.instances) in->power_on();
    on_instance_idle(e.target);  // nothing was waiting after all: arm the idle check
    return;
  }
  if ((e.payload >> 1) != s.idle_generation || s.state != State::kOn || !all_idle(s)) return;
  s.state = State::kOff;
  ++shutdowns_;
  for (Instance* in : s.instances) in->power_off();
  listener_->on_power(e.target, engine_->now(), false);
}

}  // namespace greenfleet::serving
