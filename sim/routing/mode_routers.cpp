#include "sim/routing/mode_router.hpp"

namespace greenfleet::routing {

namespace {

// Every request whole on the deployment's own instances: what serving did before modes.
class UnifiedOnly final : public ModeRouter {
 public:
  serving::RequestMode choose(const serving::RequestState&, const ModeOptions&, const RoutingContext&) override {
    return serving::RequestMode::kUnified;
  }
};

// Splits every request its deployment allows to split and a decode instance can hold; the rest run whole (the
// simulation counts them as fallbacks). The always-split baseline of GreenLLM-style studies.
class AlwaysDisaggregated final : public ModeRouter {
 public:
  serving::RequestMode choose(const serving::RequestState& r, const ModeOptions& options,
                              const RoutingContext&) override {
    return fits_decode(r, options) ? serving::RequestMode::kDisaggregated : serving::RequestMode::kUnified;
  }
};

ModeRouterRegistry make_registry() {
  ModeRouterRegistry r("mode_router", "mode_router.name", "mode_router.params",
                       "Mode routers pick how each arriving request is served: whole on one instance (`unified`) "
                       "or with its prefill on one of its deployment's instances and its decode on an instance of "
                       "the deployment named by `deployments[].modes.disaggregated.decode`, its KV crossing the "
                       "network. The pool routers (`router`) then pick the instances.");
  r.add("unified", "Every request runs whole on its deployment's instances (the default).", {},
        [](const core::ParamValues&, std::uint64_t) { return std::make_unique<UnifiedOnly>(); });
  r.add("always_disaggregated",
        "Splits every request whose deployment allows it and which fits a decode instance (prompt plus output "
        "within its context and KV cache); the others run whole and are counted as fallbacks.",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<AlwaysDisaggregated>(); });
  return r;
}

}  // namespace

const ModeRouterRegistry& mode_routers() {
  static const ModeRouterRegistry registry = make_registry();
  return registry;
}

}  // namespace greenfleet::routing
