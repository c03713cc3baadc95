#include <limits>
#include <tuple>

#include <stdexcept>
#include <string>

#include "sim/core/rng.hpp"
#include "sim/routing/carbon_deferral.hpp"
#include "sim/routing/load_index.hpp"
#include "sim/routing/router.hpp"

namespace greenfleet::routing {

namespace {

// Instances on servers that are off or booting look idle but would make a request wait for a boot. Load-based
// routers add `wake_penalty_tokens` to such an instance's load, so a sleeping server is woken only when every
// powered instance is that far behind; round-robin and random skip sleeping instances while any is powered.
constexpr std::int64_t kDefaultWakePenaltyTokens = 200000;

std::int64_t routing_load(const Instance& in, std::int64_t wake_penalty) {
  return in.outstanding_tokens() + (in.powered() ? 0 : wake_penalty);
}

bool any_powered(std::span<const Instance* const> instances) {
  for (const Instance* in : instances)
    if (in->powered()) return true;
  return false;
}

class RoundRobin final : public Router {
 public:
  Decision route(const RequestState&, std::span<const Instance* const> instances, const RoutingContext&) override {
    return Decision::join(pick(instances));
  }

 private:
  std::size_t pick(std::span<const Instance* const> instances) {
    const std::size_t first = next_ % instances.size();
    next_ = first + 1;
    if (instances[first]->powered()) return first;  // the common case: no scan
    for (std::size_t k = 1; k < instances.size(); ++k) {
      const std::size_t i = (first + k) % instances.size();
      if (instances[i]->powered()) {
        next_ = i + 1;
        return i;
      }
    }
    return first;  // nothing is powered: wake this one
  }

  std::size_t next_ = 0;
};

// Ties go to the lowest index, so choices are deterministic.
template <class Load>
std::size_t argmin(std::span<const Instance* const> instances, Load load) {
  std::size_t best = 0;
  auto best_load = load(*instances[0]);
  for (std::size_t i = 1; i < instances.size(); ++i) {
    const auto l = load(*instances[i]);
    if (l < best_load) best = i, best_load = l;
  }
  return best;
}

// Load-based routers answer from an exact index (sim/routing/load_index.hpp) when attached to their instances.
// With engine.check_invariants every decision is checked against the plain scan.
void check_choice(std::span<const Instance* const> instances, std::size_t chosen, std::size_t scanned,
                  const char* router) {
  if (chosen != scanned)
    throw std::logic_error(std::string(router) + " index chose instance " + std::to_string(chosen) +
                           ", the scan " + std::to_string(scanned) + " (of " + std::to_string(instances.size()) +
                           ")");
}

class LeastOutstandingTokens final : public Router {
 public:
  explicit LeastOutstandingTokens(std::int64_t wake_penalty) : wake_penalty_(wake_penalty), index_(wake_penalty) {}
  Decision route(const RequestState&, std::span<const Instance* const> instances, const RoutingContext&) override {
    return Decision::join(pick(instances));
  }
  serving::LoadListener* watch_loads(const core::Engine& engine) override {
    index_.watch(&engine);
    return &index_;
  }

 private:
  std::size_t pick(std::span<const Instance* const> instances) {
    const std::size_t i = index_.argmin(instances);
    if (instances[0]->config().check_invariants)
      check_choice(instances, i,
                   argmin(instances, [&](const Instance& in) { return routing_load(in, wake_penalty_); }),
                   "least_outstanding_tokens");
    return i;
  }

  std::int64_t wake_penalty_;
  OutstandingTokensIndex index_;
};

class LeastKvUsage final : public Router {
 public:
  Decision route(const RequestState&, std::span<const Instance* const> instances, const RoutingContext&) override {
    return Decision::join(pick(instances));
  }
  serving::LoadListener* watch_loads(const core::Engine& engine) override {
    index_.watch(&engine);
    return &index_;
  }

 private:
  std::size_t pick(std::span<const Instance* const> instances) {
    const std::size_t i = index_.argmin(instances);
    if (instances[0]->config().check_invariants)
      // Queued requests hold no blocks yet, so they break ties between equally full caches.
      check_choice(
          instances, i,
          argmin(instances,
                 [](const Instance& in) { return std::tuple(!in.powered(), in.kv_usage(), in.queued()); }),
          "least_kv_usage");
    return i;
  }

  KvUsageIndex index_;
};

class Random final : public Router {
 public:
  explicit Random(std::uint64_t seed) : rng_(seed) {}
  Decision route(const RequestState&, std::span<const Instance* const> instances, const RoutingContext&) override {
    return Decision::join(pick(instances));
  }

 private:
  std::size_t pick(std::span<const Instance* const> instances) {
    // One draw per request whatever the power states, so streams stay aligned across configurations.
    const std::size_t drawn = static_cast<std::size_t>(rng_.below(instances.size()));
    if (instances[drawn]->powered() || !any_powered(instances)) return drawn;
    for (std::size_t k = 1; k < instances.size(); ++k) {
      const std::size_t i = (drawn + k) % instances.size();
      if (instances[i]->powered()) return i;
    }
    return drawn;
  }

  core::Rng rng_;
};

class PowerOfTwo final : public Router {
 public:
  PowerOfTwo(std::uint64_t seed, std::int64_t wake_penalty) : rng_(seed), wake_penalty_(wake_penalty) {}
  Decision route(const RequestState&, std::span<const Instance* const> instances, const RoutingContext&) override {
    return Decision::join(pick(instances));
  }

