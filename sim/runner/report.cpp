#include "sim/runner/report.hpp"

#include <fmt/format.h>

#include <cmath>

#include "greenfleet/version.hpp"
#include "sim/io/hdf5_file.hpp"

namespace greenfleet::runner {

io::Summary make_summary(const Simulation& sim, const io::Experiment& x, double wall_seconds) {
  const auto& m = sim.metrics();
  io::Summary s;
  s.title = fmt::format("greenfleet: {} (seed {})", x.name, x.seed);
  const double span = core::to_seconds(sim.end_time());
  s.add("requests_arrived", static_cast<double>(sim.arrived()), "requests arrived");
  s.add("requests_completed", static_cast<double>(m.completed()), "requests completed");
  s.add("requests_rejected", static_cast<double>(m.rejected()), "requests rejected (never fit)");
  s.add("requests_unfinished", static_cast<double>(m.unfinished()), "requests unfinished at end");
  s.add("trace_rows_skipped", static_cast<double>(sim.skipped_rows()), "trace rows skipped (malformed)");
  auto pct = [&](const char* name, const metrics::LogHistogram& h) {
    for (auto [q, tag] : {std::pair{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}})
      s.add(fmt::format("{}_{}_s", name, tag), core::to_seconds(h.quantile(q)), fmt::format("{} {} (s)", name, tag));
    s.add(fmt::format("{}_mean_s", name), h.mean() * 1e-9, fmt::format("{} mean (s)", name));
  };
  pct("ttft", m.ttft());
  pct("tpot", m.tpot());
  pct("e2e", m.e2e());
  pct("queue", m.queue());
  const double done = static_cast<double>(m.completed());
  const double finished_or_not = static_cast<double>(m.completed() + m.unfinished() + m.rejected());
  s.add("slo_attainment", finished_or_not ? static_cast<double>(m.slo_met()) / finished_or_not : 0.0,
        "SLO attainment (all arrivals)");
  const char* class_names[2] = {"online", "offline"};
  for (int c = 0; c < 2; ++c) {
    s.add(fmt::format("requests_completed_{}", class_names[c]), static_cast<double>(m.completed_class(c)),
          fmt::format("requests completed, {}", class_names[c]));
    s.add(fmt::format("slo_attainment_{}", class_names[c]),
          m.completed_class(c) ? static_cast<double>(m.slo_met_class(c)) / static_cast<double>(m.completed_class(c))
                               : std::nan(""),
          fmt::format("SLO attainment, {} (of completed)", class_names[c]));
  }
  std::uint64_t preemptions = 0;
  for (const auto& in : sim.instances()) preemptions += in->stats().preemptions;
  s.add("preemptions", static_cast<double>(preemptions), "preemptions");
  s.add("simulated_seconds", span, "simulated time (s)");
  s.add("throughput_rps", span > 0 ? done / span : 0.0, "throughput (req/s)");
  s.add("goodput_rps", span > 0 ? static_cast<double>(m.slo_met()) / span : 0.0, "goodput, SLO met (req/s)");
  s.add("output_tokens_per_s", span > 0 ? static_cast<double>(m.output_tokens()) / span : 0.0,
        "output tokens per second");
  double busy = 0;
  for (const auto& in : sim.instances()) busy += core::to_seconds(in->stats().busy_time);
  const double n_inst = static_cast<double>(sim.instances().size());
  s.add("instance_utilisation", span > 0 && n_inst > 0 ? busy / (span * n_inst) : 0.0, "mean instance busy share");
  s.add("instances", n_inst, "instances");
  s.add("events", static_cast<double>(sim.engine().events_dispatched()), "events dispatched");
  std::uint64_t stale = 0;
  for (const auto& in : sim.instances()) stale += in->stats().stale_events;
  s.add("stale_events", static_cast<double>(stale), "events cancelled lazily");
  s.add("peak_pending_events", static_cast<double>(sim.engine().peak_pending()), "peak pending events");
  s.add("peak_requests_in_flight", static_cast<double>(sim.peak_in_flight()), "peak requests in flight");
  s.add("wall_seconds", wall_seconds, "wall time (s)");
  s.add("requests_per_wall_second", wall_seconds > 0 ? static_cast<double>(sim.arrived()) / wall_seconds : 0.0,
        "simulated requests per wall second");
  return s;
}

void write_run_tables(hid_t file, const Simulation& sim, const io::Experiment& x, const fleet::Catalog& catalog,
                      double wall_seconds) {
  io::h5::write_attr(file, "greenfleet_version", std::string(core::kVersion));
  io::h5::write_attr(file, "git_revision", std::string(core::kGitRevision));
  io::h5::write_attr(file, "experiment", x.name);
  io::h5::write_attr(file, "seed", x.seed);
  io::h5::write_attr(file, "wall_seconds", wall_seconds);
  io::h5::write_attr(file, "config_yaml", x.resolved_yaml);

  {
    io::h5::Handle g = io::h5::create_group(file, "sites");
    std::vector<std::string> names;
    std::vector<double> pue, ci;
    for (const auto& s : x.sites) names.push_back(s.name), pue.push_back(s.pue), ci.push_back(s.carbon_intensity_g_per_kwh);
    io::h5::write_string_column(g.get(), "name", names);
    io::h5::write_column(g.get(), "pue", pue, "");
    io::h5::write_column(g.get(), "carbon_intensity", ci, "gCO2e/kWh");
  }
  {
    io::h5::Handle g = io::h5::create_group(file, "servers");
    std::vector<std::int32_t> id, site, gpus;
    std::vector<std::string> sku, gpu, deployment;
    for (const auto& s : sim.servers()) {
      id.push_back(s.id), site.push_back(s.site), sku.push_back(s.sku), deployment.push_back(s.deployment);
      gpu.push_back(catalog.server(s.sku).gpu), gpus.push_back(catalog.server(s.sku).gpu_count);
    }
    io::h5::write_column(g.get(), "id", id, "");
    io::h5::write_column(g.get(), "site", site, "index into /sites");
    io::h5::write_string_column(g.get(), "sku", sku);
    io::h5::write_string_column(g.get(), "gpu", gpu);
    io::h5::write_column(g.get(), "gpu_count", gpus, "");
    io::h5::write_string_column(g.get(), "deployment", deployment);
  }
  {
    io::h5::Handle g = io::h5::create_group(file, "instances");
    std::vector<std::int32_t> id, server, tp;
    std::vector<std::int64_t> kv_blocks;
    std::vector<std::uint64_t> steps, iterations, prefill, decode, completed, rejected, preempt, hist;
    std::vector<double> busy, util;
    std::vector<std::string> perf;
    std::size_t cols = 0;
    for (const auto& in : sim.instances()) cols = std::max(cols, in->stats().batch_size_iterations.size());
    const double span = core::to_seconds(sim.end_time());
    for (const auto& in : sim.instances()) {
      const auto& st = in->stats();
      id.push_back(in->id()), server.push_back(in->placement().server), tp.push_back(in->placement().devices);
      kv_blocks.push_back(in->kv_blocks_total());
      steps.push_back(st.steps), iterations.push_back(st.iterations);
      prefill.push_back(st.prefill_tokens), decode.push_back(st.decode_tokens);
      completed.push_back(st.completed), rejected.push_back(st.rejected), preempt.push_back(st.preemptions);
      busy.push_back(core::to_seconds(st.busy_time));
      util.push_back(span > 0 ? core::to_seconds(st.busy_time) / span : 0.0);
      perf.push_back(in->perf_model().kind());
      for (std::size_t b = 0; b < cols; ++b)
        hist.push_back(b < st.batch_size_iterations.size() ? st.batch_size_iterations[b] : 0);
    }
    io::h5::write_column(g.get(), "id", id, "");
    io::h5::write_column(g.get(), "server", server, "index into /servers");
    io::h5::write_column(g.get(), "tensor_parallel", tp, "");
    io::h5::write_column(g.get(), "kv_blocks", kv_blocks, "blocks");
    io::h5::write_column(g.get(), "steps", steps, "events");
    io::h5::write_column(g.get(), "iterations", iterations, "");
    io::h5::write_column(g.get(), "prefill_tokens", prefill, "tokens");
    io::h5::write_column(g.get(), "decode_tokens", decode, "tokens");
    io::h5::write_column(g.get(), "completed", completed, "requests");
    io::h5::write_column(g.get(), "rejected", rejected, "requests");
    io::h5::write_column(g.get(), "preemptions", preempt, "");
    io::h5::write_column(g.get(), "busy_s", busy, "s");
    io::h5::write_column(g.get(), "utilisation", util, "busy share of the run");
    io::h5::write_string_column(g.get(), "perf_model", perf);
    io::h5::write_matrix(g.get(), "batch_size_iterations", hist, sim.instances().size(), cols,
                     "iterations run with [column] sequences in the batch");
  }
}

}  // namespace greenfleet::runner
