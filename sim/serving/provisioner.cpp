#include "sim/serving/provisioner.hpp"

#include <algorithm>

#include "sim/serving/instance.hpp"

namespace greenfleet::serving {

namespace {
constexpr std::uint64_t kIdleCheck = 0, kBootDone = 1;
// follow_plan servers never arm idle checks, so their events use payloads of their own.
constexpr std::uint64_t kPlanBoot = 2, kPlanDrain = 4, kDrainCheck = 8;
}  // namespace

Provisioner::Provisioner(core::Engine* engine, PowerListener* listener) : engine_(engine), listener_(listener) {
  kind_ = engine_->register_kind(this);
}

void Provisioner::add_server(std::size_t server, PowerPolicy policy, bool initially_on,
                             std::vector<Instance*> instances) {
  if (servers_.size() <= server) servers_.resize(server + 1);
  Server& s = servers_[server];
  s.policy = std::move(policy);
  s.state = initially_on ? State::kOn : State::kOff;
  s.instances = std::move(instances);
  for (Instance* in : s.instances) in->attach_power(this, server, initially_on);
  const auto target = static_cast<std::uint32_t>(server);
  if (s.policy.follow_plan) {
    // Boot ahead of each planned interval so the server takes work from its start; where the gap before it is
    // shorter than a boot, the server (draining) is taken back at the start instead.
    core::SimTime previous_end = 0;
    for (const auto& [start, end] : s.policy.plan_on) {
      if (start > 0) {
        const core::SimTime ahead = start - s.policy.boot_time;
        const core::SimTime at = previous_end == 0      ? std::max<core::SimTime>(0, ahead)
                                 : ahead > previous_end ? ahead
                                                        : start;
        engine_->schedule(at, core::kPriorityTick, kind_, target, kPlanBoot);
        ++s.boots_left;
      } else {
        s.planned_on = true;
      }
      engine_->schedule(end, core::kPriorityTick, kind_, target, kPlanDrain);
      previous_end = end;
    }
    log(server);
    return;
  }
  // A server that starts on and never gets work should still power off.
  if (initially_on && s.policy.off_when_idle)
    engine_->schedule(s.policy.idle_timeout, core::kPriorityTick, kind_, target,
                      (s.idle_generation << 1) | kIdleCheck);
}

bool Provisioner::all_idle(const Server& s) const {
  for (const Instance* in : s.instances)
    if (in->holds_work()) return false;
  return true;
}

void Provisioner::log(std::size_t server, bool planned) {
  const Server& s = servers_[server];
  transitions_.push_back({engine_->now(), static_cast<std::uint32_t>(server), s.state != State::kOff,
                          s.state == State::kOn && !s.draining, planned});
}

void Provisioner::set_draining(Server& s, bool draining) {
  s.draining = draining;
  for (Instance* in : s.instances) in->set_draining(draining);
}

void Provisioner::on_instance_idle(std::size_t server) {
  Server& s = servers_[server];
  if (s.policy.follow_plan) {
    // A draining server powers off as soon as the work it held is done (checked in an event of its own, not
    // inside the instance's call).
    if (s.draining && s.state == State::kOn && all_idle(s))
      engine_->schedule(engine_->now(), core::kPriorityTick, kind_, static_cast<std::uint32_t>(server),
                        kDrainCheck);
    return;
  }
  if (!s.policy.off_when_idle || s.state != State::kOn || !all_idle(s)) return;
  // The last instance to go idle arms the check; any later idle supersedes it.
  ++s.idle_generation;
  engine_->schedule(engine_->now() + s.policy.idle_timeout, core::kPriorityTick, kind_,
                    static_cast<std::uint32_t>(server), (s.idle_generation << 1) | kIdleCheck);
}

void Provisioner::on_demand(std::size_t server) {
  Server& s = servers_[server];
  if (s.state != State::kOff) return;  // booting already, or on
  if (s.policy.follow_plan) {
    if (s.boots_left > 0) return;  // the work waits for the plan's next boot
    ++unplanned_boots_;
    boot(server);
    log(server, false);
    return;
  }
  boot(server);
}

void Provisioner::boot(std::size_t server) {
  Server& s = servers_[server];
  s.state = State::kBooting;
  ++boots_;
  listener_->on_power(server, engine_->now(), true);  // a booting server draws power
  engine_->schedule(engine_->now() + s.policy.boot_time, core::kPriorityTick, kind_,
                    static_cast<std::uint32_t>(server), kBootDone);
}

void Provisioner::power_off(std::size_t server) {
  Server& s = servers_[server];
  s.state = State::kOff;
  ++shutdowns_;
  for (Instance* in : s.instances) in->power_off();
  if (s.policy.follow_plan) {
    set_draining(s, false);
    log(server);
  }
  listener_->on_power(server, engine_->now(), false);
}

void Provisioner::on_event(const core::Event& e) {
  Server& s = servers_[e.target];
  if (s.policy.follow_plan) {
    if (e.payload == kBootDone) {
      s.state = State::kOn;
      for (Instance* in : s.instances) in->power_on();
      // Booted outside a planned interval (for work that had no planned boot left): drain right away.
      set_draining(s, !s.planned_on);
      log(e.target, s.planned_on);
      on_instance_idle(e.target);
    } else if (e.payload == kPlanBoot) {
      --s.boots_left;
      s.planned_on = true;
      if (s.state == State::kOff) {
        boot(e.target);
      } else if (s.draining && s.state == State::kOn) {
        set_draining(s, false);  // taken back before its drain finished
      }
      log(e.target);
    } else if (e.payload == kDrainCheck) {
      if (s.draining && s.state == State::kOn && all_idle(s)) power_off(e.target);
    } else {  // kPlanDrain
      s.planned_on = false;
      if (s.state == State::kOff) return;
      if (s.state == State::kOn) {
        set_draining(s, true);
        log(e.target);
        on_instance_idle(e.target);
      }
      // Booting: drained when the boot is done (planned_on is false by then).
    }
    return;
  }
  if ((e.payload & 1) == kBootDone) {
    s.state = State::kOn;
    for (Instance* in : s.instances) in->power_on();
    on_instance_idle(e.target);  // nothing was waiting after all: arm the idle check
    return;
  }
  if ((e.payload >> 1) != s.idle_generation || s.state != State::kOn || !all_idle(s)) return;
  power_off(e.target);
}

}  // namespace greenfleet::serving
