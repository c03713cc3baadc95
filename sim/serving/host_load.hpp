#pragma once
#include <cstdint>
#include <vector>

#include "sim/core/time.hpp"

namespace greenfleet::serving {

class Instance;

// The host CPU of one server shared by CPU instances and the GPU serving stack (EcoServe's Reuse;
// docs/CPU_MODEL.md, "Interference"): the server's GPU instances step slower only while at least one of its CPU
// instances runs a step. The CPU instances report when they start and stop stepping; each change cuts the GPU
// instances' fast-forwarded runs at their next iteration boundary (as a KV arrival does), so that every GPU step
// is priced by the state at its start in both stepping modes.
class HostCpuLoad {
 public:
  void add_gpu_instance(Instance* in) { gpus_.push_back(in); }
  // A CPU instance of the host started (`busy`) or stopped stepping at `now`.
  void cpu_busy_changed(bool busy, core::SimTime now);
  // Whether a GPU step starting at `now` shares the host with a stepping CPU instance: one is stepping, or the
  // last one stopped at `now` itself (a step ending at t counts as busy at t, so that the order of step ends at
  // one instant does not decide it).
  bool busy_at(core::SimTime now) const { return busy_ > 0 || last_idle_ == now; }
  std::uint64_t changes() const { return changes_; }

 private:
  std::vector<Instance*> gpus_;
  std::int32_t busy_ = 0;
  core::SimTime last_idle_ = -1;
  std::uint64_t changes_ = 0;
};

}  // namespace greenfleet::serving
