#include "sim/experiment/components.hpp"

#include "sim/perf/calibrated.hpp"
#include "sim/perf/carried_efficiency.hpp"
#include "sim/perf/roofline.hpp"
#include "sim/perf/scaled.hpp"
#include "sim/routing/mode_router.hpp"
#include "sim/routing/router.hpp"
#include "sim/workload/azure_csv.hpp"
#include "sim/workload/burstgpt_csv.hpp"
#include "sim/workload/mooncake_jsonl.hpp"

namespace greenfleet::experiment {

namespace {

// The roofline's parameters; the calibrated model's fallback is a roofline and uses them too. The defaults are
// our reconstruction, not measurements (spec/roofline_params.hpp).
std::vector<core::ParamSpec> roofline_params() {
  const spec::RooflineParams d;
  return {
      core::number_param("compute_efficiency", d.compute_efficiency, 0.01, 1.0, "achieved / peak dense FLOP/s"),
      core::number_param("bandwidth_efficiency", d.bandwidth_efficiency, 0.01, 1.0,
                         "achieved / peak memory bandwidth"),
      core::duration_param("step_overhead", core::kMillisecond, 0, "fixed cost of every model iteration"),
      core::duration_param("allreduce_latency", 8 * core::kMicrosecond, 0,
                           "latency of each tensor-parallel all-reduce (two per layer)"),
      core::number_param("compute_memory_serial", d.compute_memory_serial, 0.0, 1.0,
                         "share of the shorter of a step's compute and memory time added to the longer: "
                         "max(C, M) + s min(C, M); 0 is the classic roofline, 1 their sum (fitted to ML.ENERGY "
                         "v3's training models, docs/MODELS.md)"),
      core::number_param("step_time_scale", 1.0, 0.01, 100.0,
                         "multiplies every step time (sensitivity of hardware priced without its own "
                         "measurements, e.g. old GPUs; ours: 1)"),
  };
}

spec::RooflineParams roofline_from(const core::ParamValues& p) {
  spec::RooflineParams r;
  r.compute_efficiency = p.get_number("compute_efficiency");
  r.bandwidth_efficiency = p.get_number("bandwidth_efficiency");
  r.step_overhead_s = core::to_seconds(p.get_duration("step_overhead"));
  r.allreduce_latency_s = core::to_seconds(p.get_duration("allreduce_latency"));
  r.compute_memory_serial = p.get_number("compute_memory_serial");
  return r;
}

PerfModelRegistry make_perf_models() {
  PerfModelRegistry r("perf_model", "deployments[].perf_model.kind", "deployments[].perf_model",
                      "Step-time models (docs/MODELS.md). `kind` picks one for the deployment and `by_gpu` "
                      "overrides it per GPU kind, so `perf_model` accepts the parameters of every kind.");
  // Registered calibrated first: the parameters then read (and resolve) in the order experiments have always
  // listed them, fallback before the roofline's.
  std::vector<core::ParamSpec> calibrated = {core::choice_param(
      "fallback", {"roofline", "error"}, std::string("roofline"),
      "for GPUs without coefficients: `roofline` (efficiencies carried from calibrated GPUs of the same "
      "architecture) or `error` (the load fails naming the fleet entry)")};
  for (auto& p : roofline_params()) calibrated.push_back(p);
  r.add("calibrated",
        "The coefficients in models/calibration/ for the GPU, model and TP; elsewhere the fallback: a roofline "
        "with efficiencies carried from calibrated GPUs of the same architecture.",
        calibrated, [](const core::ParamValues& p, const PerfContext& c) -> std::unique_ptr<perf::PerfModel> {
          const double scale = p.get_number("step_time_scale");
          if (const auto* cal = c.catalog.calibration(c.gpu.id, c.model_id, c.tensor_parallel))
            return perf::scaled(std::make_unique<perf::CalibratedModel>(*cal), scale);
          // The fallback (`fallback: error` was refused at load): this model's entries first, where any.
          const auto carried = perf::carried_efficiency(
              c.catalog.calibrated_entries(), {c.gpu.architecture, c.tensor_parallel, c.model_id, "", false});
          return perf::scaled(std::make_unique<perf::RooflineModel>(c.model, c.gpu, c.tensor_parallel,
                                                                    perf::with_carried(roofline_from(p), carried)),
                              scale);
        });
  r.add(
      "roofline",
      "Compute time at the effective FLOP rate or memory time at the effective bandwidth, whichever is larger, "
      "plus `compute_memory_serial` times the smaller, a fixed overhead and the tensor-parallel all-reduces. Its "
      "default efficiencies are our reconstruction, not measurements.",
      roofline_params(), [](const core::ParamValues& p, const PerfContext& c) -> std::unique_ptr<perf::PerfModel> {
        return perf::scaled(
            std::make_unique<perf::RooflineModel>(c.model, c.gpu, c.tensor_parallel, roofline_from(p)),
            p.get_number("step_time_scale"));
      });
  return r;
}

WorkloadSourceRegistry make_workload_sources() {
  WorkloadSourceRegistry r("workload_source", "workload.source", "workload",
                           "Where requests come from. Only the chosen source's parameters are accepted, as keys "
                           "of `workload`; trace files are looked up in the data directory, then beside the "
                           "experiment file.");
  using Ptr = std::unique_ptr<workload::RequestSource>;
  const auto trace = [] {
    return core::file_param("file",
                            "the trace file: a relative name is looked up in the data directory, then "
                            "beside the experiment file (see below)");
  };
  r.add("synthetic", "Requests generated on the fly from seeded random streams.",
        {core::section_param("synthetic", "arrivals and length distributions (`workload.synthetic`, below)")},
        [](const core::ParamValues&, const SourceContext& c) -> Ptr {
          return std::make_unique<workload::SyntheticSource>(*c.synthetic, c.seed);
        });
  r.add("azure_csv",
        "The Azure LLM inference traces (2023, 2024): CSV with TIMESTAMP, ContextTokens, GeneratedTokens.",
        {trace()}, [](const core::ParamValues& p, const SourceContext& c) -> Ptr {
          return std::make_unique<workload::AzureCsvSource>(p.get_string("file"), c.on_bad_row, c.named_by);
        });
  r.add("mooncake_jsonl",
        "Mooncake traces: one JSON object per line with timestamp (ms), input_length, output_length.", {trace()},
        [](const core::ParamValues& p, const SourceContext& c) -> Ptr {
          return std::make_unique<workload::MooncakeJsonlSource>(p.get_string("file"), c.on_bad_row, c.named_by);
        });
  r.add("burstgpt_csv", "BurstGPT: CSV with Timestamp (s), Model, Request tokens, Response tokens.",
        {core::string_param("model_filter", std::string(),
                            "keep the rows whose `Model` column equals this (e.g. `ChatGPT`); empty: all rows"),
         trace()},
        [](const core::ParamValues& p, const SourceContext& c) -> Ptr {
          return std::make_unique<workload::BurstGptCsvSource>(p.get_string("file"), c.on_bad_row,
                                                               p.get_string("model_filter"), c.named_by);
        });
  return r;
}

PowerPolicyRegistry make_power_policies() {
  PowerPolicyRegistry r(
      "power_policy", "fleet[].power.policy", "fleet[].power",
      "Server power states (docs/CARBON.md). `power` accepts every policy's parameters; a policy "
      "ignores those of others.");
  const serving::PowerPolicy d;
  r.add("always_on",
        "The servers stay on for the whole run (or, with `powered: false`, off and without instances).", {},
        [](const core::ParamValues&) { return serving::PowerPolicy{}; });
  r.add("off_when_idle",
        "A server powers off once all its instances have had no work for `idle_timeout`; a request routed to one "
        "of its instances boots it and waits.",
        {core::duration_param("idle_timeout", d.idle_timeout, 1, "idle time before powering off"),
         core::duration_param("boot_time", d.boot_time, 0,
                              "time from power-on until the instances can run; the server draws idle power "
                              "meanwhile and the request waits")},
        [](const core::ParamValues& p) {
          serving::PowerPolicy policy;
          policy.off_when_idle = true;
          policy.idle_timeout = p.get_duration("idle_timeout");
          policy.boot_time = p.get_duration("boot_time");
          return policy;
        });
  r.add("follow_plan",
        "The servers follow a provisioning plan (`greenfleet run --plan`, docs/PLANNING.md): each is booted "
        "`boot_time` ahead of the slots the plan keeps it on, so it takes work from the slot's start, and drained "
        "when the plan lowers the count: it takes no new work and powers off once its running and queued "
        "requests are done. Work reaching a server with no planned boot left boots it (counted as unplanned).",
        {core::duration_param("boot_time", d.boot_time, 0,
                              "time from power-on until the instances can run; the server draws idle power "
                              "meanwhile and the request waits")},
        [](const core::ParamValues& p) {
          serving::PowerPolicy policy;
          policy.follow_plan = true;
          policy.boot_time = p.get_duration("boot_time");
          return policy;
        });
  return r;
}

}  // namespace

const PerfModelRegistry& perf_models() {
  static const PerfModelRegistry registry = make_perf_models();
  return registry;
}

const WorkloadSourceRegistry& workload_sources() {
  static const WorkloadSourceRegistry registry = make_workload_sources();
  return registry;
}

const PowerPolicyRegistry& power_policies() {
  static const PowerPolicyRegistry registry = make_power_policies();
  return registry;
}

std::vector<core::RegistryListing> registries() {
  return {workload_sources().listing(), perf_models().listing(), power_policies().listing(),
          routing::routers().listing(), routing::mode_routers().listing()};
}

}  // namespace greenfleet::experiment
