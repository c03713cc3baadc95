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
  std::span<const serving::Instance* const> front;   // the deployment's own instances: whole requests, prefills
  std::span<const serving::Instance* const> decode;  // where split requests decode; empty: no disaggregation
  std::int64_t decode_max_tokens = 0;  // the longest request (prompt + output) some decode instance can hold
};

// Picks the mode of each arriving request, before the pool routers pick instances in the pools of that mode
// (the front pool's router for whole requests and prefills, the decode pool's for decodes). A mode router only
// returns modes the options allow.
class ModeRouter {
 public:
  virtual ~ModeRouter() = default;
  virtual serving::RequestMode choose(const serving::RequestState& request, const ModeOptions& options,
                                      const RoutingContext& context) = 0;
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
