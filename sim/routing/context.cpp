#include "sim/routing/context.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace greenfleet::routing {

const energy::ServerPower& RoutingContext::server(const serving::Instance& instance) const {
  if (!servers_) throw std::logic_error("routing context without servers asked for an estimate");
  return (*servers_)[static_cast<std::size_t>(instance.placement().server)];
}

double RoutingContext::carbon_intensity(const serving::Instance& instance) const {
  const energy::ServerPower& s = server(instance);
  return s.ci ? s.ci->at(now()) : 0.0;
}

const energy::CarbonSignal* RoutingContext::carbon_signal(const serving::Instance& instance) const {
  return server(instance).ci;
}

double RoutingContext::pue(const serving::Instance& instance) const { return server(instance).pue; }

Estimate RoutingContext::price(const serving::Instance& instance, double seconds, double gpu_w) const {
  const energy::ServerPower& s = server(instance);
  const double devices = instance.placement().devices;
  Estimate e;
  e.seconds = seconds;
  e.joules = gpu_w * devices * seconds;
  e.carbon_g = e.joules / energy::kJoulesPerKwh * carbon_intensity(instance) * s.pue +
               s.gpu_emb_g_per_s * devices * seconds;
  return e;
}

Estimate RoutingContext::prefill(const serving::Instance& instance, std::int32_t prompt_tokens) const {
  perf::BatchShape shape;
  const auto n = static_cast<std::int64_t>(prompt_tokens);
  shape.prefill_tokens = n;
  shape.prefill_seqs = 1;
  shape.prefill_final_chunks = 1;
  shape.prefill_attn_ctx = static_cast<double>(n) * static_cast<double>(n + 1) / 2;
  shape.prefill_kv_tokens = n;
  const perf::StepCost cost = instance.perf_model().step_cost(shape);
  return price(instance, cost.seconds, server(instance).gpu_prefill_w);
}

Estimate RoutingContext::decode(const serving::Instance& instance, std::int32_t batch, std::int64_t context,
                                std::int64_t tokens) const {
  const double seconds = instance.perf_model().decode_cost_cached(batch).run_seconds(context, tokens);
  return price(instance, seconds, server(instance).decode_w_at(batch));
}

Estimate RoutingContext::transfer(const serving::Instance& from, const serving::Instance& to, double bytes) const {
  Estimate e;
  if (!network_) return e;
  const auto endpoint = [](const serving::Instance& in) {
    return network::Endpoint{in.placement().server, in.placement().first_device, in.placement().devices};
  };
  network::Topology& topology = network_->topology();
  const network::Path& path = topology.path(endpoint(from), endpoint(to));
  double bandwidth = std::numeric_limits<double>::infinity();
  for (std::uint32_t l : path.links) bandwidth = std::min(bandwidth, topology.links()[l].bytes_per_second);
  e.seconds = core::to_seconds(path.latency) + (path.links.empty() ? 0.0 : bytes / bandwidth);
  e.joules = bytes * path.joules_per_byte;
  e.carbon_g = e.joules / energy::kJoulesPerKwh * carbon_intensity(from) * pue(from);
  return e;
}

}  // namespace greenfleet::routing
