#include "sim/runner/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "greenfleet/version.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/output/hdf5_file.hpp"

namespace greenfleet::runner {

namespace {

// With workload classes: per class (keys `class.NAME.*`), latency percentiles and attainment of the class's own
// SLO over its arrivals, after every experiment-wide item so that those keep their order.
void add_class_summaries(output::Summary& s, const Simulation& sim, const experiment::Experiment& x) {
  const auto& m = sim.metrics();
  if (!m.per_class()) return;
  const double na = std::nan("");
  s.add("requests_unclassified", static_cast<double>(sim.unclassified()),
        "requests in no class (left out of the run)");
  for (std::size_t i = 0; i < x.workload.classes.size(); ++i) {
    const auto& c = x.workload.classes[i];
    const metrics::ClassMetrics& k = m.classes()[i];
    const auto add = [&](const std::string& key, double value, const std::string& label) {
      s.add(fmt::format("class.{}.{}", c.name, key), value, fmt::format("class {}: {}", c.name, label));
    };
    const double arrived = static_cast<double>(k.arrived());
    const auto share = [&](std::uint64_t n) { return arrived > 0 ? static_cast<double>(n) / arrived : na; };
    add("requests_arrived", arrived, "requests arrived");
    add("requests_completed", static_cast<double>(k.completed), "requests completed");
    add("requests_rejected", static_cast<double>(k.rejected), "requests rejected");
    add("requests_unfinished", static_cast<double>(k.unfinished), "requests unfinished at end");
    for (const auto& [name, h] : {std::pair<const char*, const metrics::LogHistogram*>{"ttft", &k.ttft},
                                  {"tpot", &k.tpot},
                                  {"e2e", &k.e2e}})
      for (auto [q, tag] : {std::pair{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}})
        add(fmt::format("{}_{}_s", name, tag), h->count() ? core::to_seconds(h->quantile(q)) : na,
            fmt::format("{} {} (s)", name, tag));
    add("ttft_attainment", share(k.ttft_met), fmt::format("TTFT <= {}s", core::to_seconds(c.slo.ttft)));
    add("tpot_attainment", share(k.tpot_met), fmt::format("TPOT <= {}s", core::to_seconds(c.slo.tpot)));
    add("latency_attainment", share(k.latency_met), "TTFT and TPOT SLOs met");
    add("slo_attainment", share(k.slo_met),
        c.rule.kind == workload::RequestClass::kOffline ? "SLO attainment (deadline)" : "SLO attainment");
    if (c.rule.kind == workload::RequestClass::kOffline)
      add("deadline_misses", static_cast<double>(k.deadline_missed), "completed after the deadline");
  }
}

}  // namespace

output::Summary make_summary(const Simulation& sim, const experiment::Experiment& x) {
  const auto& m = sim.metrics();
  output::Summary s;
  s.title = fmt::format("greenfleet: {} (seed {})", x.name, x.seed);
  const double span = core::to_seconds(sim.end_time());
  s.add("requests_arrived", static_cast<double>(sim.arrived()), "requests arrived");
  s.add("requests_completed", static_cast<double>(m.completed()), "requests completed");
  s.add("requests_rejected", static_cast<double>(m.rejected()), "requests rejected (never fit)");
  s.add("requests_unfinished", static_cast<double>(m.unfinished()), "requests unfinished at end");
  s.add("trace_rows_skipped", static_cast<double>(sim.skipped_rows()), "trace rows skipped (malformed)");
  auto pct = [&](const char* name, const metrics::LogHistogram& h) {
    // No sample, no statistic: n/a rather than a zero that reads as "instant".
    const double none = std::nan("");
    for (auto [q, tag] : {std::pair{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}})
      s.add(fmt::format("{}_{}_s", name, tag), h.count() ? core::to_seconds(h.quantile(q)) : none,
            fmt::format("{} {} (s)", name, tag));
    s.add(fmt::format("{}_mean_s", name), h.count() ? h.mean() * 1e-9 : none, fmt::format("{} mean (s)", name));
  };
  pct("ttft", m.ttft());
  pct("tpot", m.tpot());
  pct("e2e", m.e2e());
  pct("queue", m.queue());
  const double done = static_cast<double>(m.completed());
  const double finished_or_not = static_cast<double>(m.completed() + m.unfinished() + m.rejected());
  // Every ratio without a denominator is NaN: printed as n/a, stored as NaN, null in --json (docs/OUTPUT.md).
  const double na = std::nan("");
  s.add("slo_attainment", finished_or_not ? static_cast<double>(m.slo_met()) / finished_or_not : na,
        "SLO attainment (all arrivals)");
  const char* class_names[2] = {"online", "offline"};
  for (int c = 0; c < 2; ++c) {
    s.add(fmt::format("requests_completed_{}", class_names[c]), static_cast<double>(m.completed_class(c)),
          fmt::format("requests completed, {}", class_names[c]));
    s.add(fmt::format("slo_attainment_{}", class_names[c]),
          m.completed_class(c)
              ? static_cast<double>(m.slo_met_class(c)) / static_cast<double>(m.completed_class(c))
              : std::nan(""),
          fmt::format("SLO attainment, {} (of completed)", class_names[c]));
  }
  std::uint64_t preemptions = 0;
  for (const auto& in : sim.instances()) preemptions += in->stats().preemptions;
  s.add("preemptions", static_cast<double>(preemptions), "preemptions");
  if (sim.deferrals() > 0)
    s.add("requests_deferred", static_cast<double>(sim.deferrals()), "deferrals by the router (carbon_deferral)");
  s.add("simulated_seconds", span, "simulated time (s)");
  s.add("throughput_rps", span > 0 ? done / span : na, "throughput (req/s)");
  s.add("goodput_rps", span > 0 ? static_cast<double>(m.slo_met()) / span : na, "goodput, SLO met (req/s)");
  s.add("output_tokens_per_s", span > 0 ? static_cast<double>(m.output_tokens()) / span : na,
        "output tokens per second");
  double busy = 0;
  for (const auto& in : sim.instances()) busy += core::to_seconds(in->stats().busy_time);
  const double n_inst = static_cast<double>(sim.instances().size());
  s.add("instance_utilisation", span > 0 && n_inst > 0 ? busy / (span * n_inst) : na, "mean instance busy share");
  s.add("instances", n_inst, "instances");
  double calibrated = 0, cpu = 0;
  for (const auto& in : sim.instances()) {
    calibrated += in->perf_model().kind() == "calibrated" ? 1 : 0;
    cpu += in->perf_model().kind() == "cpu" ? 1 : 0;
  }
  s.add("instances_calibrated", calibrated, "instances priced by the calibrated model");
  s.add("instances_roofline", n_inst - calibrated - cpu, "instances priced by the roofline model");
  if (cpu > 0) s.add("instances_cpu", cpu, "CPU instances (fleet[].cpu_instances, the CPU model)");
  const auto& ledger = sim.ledger();
  const energy::Accum total = ledger.fleet_total();
  double facility_j = 0;
  for (std::size_t i = 0; i < ledger.servers().size(); ++i)
    facility_j += ledger.server_total(i).energy() * ledger.servers()[i].pue;
  if (ledger.has_network())
    for (std::size_t i = 0; i < ledger.network_sites().size(); ++i)
      facility_j += ledger.network_site_total(i).energy() * ledger.network_sites()[i].pue;
  const double tokens = static_cast<double>(m.prompt_tokens() + m.output_tokens());
  s.add("energy_it_kwh", total.energy() / energy::kJoulesPerKwh, "energy, IT (kWh)");
  s.add("energy_gpu_kwh", total.energy_gpu / energy::kJoulesPerKwh, "energy, GPUs (kWh)");
  s.add("energy_host_kwh", total.energy_host / energy::kJoulesPerKwh, "energy, hosts (kWh)");
  s.add("energy_facility_kwh", facility_j / energy::kJoulesPerKwh, "energy with PUE (kWh)");
  s.add("operational_kg", total.op() / 1000, "operational carbon (kg)");
  s.add("operational_gpu_kg", total.op_gpu / 1000, "operational, GPUs (kg)");
  s.add("operational_host_kg", total.op_host / 1000, "operational, hosts (kg)");
  s.add("embodied_kg", total.emb() / 1000, "embodied carbon (kg)");
  s.add("embodied_gpu_kg", total.emb_gpu / 1000, "embodied, GPUs (kg)");
  s.add("embodied_host_kg", total.emb_host / 1000, "embodied, hosts (kg)");
  s.add("carbon_kg", (total.op() + total.emb()) / 1000, "total carbon (kg)");
  s.add("embodied_share", total.op() + total.emb() > 0 ? total.emb() / (total.op() + total.emb()) : na,
        "embodied share of total");
  s.add("g_per_1k_tokens", tokens > 0 ? (total.op() + total.emb()) / tokens * 1000 : na,
        "gCO2e per 1k tokens (all carbon / completed tokens)");
  s.add("idle_carbon_kg", (ledger.idle_lines().op() + ledger.idle_lines().emb()) / 1000,
        "carbon of idle and off time (kg)");
  s.add("carbon_conservation_error", ledger.conservation_error(), "conservation error (relative)");
  const KvHandoff* h = sim.handoff();
  if (h || sim.speculative()) {
    // With modes: how many requests split or ran speculatively, what moving their KV took, how the rounds went.
    s.add("requests_split", static_cast<double>(sim.split_requests()), "requests split (prefill/decode)");
    s.add("requests_too_long_to_split", static_cast<double>(sim.too_long_to_split()),
          "requests too long for their decode instance (not split)");
    s.add("mode_unified", static_cast<double>(sim.mode_decisions(serving::RequestMode::kUnified)),
          "mode decisions: unified");
    s.add("mode_disaggregated", static_cast<double>(sim.mode_decisions(serving::RequestMode::kDisaggregated)),
          "mode decisions: disaggregated");
    if (sim.speculative())
      s.add("mode_speculative", static_cast<double>(sim.mode_decisions(serving::RequestMode::kSpeculative)),
            "mode decisions: speculative");
    s.add("mode_slo_fallbacks", static_cast<double>(sim.slo_fallbacks()),
          "unified because no mode was predicted within SLO");
    // Prediction errors of a predicting mode router: median and p90 of |predicted / simulated - 1|.
    const auto quantile = [&](const std::vector<double>& errors, double q) {
      if (errors.empty()) return na;
      std::vector<double> a;
      a.reserve(errors.size());
      for (double e : errors) a.push_back(std::abs(e));
      const auto k = static_cast<std::size_t>(q * static_cast<double>(a.size() - 1));
      std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k), a.end());
      return a[k];
    };
    const auto& m = sim.metrics();
    s.add("prediction_ttft_error_p50", quantile(m.prediction_errors_ttft(), 0.5),
          "mode router TTFT prediction, |relative error| p50");
    s.add("prediction_ttft_error_p90", quantile(m.prediction_errors_ttft(), 0.9),
          "mode router TTFT prediction, |relative error| p90");
    s.add("prediction_tpot_error_p50", quantile(m.prediction_errors_tpot(), 0.5),
          "mode router TPOT prediction, |relative error| p50");
    s.add("prediction_tpot_error_p90", quantile(m.prediction_errors_tpot(), 0.9),
          "mode router TPOT prediction, |relative error| p90");
    if (sim.speculative()) {
      std::uint64_t rounds = 0, emitted = 0, drafted = 0;
      for (const auto& in : sim.instances()) {
        rounds += in->stats().verify_rounds;
        emitted += in->stats().verify_tokens;
        if (in->role() == serving::InstanceRole::kDraft) drafted += in->stats().decode_tokens;
      }
      s.add("requests_too_long_to_draft", static_cast<double>(sim.too_long_to_draft()),
            "requests too long for their draft instance (not speculative)");
      s.add("spec_rounds", static_cast<double>(rounds), "speculative rounds verified");
      s.add("spec_tokens_per_round", rounds ? static_cast<double>(emitted) / static_cast<double>(rounds) : na,
            "tokens per speculative round (accepted drafts + 1)");
      s.add("spec_acceptance", drafted ? static_cast<double>(emitted - rounds) / static_cast<double>(drafted) : na,
            "drafted tokens accepted (share)");
    }
  }
  if (h) {
    const double n = static_cast<double>(h->arrived());
    s.add("kv_transfers", n, "KV transfers finished");
    s.add("kv_gb_moved", h->bytes() / 1e9, "KV moved (GB)");
    s.add("kv_wait_mean_s", n > 0 ? h->wait_seconds() / n : na, "mean wait for decode blocks (s)");
    s.add("kv_transfer_mean_s", n > 0 ? h->transfer_seconds() / n : na, "mean KV transfer time (s)");
    s.add("kv_transfer_max_s", n > 0 ? h->max_transfer_seconds() : na, "longest KV transfer (s)");
  }
  s.add("server_boots", sim.provisioner() ? static_cast<double>(sim.provisioner()->boots()) : 0.0, "server boots");
  s.add("server_shutdowns", sim.provisioner() ? static_cast<double>(sim.provisioner()->shutdowns()) : 0.0,
        "server shutdowns (idle)");
  s.add("ci_rows_skipped", static_cast<double>(sim.ci_rows_skipped()), "CI rows skipped (empty)");
  s.add("events", static_cast<double>(sim.engine().events_dispatched()), "events dispatched");
  s.add("peak_pending_events", static_cast<double>(sim.engine().peak_pending()), "peak pending events");
  s.add("peak_requests_in_flight", static_cast<double>(sim.peak_in_flight()), "peak requests in flight");
  add_class_summaries(s, sim, x);
  return s;
}

