#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "sim/core/registry.hpp"
#include "sim/routing/context.hpp"
#include "sim/serving/instance.hpp"

namespace greenfleet::routing {

// The modes a request's deployment allows it (its `modes` section) and the pools that serve them.
struct ModeOptions {
  std::span<const serving::Instance* const> decode;  // where split requests decode; empty: no disaggregation
  std::int64_t decode_max_tokens = 0;  // the longest request (prompt + output) some decode instance can hold
  bool speculative = false;            // its instances have draft instances (Instance::speculation())
};

// What a mode router is asked about one request: the instances the pool routers picked (the decode one only when
// the request may split: it fits a decode instance and the decode pool's router took it), and the SLO of the
// request's workload class.
struct ModeCandidates {
  const serving::Instance* front = nullptr;
  const serving::Instance* decode = nullptr;
  const serving::Instance* draft = nullptr;  // the front instance's draft instance, when it can hold the request
  core::SimTime slo_ttft = 0, slo_tpot = 0;
};

// A mode router's answer: the mode, whether it fell back to unified because no mode was predicted to meet the
// SLO, and (routers that predict) the predicted TTFT and TPOT of the chosen mode, in seconds (-1: none).
struct ModeChoice {
  serving::RequestMode mode = serving::RequestMode::kUnified;
  bool fallback = false;
  float ttft_s = -1, tpot_s = -1;
};

// Picks the mode of each arriving request, once the pool routers have picked an instance in each pool it may use
// (the front pool's router for whole requests and prefills, the decode pool's for decodes). A mode router only
// returns kDisaggregated when the candidates have a decode instance, kSpeculative when they have a draft one.
class ModeRouter {
 public:
  virtual ~ModeRouter() = default;
  virtual ModeChoice choose(const serving::RequestState& request, const ModeOptions& options,
                            const ModeCandidates& candidates, const RoutingContext& context) = 0;
};

// Factories get their declared parameters (mode_router.params) and the experiment seed.
using ModeRouterRegistry = core::Registry<std::unique_ptr<ModeRouter>, std::uint64_t>;
const ModeRouterRegistry& mode_routers();

// Whether a request fits the decode pool of `options` (prompt plus output within what one decode instance holds).
inline bool fits_decode(const serving::RequestState& r, const ModeOptions& options) {
  return !options.decode.empty() &&
         static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens <= options.decode_max_tokens;
}

}  // namespace greenfleet::routing
