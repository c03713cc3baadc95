#include "sim/planning/objectives.hpp"

namespace greenfleet::planning {

namespace {

ObjectiveRegistry make_objectives() {
  ObjectiveRegistry r(
      "planner_objective", "objective.name", "objective",
      "What `greenfleet plan` minimises (docs/PLANNING.md). The plan is solved for `objective` and "
      "for each of `baselines` on the same constraints.");
  r.add("carbon",
        "EcoServe's cross-stack objective: operational carbon (per-slot carbon intensity x PUE x energy) plus the "
        "embodied carbon of the servers bought, amortised linearly over their lifetime.",
        {core::number_param("embodied_weight", 1.0, 0.0, 1e6,
                            "multiplies the amortised embodied term (0: operational carbon only)")},
        [](const core::ParamValues& v) {
          Objective o;
          o.kind = ObjectiveKind::kCarbon;
          o.name = "carbon";
          o.embodied_weight = v.get_number("embodied_weight");
          return o;
        });
  r.add("performance",
        "Performance-optimised baseline: each class only on the types with the fastest GPU (dense FP16 TFLOP/s) "
        "that can serve it, every server bought on in every slot, all work on GPUs; the least energy among such "
        "plans.",
        {core::bool_param("cpu_offline", false,
                          "EcoServe's Reuse on this design: offline classes may also run on the types' CPU "
                          "instances (servers.cpu_instances); false: all work on GPUs")},
        [](const core::ParamValues& v) {
          Objective o;
          o.kind = ObjectiveKind::kPerformance;
          o.name = "performance";
          o.cpu_offline = v.get_bool("cpu_offline");
          return o;
        });
  r.add("energy", "Energy-optimised baseline: the least facility energy (kWh, PUE included) over the horizon.", {},
        [](const core::ParamValues&) {
          Objective o;
          o.kind = ObjectiveKind::kEnergy;
          o.name = "energy";
          return o;
        });
  r.add("cost",
        "Cost-optimised baseline: the least dollars, each server on paid at its SKU's usd_per_hour "
        "(hardware_catalog/servers.yaml) plus the energy at electricity_usd_per_kwh.",
        {core::number_param("electricity_usd_per_kwh", 0.0, 0.0, 100.0,
                            "price of facility energy on top of the servers' $/h (0: cloud prices include it)")},
        [](const core::ParamValues& v) {
          Objective o;
          o.kind = ObjectiveKind::kCost;
          o.name = "cost";
          o.electricity_usd_per_kwh = v.get_number("electricity_usd_per_kwh");
          return o;
        });
  return r;
}

}  // namespace

const ObjectiveRegistry& objectives() {
  static const ObjectiveRegistry r = make_objectives();
  return r;
}

}  // namespace greenfleet::planning