output::Summary make_run_info(const Simulation& sim, double wall_seconds) {
  output::Summary s;
  s.title = "run information (machine-dependent)";
  s.add("wall_seconds", wall_seconds, "wall time (s)");
  s.add("requests_per_wall_second",
        wall_seconds > 0 ? static_cast<double>(sim.arrived()) / wall_seconds : std::nan(""),
        "simulated requests per wall second");
  return s;
}

namespace {

// /carbon: totals and breakdowns; /timeseries: per slot and server.
void write_carbon_tables(hid_t file, const Simulation& sim, const experiment::Experiment& x) {
  const auto& ledger = sim.ledger();
  auto columns = [](hid_t g, const std::vector<energy::Accum>& rows) {
    std::vector<double> cols[6];
    for (const auto& a : rows) {
      cols[0].push_back(a.energy_gpu), cols[1].push_back(a.energy_host), cols[2].push_back(a.op_gpu);
      cols[3].push_back(a.op_host), cols[4].push_back(a.emb_gpu), cols[5].push_back(a.emb_host);
    }
    output::h5::write_column(g, "energy_gpu_j", cols[0], "J");
    output::h5::write_column(g, "energy_host_j", cols[1], "J");
    output::h5::write_column(g, "operational_gpu_g", cols[2], "gCO2e");
    output::h5::write_column(g, "operational_host_g", cols[3], "gCO2e");
    output::h5::write_column(g, "embodied_gpu_g", cols[4], "gCO2e");
    output::h5::write_column(g, "embodied_host_g", cols[5], "gCO2e");
  };
  output::h5::Handle carbon = output::h5::create_group(file, "carbon");
  const energy::Accum total = ledger.fleet_total();
  output::h5::write_attr(carbon.get(), "energy_j", total.energy());
  output::h5::write_attr(carbon.get(), "operational_g", total.op());
  output::h5::write_attr(carbon.get(), "embodied_g", total.emb());
  output::h5::write_attr(carbon.get(), "requests_energy_j", ledger.requests_total().energy());
  output::h5::write_attr(carbon.get(), "requests_operational_g", ledger.requests_total().op());
  output::h5::write_attr(carbon.get(), "requests_embodied_g", ledger.requests_total().emb());
  output::h5::write_attr(carbon.get(), "idle_energy_j", ledger.idle_lines().energy());
  output::h5::write_attr(carbon.get(), "idle_operational_g", ledger.idle_lines().op());
  output::h5::write_attr(carbon.get(), "idle_embodied_g", ledger.idle_lines().emb());
  output::h5::write_attr(carbon.get(), "conservation_error", ledger.conservation_error());
  if (ledger.has_network()) {  // only with a `network:` section, so other outputs are unchanged
    const energy::Accum net = ledger.network_total();
    output::h5::write_attr(carbon.get(), "network_energy_j", net.energy());
    output::h5::write_attr(carbon.get(), "network_operational_g", net.op());
    output::h5::write_attr(carbon.get(), "network_embodied_g", net.emb());
  }
  {
    output::h5::Handle g = output::h5::create_group(carbon.get(), "by_server");
    std::vector<energy::Accum> rows;
    std::vector<std::int32_t> ids, sites;
    for (std::size_t i = 0; i < ledger.servers().size(); ++i)
      rows.push_back(ledger.server_total(i)), ids.push_back(static_cast<std::int32_t>(i)),
          sites.push_back(ledger.servers()[i].site);
    output::h5::write_column(g.get(), "server", ids, "index into /servers");
    output::h5::write_column(g.get(), "site", sites, "index into /sites");
    columns(g.get(), rows);
  }
  {
    output::h5::Handle g = output::h5::create_group(carbon.get(), "by_phase");
    std::vector<energy::Accum> rows;
    std::vector<std::string> names;
    for (int p = 0; p < energy::kPhases; ++p)
      rows.push_back(ledger.phase(static_cast<energy::Phase>(p))), names.push_back(energy::kPhaseNames[p]);
    output::h5::write_string_column(g.get(), "phase", names);
    columns(g.get(), rows);
  }
  {
    output::h5::Handle g = output::h5::create_group(carbon.get(), "by_site");
    std::vector<std::string> names;
    for (const auto& site : x.sites) names.push_back(site.name);
    output::h5::write_string_column(g.get(), "site", names);
    std::vector<energy::Accum> rows(x.sites.size());
    for (std::size_t i = 0; i < ledger.servers().size(); ++i)
      rows[static_cast<std::size_t>(ledger.servers()[i].site)] += ledger.server_total(i);
    if (ledger.has_network())
      for (std::size_t i = 0; i < rows.size(); ++i) rows[i] += ledger.network_site_total(i);
    columns(g.get(), rows);
  }
  output::h5::Handle ts = output::h5::create_group(file, "timeseries");
  const std::size_t slots = ledger.slots(), servers = ledger.servers().size();
  const double slot_s = core::to_seconds(ledger.slot());
  output::h5::write_attr(ts.get(), "slot_seconds", slot_s);
  std::vector<double> start;
  for (std::size_t j = 0; j < slots; ++j) start.push_back(static_cast<double>(j) * slot_s);
  output::h5::write_column(ts.get(), "slot_start_s", start, "s");
  // One matrix at a time, so the output adds one [slot][server] table of doubles to the ledger's, not five.
  auto slot_length = [&](std::size_t j) {
    const core::SimTime lo = static_cast<core::SimTime>(j) * ledger.slot();
    const core::SimTime hi =
        std::min<core::SimTime>(lo + ledger.slot(), std::max<core::SimTime>(sim.end_time(), lo + 1));
    return core::to_seconds(hi - lo);
  };
  auto server_matrix = [&](const char* name, const char* units, auto&& cell) {
    std::vector<double> v(slots * servers);
    for (std::size_t j = 0; j < slots; ++j) {
      const double len = slot_length(j);
      for (std::size_t s = 0; s < servers; ++s) v[j * servers + s] = cell(j, s, len);
    }
    output::h5::write_matrix(ts.get(), name, v, slots, servers, units);
  };
  const auto& table = ledger.slot_table();
  server_matrix("power_w", "W, mean over the slot (IT power)",
                [&](std::size_t j, std::size_t s, double len) { return table[j * servers + s].energy() / len; });
  server_matrix("energy_j", "J",
                [&](std::size_t j, std::size_t s, double) { return table[j * servers + s].energy(); });
  server_matrix("operational_g", "gCO2e",
                [&](std::size_t j, std::size_t s, double) { return table[j * servers + s].op(); });
  server_matrix("embodied_g", "gCO2e",
                [&](std::size_t j, std::size_t s, double) { return table[j * servers + s].emb(); });
  server_matrix("utilisation", "busy GPU-seconds / (GPUs x slot)", [&](std::size_t j, std::size_t s, double len) {
    const int gpus = ledger.servers()[s].gpus;
    return gpus ? ledger.slot_busy_gpu_seconds()[j * servers + s] / (gpus * len) : 0.0;
  });
  std::vector<double> ci(slots * x.sites.size());
  for (std::size_t j = 0; j < slots; ++j) {
    const core::SimTime lo = static_cast<core::SimTime>(j) * ledger.slot();
    const core::SimTime hi =
        std::min<core::SimTime>(lo + ledger.slot(), std::max<core::SimTime>(sim.end_time(), lo + 1));
    for (std::size_t site = 0; site < x.sites.size(); ++site)
      ci[j * x.sites.size() + site] = sim.signals()[site].mean(lo, hi);
  }
  output::h5::write_matrix(ts.get(), "carbon_intensity", ci, slots, x.sites.size(),
                           "gCO2e/kWh, mean over the slot, per site");
}

}  // namespace