 private:
  std::size_t pick(std::span<const Instance* const> instances) {
    const std::size_t n = instances.size();
    if (n == 1) return 0;
    const std::size_t a = rng_.below(n);
    std::size_t b = rng_.below(n - 1);
    if (b >= a) ++b;  // two distinct candidates
    const auto la = routing_load(*instances[a], wake_penalty_), lb = routing_load(*instances[b], wake_penalty_);
    return (lb < la || (lb == la && b < a)) ? b : a;
  }

  core::Rng rng_;
  std::int64_t wake_penalty_;
};

RouterRegistry make_registry() {
  RouterRegistry r("router", "router.name", "router.params",
                   "Routers pick the instance each arriving request joins, among the instances of the workload's "
                   "deployment; their parameters go under `router.params`.");
  r.add("round_robin", "Cycles through the instances in order.", {},
        [](const core::ParamValues&, std::uint64_t) { return std::make_unique<RoundRobin>(); });
  const core::ParamSpec wake = core::int_param(
      "wake_penalty_tokens", kDefaultWakePenaltyTokens, 0, INT64_MAX,
      "extra load of an instance whose server is off or booting. The default is our choice (no published value), "
      "for this reason: waking a server costs its boot time and idle power, so a sleeping server is woken only "
      "when "
      "every powered instance is about 200 requests of 1,000 tokens behind, i.e. the powered fleet is saturated; "
      "set it lower to use spare servers earlier (experiments/carbon_sites.yaml uses 0)");
  r.add("least_outstanding_tokens",
        "Joins the instance with the fewest prompt and output tokens still to process (ties: lowest index).",
        {wake}, [](const core::ParamValues& p, std::uint64_t) {
          return std::make_unique<LeastOutstandingTokens>(p.get_int("wake_penalty_tokens"));
        });
  r.add("least_kv_usage", "Joins the instance whose KV cache is least full, then shortest queue.", {},
        [](const core::ParamValues&, std::uint64_t) { return std::make_unique<LeastKvUsage>(); });
  r.add("random", "Uniformly random instance from the router's own seeded stream.",
        {core::string_param("seed_stream", "router.random",
                            "name of the RNG stream (change it to decorrelate runs)")},
        [](const core::ParamValues& p, std::uint64_t seed) {
          return std::make_unique<Random>(core::Rng::stream(seed, p.get_string("seed_stream")).next_u64());
        });
  r.add("power_of_two",
        "Samples two distinct instances at random and joins the one with fewer outstanding tokens.",
        {core::string_param("seed_stream", "router.power_of_two", "name of the RNG stream"), wake},
        [](const core::ParamValues& p, std::uint64_t seed) {
          return std::make_unique<PowerOfTwo>(core::Rng::stream(seed, p.get_string("seed_stream")).next_u64(),
                                              p.get_int("wake_penalty_tokens"));
        });
  r.add(
      "carbon_deferral",
      "Offline requests wait for the slot of lowest grid carbon intensity (the run's own CI series: a perfect "
      "forecast) in which they can still finish by their deadline, each slot filled up to `fill` of the pool's "
      "estimated capacity; online requests and offline ones near their deadline join at once. Joins through "
      "`then`; a split request's decode pool places it through `then` too (its release was decided already).",
      {core::choice_param("then",
                          {"round_robin", "least_outstanding_tokens", "least_kv_usage", "random", "power_of_two"},
                          std::string("least_outstanding_tokens"),
                          "the router that picks the instance when a request joins (with its default "
                          "parameters, and wake_penalty_tokens)"),
       core::duration_param("slot", core::kHour, 60 * core::kSecond,
                            "forecast resolution; slots are compared by their mean carbon intensity. "
                            "1 h, the resolution of the shipped CI series, is our default"),
       core::duration_param("deadline_margin", core::kHour, 0,
                            "time kept free before a request's deadline beyond its service estimate (its "
                            "prefill alone plus its decode in a full batch); our default"),
       core::number_param("fill", 0.8, 0.01, 1.0,
                          "share of a slot's estimated capacity (instances x slot length, in units of the "
                          "requests' own estimates) that deferred work may book; our default"),
       core::duration_param("max_defer", 24 * core::kHour, 0,
                            "deadline of offline requests that have none: EcoServe's 24 h for offline work "
                            "(arXiv 2502.05043)"),
       core::choice_param("release", {"start", "paced"}, std::string("start"),
                          "when requests deferred to a slot are released: all at its start (they queue and run in "
                          "full batches at the slot's carbon intensity), or `paced`, one after the other at the "
                          "pace of the capacity they booked (smaller batches, more energy per request); our "
                          "default"),
       wake},
      [](const core::ParamValues& p, std::uint64_t seed) -> std::unique_ptr<Router> {
        const std::string then = p.get_string("then");
        const auto& info = routers().info(then);
        core::ParamValues inner = core::default_values(info.params);
        for (const auto& spec : info.params)
          if (spec.name == "wake_penalty_tokens")
            inner.set(spec.name, spec.type, p.get_int("wake_penalty_tokens"));
        DeferralSettings s;
        s.slot = p.get_duration("slot");
        s.deadline_margin = p.get_duration("deadline_margin");
        s.fill = p.get_number("fill");
        s.max_defer = p.get_duration("max_defer");
        s.paced = p.get_string("release") == "paced";
        return std::make_unique<CarbonDeferral>(routers().create(then, inner, seed), s);
      });
  return r;
}

}  // namespace

const RouterRegistry& routers() {
  static const RouterRegistry registry = make_registry();
  return registry;
}

}  // namespace greenfleet::routing
