#include "sim/serving/host_load.hpp"

#include "sim/serving/instance.hpp"

namespace greenfleet::serving {

void HostCpuLoad::cpu_busy_changed(bool busy, core::SimTime now) {
  if (busy) {
    if (++busy_ > 1) return;
  } else {
    last_idle_ = now;
    if (--busy_ > 0) return;
  }
  ++changes_;
  for (Instance* in : gpus_) in->host_load_changed();
}

}  // namespace greenfleet::serving
