#include "sim/serving/power_state.hpp"

#include "sim/serving/provisioner.hpp"

namespace greenfleet::serving {

void PowerState::request_boot() const { provisioner_->on_demand(server_); }

void PowerState::report_idle() const {
  if (provisioner_) provisioner_->on_instance_idle(server_);
}

}  // namespace greenfleet::serving
