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

// Runs every request speculatively whose deployment allows it and whose draft instance can hold it; the others run
// whole. The always-speculative baseline of GreenLLM-style studies.
class AlwaysSpeculative final : public ModeRouter {
 public:
  ModeChoice choose(const serving::RequestState&, const ModeOptions&, const ModeCandidates& c,
                    const RoutingContext&) override {
    ModeChoice m;
    if (c.draft) m.mode = serving::RequestMode::kSpeculative;
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
//   one decode iteration on the decode instance likewise; no split while the decode instance has requests queued
//   or fewer free KV blocks than the request's whole length needs (it would wait there for blocks).
// - TTFT, speculative: the same plus the draft's prefill of the prompt alone (a step waits for its drafts).
// - TPOT, speculative: one round over its expected tokens E (Speculation::expected_tokens): gamma draft iterations
//   of a batch as large as the front instance's plus this request, the ids' round trip, and a verify step
//   (the front's decode iteration with gamma more positions; this request's share of it is gamma + 1).
// - Carbon: the prefill step's, plus the output tokens' share (1/batch) of the decode iterations (or of the
//   rounds, drafts and verifies), plus the transfer's energy when split.
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
    Option options[3];
    int n = 0;
    options[n++] = decode_on(*c.front, 0, 0, serving::RequestMode::kUnified);
    double spec_ttft = ttft;
    if (c.draft) {
      const serving::Speculation& sp = *c.front->speculation();
      const auto batch = static_cast<std::int32_t>(c.front->running() + 1);
      const Estimate draft_prefill = ctx.prefill(*c.draft, prompt);
      const Estimate drafts = ctx.decode(*c.draft, batch, batch * mid_context, sp.gamma);
      // The verify step: the batch's iteration with gamma more positions of this request's, its share gamma + 1.
      const std::int32_t positions = batch + sp.gamma;
      const Estimate verify = ctx.decode(*c.front, positions, positions * mid_context, 1);
      const double round_s = drafts.seconds + sp.link_seconds(batch) + verify.seconds;
      const double rounds = static_cast<double>(later) / sp.expected;
      spec_ttft = ttft + draft_prefill.seconds;
      options[n++] = Option{serving::RequestMode::kSpeculative, round_s / sp.expected,
                            own_prefill.carbon_g + draft_prefill.carbon_g +
                                rounds * (drafts.carbon_g / batch + verify.carbon_g * (sp.gamma + 1) / positions)};
    }
    // A split is infeasible while its decode instance has requests queued or no room for this one's whole KV:
    // it would wait there for blocks, which the TPOT predictor does not see (GreenLLM: "a mode becomes infeasible
    // when its queue grows").
    if (c.decode && c.decode->queued() == 0 && c.decode->kv_blocks_free() >= c.decode->whole_request_blocks(r)) {
      const double bytes = c.front->kv_bytes_of(prompt);
      const Estimate transfer = ctx.transfer(*c.front, *c.decode, bytes);
      options[n++] =
          decode_on(*c.decode, transfer.seconds, transfer.carbon_g, serving::RequestMode::kDisaggregated);
    }
    const double ttft_slo = slo_scale_ * core::to_seconds(c.slo_ttft);
    const double tpot_slo = slo_scale_ * core::to_seconds(c.slo_tpot);
    const Option* best = nullptr;
    const auto ttft_of = [&](const Option& o) {
      return o.mode == serving::RequestMode::kSpeculative ? spec_ttft : ttft;
    };
    for (int i = 0; i < n; ++i) {
      const Option& o = options[i];
      if (ttft_of(o) > ttft_slo || o.tpot > tpot_slo) continue;
      if (!best || o.carbon_g < best->carbon_g) best = &o;
    }
    ModeChoice m;
    m.fallback = best == nullptr;
    if (!best) best = &options[0];
    m.mode = best->mode;
    m.ttft_s = static_cast<float>(ttft_of(*best));
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
                       "network, or speculatively, with the draft model on the instance's draft instance "
                       "(`deployments[].modes.speculative.draft`). The pool routers (`router`) pick the candidate "
                       "instances first.");
  r.add("unified", "Every request runs whole on its deployment's instances (the default; GreenLLM's new-only).",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<UnifiedOnly>(); });
  r.add("always_disaggregated",
        "Splits every request whose deployment allows it and which fits a decode instance (prompt plus output "
        "within its context and KV cache); the others run whole and are counted as fallbacks.",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<AlwaysDisaggregated>(); });
  r.add("always_speculative",
        "Runs every request speculatively whose deployment allows it and whose draft instance can hold it (prompt "
        "plus output in its KV cache); the others run whole.",
        {}, [](const core::ParamValues&, std::uint64_t) { return std::make_unique<AlwaysSpeculative>(); });
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
