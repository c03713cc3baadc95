#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/registry.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/serving/provisioner.hpp"
#include "sim/text/text_rows.hpp"
#include "sim/workload/request.hpp"
#include "sim/workload/synthetic.hpp"

namespace greenfleet::experiment {

// The registries of the pluggable parts an experiment names, besides the routers (routing::routers()): step-time
// models, workload sources and server power policies. Each entry declares its parameters (core::ParamSpec);
// the loader validates the entry's name against its registry and reads the parameters from the declaration,
// the simulation builds from the entry's factory, and `greenfleet list` and docs/EXPERIMENTS.md describe them.

// What a perf-model factory builds for: one deployment's model on one GPU kind at one TP degree.
struct PerfContext {
  const catalog::Catalog& catalog;
  const spec::GpuSpec& gpu;
  const spec::LlmModel& model;
  std::string model_id;
  int tensor_parallel = 1;
};
// `deployments[].perf_model.kind` (overridable per GPU with `by_gpu`). The section accepts the parameters of
// every kind, since `by_gpu` may pick either for some GPUs.
using PerfModelRegistry = core::Registry<std::unique_ptr<perf::PerfModel>, const PerfContext&>;
const PerfModelRegistry& perf_models();

// What a workload-source factory gets besides its parameters (files come resolved).
struct SourceContext {
  text::BadRowPolicy on_bad_row = text::BadRowPolicy::kError;
  const workload::SyntheticSpec* synthetic = nullptr;  // read by the loader from `workload.synthetic`
  std::uint64_t seed = 0;
  // Where the experiment named the trace file ("EXP.yaml:12:9: workload.file"; WorkloadConfig::file_where),
  // appended to the reader's messages about the file.
  std::string named_by;
};
// `workload.source`: only the chosen source's parameters are accepted, as keys of `workload`.
using WorkloadSourceRegistry = core::Registry<std::unique_ptr<workload::RequestSource>, const SourceContext&>;
const WorkloadSourceRegistry& workload_sources();

// `fleet[].power.policy`. The section accepts every policy's parameters, so a sweep can switch the policy alone.
using PowerPolicyRegistry = core::Registry<serving::PowerPolicy>;
const PowerPolicyRegistry& power_policies();

// Every registry, routers included, in the order `greenfleet list` and the docs show them.
std::vector<core::RegistryListing> registries();

}  // namespace greenfleet::experiment
