#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/routing/mode_router.hpp"

namespace greenfleet::routing {

namespace {

// Every request whole on the deployment's own instances: what serving did before modes.
class UnifiedOnly final : public ModeRouter {
 public:
  ModeChoice choose(const serving::RequestState&, const ModeOptions&, const ModeCandidates&,
                    const RoutingContext&) override {
    return {};
  }
};

// Splits every request that may split (a decode instance holds it); the rest run whole (the simulation counts
// them). The always-split baseline of GreenLLM-style studies.
class AlwaysDisaggregated final : public ModeRouter {
 public:
  ModeChoice choose(const serving::RequestState&, const ModeOptions&, const ModeCandidates& c,
                    const RoutingContext&) override {
    ModeChoice m;
    if (c.decode) m.mode = serving::RequestMode::kDisaggregated;
    return m;
  }
};

// GreenLLM's per-request scheduler (Shi et al., arXiv 2412.20322; reconstructed, the predictors are ours): predict
// the TTFT and TPOT of each allowed mode on the instances the pool routers picked, keep the modes that meet the
// request's class SLOs (scaled by `slo_scale`), pick the one with the least predicted carbon (site CI now, PUE,
// embodied rates of the GPUs' time: sunk old GPUs charge none), and fall back to unified when none is predicted to
// meet them.
//
// Predictors, from the same perf and power models that price the run (RoutingContext):
// - TTFT: a prefill of the prompts still waiting or prefilling on the front instance plus this prompt, as one
//   step (queued prompts are ahead of it; decodes interleaved with them are ignored).
// - TPOT, unified: one decode iteration of the front instance's running batch plus this request, each sequence
//   at this request's mid-decode context.
// - TPOT, split: the KV transfer alone on its network path spread over the output tokens after the first, plus
//   one decode iteration on the decode instance likewise.
// - Carbon: the prefill step's, plus the output tokens' share (1/batch) of the decode iterations, plus the
//   transfer's energy when split.
class GreenLlm final : public ModeRouter {
 public:
  explicit GreenLlm(double slo_scale) : slo_scale_(slo_scale) {}
  ModeChoice choose(const serving::RequestState& r, const ModeOptions&, const ModeCandidates& c,
                    const RoutingContext& ctx) override {
    const auto prompt = r.spec.prompt_tokens;
    const std::int64_t later = std::max(0, r.spec.output_tokens - 1);
    const std::int64_t mid_context = prompt + r.spec.output_tokens / 2;
    const Estimate prefill = ctx.prefill(
        *c.front, static_cast<std::int32_t>(std::min<std::int64_t>(c.front->pending_prefill_tokens() + prompt,
                                                                   std::numeric_limits<std::int32_t>::max())));
    const Estimate own_prefill = ctx.prefill(*c.front, prompt);
    const double ttft = prefill.seconds;
    struct Option {
      serving::RequestMode mode;
      double tpot, carbon_g;
    };
    auto decode_on = [&](const serving::Instance& in, double extra_s, double extra_g, serving::RequestMode m) {
      const auto batch = static_cast<std::int32_t>(in.running() + 1);
      const Estimate step = ctx.decode(in, batch, batch * mid_context, 1);
      const double tpot = step.seconds + (later > 0 ? extra_s / static_cast<double>(later) : 0.0);
      return Option{m, tpot, own_prefill.carbon_g + step.carbon_g / batch * static_cast<double>(later) + extra_g};
    };
    Option options[2];
    int n = 0;
    options[n++] = decode_on(*c.front, 0, 0, serving::RequestMode::kUnified);
    if (c.decode) {
      const double bytes = c.front->kv_bytes_of(prompt);
      const Estimate transfer = ctx.transfer(*c.front, *c.decode, bytes);
      options[n++] =
          decode_on(*c.decode, transfer.seconds, transfer.carbon_g, serving::RequestMode::kDisaggregated);
    }
    const double ttft_slo = slo_scale_ * core::to_seconds(c.slo_ttft);
    const double tpot_slo = slo_scale_ * core::to_seconds(c.slo_tpot);
    const Option* best = nullptr;
    for (int i = 0; i < n; ++i) {
      const Option& o = options[i];
      if (ttft > ttft_slo || o.tpot > tpot_slo) continue;
      if (!best || o.carbon_g < best->carbon_g) best = &o;
    }
    ModeChoice m;
    m.fallback = best == nullptr;
    if (!best) best = &options[0];
    m.mode = best->mode;
    m.ttft_s = static_cast<float>(ttft);
    m.tpot_s = static_cast<float>(best->tpot);
    return m;
  }

 private:
  double slo_scale_;
};

ModeRouterRegistry make_registry() {
  ModeRouterRegistry r("mode_router", "mode_router.name", "mode_router.params",
                       "Mode routers pick how each arriving request is served: whole on one instance (`unified`) "
                       "or with its prefill on one of its deployment's instances and its decode on an instance of "
                       "the deployment named by `deployments[].modes.disaggregated.decode`, its KV crossing the "
                       "network. The pool routers (`router`) pick the candidate instances first.");
  r.add("unified", "Every request runs whole on its deployment's instances (the default; GreenLLM's new-only).",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<UnifiedOnly>(); });
  r.add("always_disaggregated",
        "Splits every request whose deployment allows it and which fits a decode instance (prompt plus output "
        "within its context and KV cache); the others run whole and are counted as fallbacks.",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<AlwaysDisaggregated>(); });
  r.add("greenllm",
        "GreenLLM's scheduler (reconstructed): predicts each mode's TTFT and TPOT on the picked instances, keeps "
        "those within the request's class SLOs and picks the least predicted carbon (CI now, PUE, embodied); "
        "unified when none is predicted to meet them. Predictions are stored per request (docs/EXPERIMENTS.md).",
        {core::number_param("slo_scale", 1.0, 0.01, 100,
                            "a mode is kept when its predicted TTFT and TPOT are within this multiple of the "
                            "class's SLOs (ours: 1, the SLO itself)")},
        [](const core::ParamValues& p, std::uint64_t) {
          return std::make_unique<GreenLlm>(p.get_number("slo_scale"));
        });
  return r;
}

}  // namespace

const ModeRouterRegistry& mode_routers() {
  static const ModeRouterRegistry registry = make_registry();
  return registry;
}

}  // namespace greenfleet::routing