void write_run_header(hid_t file, const experiment::Experiment& x) {
  output::h5::write_attr(file, "greenfleet_version", std::string(core::kVersion));
  output::h5::write_attr(file, "git_revision", std::string(core::kGitRevision));
  output::h5::write_attr(file, "experiment", x.name);
  output::h5::write_attr(file, "seed", x.seed);
  // HDF5 attributes hold at most 64 KiB: a larger resolved configuration goes to the dataset /config_yaml
  // (docs/OUTPUT.md), and the attribute is left out so readers find exactly one of them.
  if (x.resolved_yaml.size() <= kConfigAttributeMax)
    output::h5::write_attr(file, "config_yaml", x.resolved_yaml);
  else
    output::h5::write_string_dataset(file, "config_yaml", x.resolved_yaml);
}

void write_run_tables(hid_t file, const Simulation& sim, const experiment::Experiment& x,
                      const catalog::Catalog& catalog) {
  {
    output::h5::Handle g = output::h5::create_group(file, "sites");
    std::vector<std::string> names, kinds;
    std::vector<double> pue, ci;
    for (std::size_t i = 0; i < x.sites.size(); ++i) {
      names.push_back(x.sites[i].name), kinds.push_back(x.sites[i].carbon_intensity.kind);
      pue.push_back(x.sites[i].pue), ci.push_back(sim.signals()[i].mean(0, sim.end_time()));
    }
    output::h5::write_string_column(g.get(), "name", names);
    output::h5::write_string_column(g.get(), "carbon_intensity_kind", kinds);
    output::h5::write_column(g.get(), "pue", pue, "");
    output::h5::write_column(g.get(), "mean_carbon_intensity", ci, "gCO2e/kWh over the run");
  }
  {
    output::h5::Handle g = output::h5::create_group(file, "servers");
    std::vector<std::int32_t> id, site, gpus, powered, sunk;
    std::vector<std::string> sku, gpu, deployment;
    std::vector<double> card_kg, host_kg, dram, ssd;
    std::vector<std::string> host;
    for (const auto& s : sim.servers()) {
      host.push_back(s.host), dram.push_back(s.host_dram_gb), ssd.push_back(s.host_ssd_gb);
      id.push_back(s.id), site.push_back(s.site), sku.push_back(s.sku), deployment.push_back(s.deployment);
      gpu.push_back(catalog.server(s.sku).gpu), gpus.push_back(catalog.server(s.sku).gpu_count);
      powered.push_back(s.powered ? 1 : 0), sunk.push_back(s.gpu_embodied_sunk ? 1 : 0);
      card_kg.push_back(s.gpu_card_kg), host_kg.push_back(s.host_kg);
    }
    output::h5::write_column(g.get(), "powered", powered, "0/1");
    output::h5::write_column(g.get(), "gpu_embodied_sunk", sunk, "0/1");
    std::vector<double> gpu_life, host_life;
    for (const auto& s : sim.servers())
      gpu_life.push_back(core::to_seconds(s.gpu_amortisation) / (8760 * 3600.0)),
          host_life.push_back(core::to_seconds(s.host_lifetime) / (8760 * 3600.0));
    output::h5::write_column(g.get(), "gpu_amortisation_years", gpu_life, "years of 8,760 h");
    output::h5::write_column(g.get(), "host_lifetime_years", host_life, "years of 8,760 h");
    output::h5::write_column(g.get(), "gpu_card_embodied_kg", card_kg, "kgCO2e per card, whole life");
    output::h5::write_column(g.get(), "host_embodied_kg", host_kg, "kgCO2e, whole life");
    output::h5::write_string_column(g.get(), "host", host);
    output::h5::write_column(g.get(), "host_dram_gb", dram, "GB");
    output::h5::write_column(g.get(), "host_ssd_gb", ssd, "GB");
    output::h5::write_column(g.get(), "id", id, "");
    output::h5::write_column(g.get(), "site", site, "index into /sites");
    output::h5::write_string_column(g.get(), "sku", sku);
    output::h5::write_string_column(g.get(), "gpu", gpu);
    output::h5::write_column(g.get(), "gpu_count", gpus, "");
    output::h5::write_string_column(g.get(), "deployment", deployment);
  }
  {
    output::h5::Handle g = output::h5::create_group(file, "instances");
    std::vector<std::int32_t> id, server, tp;
    std::vector<std::int64_t> kv_blocks;
    std::vector<std::uint64_t> steps, iterations, prefill, decode, completed, rejected, preempt, handed_off, hist;
    std::vector<double> busy, util;
    std::vector<std::string> perf, role;
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
      handed_off.push_back(st.handed_off), role.push_back(serving::to_string(in->role()));
      busy.push_back(core::to_seconds(st.busy_time));
      util.push_back(span > 0 ? core::to_seconds(st.busy_time) / span : std::nan(""));
      perf.push_back(in->perf_model().kind());
      for (std::size_t b = 0; b < cols; ++b)
        hist.push_back(b < st.batch_size_iterations.size() ? st.batch_size_iterations[b] : 0);
    }
    output::h5::write_column(g.get(), "id", id, "");
    output::h5::write_column(g.get(), "server", server, "index into /servers");
    output::h5::write_column(g.get(), "tensor_parallel", tp, "");
    output::h5::write_column(g.get(), "kv_blocks", kv_blocks, "blocks");
    output::h5::write_column(g.get(), "steps", steps, "events");
    output::h5::write_column(g.get(), "iterations", iterations, "");
    output::h5::write_column(g.get(), "prefill_tokens", prefill, "tokens");
    output::h5::write_column(g.get(), "decode_tokens", decode, "tokens");
    output::h5::write_column(g.get(), "completed", completed, "requests");
    output::h5::write_column(g.get(), "rejected", rejected, "requests");
    output::h5::write_column(g.get(), "preemptions", preempt, "");
    output::h5::write_column(g.get(), "handed_off", handed_off, "requests");
    output::h5::write_string_column(g.get(), "role", role);
    output::h5::write_column(g.get(), "busy_s", busy, "s");
    output::h5::write_column(g.get(), "utilisation", util, "busy share of the run");
    output::h5::write_string_column(g.get(), "perf_model", perf);
    output::h5::write_matrix(g.get(), "batch_size_iterations", hist, sim.instances().size(), cols,
                             "iterations run with [column] sequences in the batch");
  }
  if (!x.workload.classes.empty()) {
    output::h5::Handle g = output::h5::create_group(file, "classes");
    std::vector<std::string> names, deployments, kinds;
    std::vector<double> ttft, tpot, deadline;
    for (const auto& c : x.workload.classes) {
      const bool offline = c.rule.kind == workload::RequestClass::kOffline;
      names.push_back(c.name), deployments.push_back(c.deployment),
          kinds.push_back(offline ? "offline" : "online");
      ttft.push_back(core::to_seconds(c.slo.ttft)), tpot.push_back(core::to_seconds(c.slo.tpot));
      deadline.push_back(offline ? core::to_seconds(c.rule.deadline) : std::nan(""));
    }
    output::h5::write_string_column(g.get(), "name", names);
    output::h5::write_string_column(g.get(), "deployment", deployments);
    output::h5::write_string_column(g.get(), "kind", kinds);
    output::h5::write_column(g.get(), "slo_ttft_s", ttft, "s");
    output::h5::write_column(g.get(), "slo_tpot_s", tpot, "s");
    output::h5::write_column(g.get(), "deadline_s", deadline, "s after arrival; NaN for online classes");
  }
  write_carbon_tables(file, sim, x);
}

}  // namespace greenfleet::runner
