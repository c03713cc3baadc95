#include "sim/study/greenllm_theory.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/energy/embodied.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/experiment/components.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::study {

namespace {

constexpr double kSecondsPerYear = 8760.0 * 3600.0;  // the loader's year (sim/config: "y" = 8,760 hours)

// gCO2e per joule at grid CI `ci` (g/kWh) and facility overhead `pue`.
double g_per_joule(double ci, double pue) { return ci * pue / energy::kJoulesPerKwh; }

// "file:line:col: key" of a top-level key of the experiment file, as the loader names keys.
std::string where_key(const std::string& file, const std::string& key) {
  try {
    return config::ConfigNode(config::ConfigNode::load_file(file), file, "", YAML::Node(YAML::NodeType::Undefined))
        .where(key);
  } catch (const core::InputError&) {
    return fmt::format("{}: {}", file, key);
  }
}

const experiment::DeploymentConfig* find_deployment(const experiment::Experiment& x, const std::string& name) {
  const auto it =
      std::find_if(x.deployments.begin(), x.deployments.end(), [&](auto& d) { return d.name == name; });
  return it == x.deployments.end() ? nullptr : &*it;
}

const experiment::FleetEntry* find_entry(const experiment::Experiment& x, const std::string& deployment) {
  const auto it = std::find_if(x.fleet.begin(), x.fleet.end(),
                               [&](auto& e) { return e.deployment == deployment && e.count > 0; });
  return it == x.fleet.end() ? nullptr : &*it;
}

// One side of the comparison: a deployment on the GPU of its first fleet entry, priced as a run prices it.
struct Side {
  std::unique_ptr<perf::PerfModel> perf;
  energy::ServerPower power;  // the ledger's per-GPU power model of the entry's servers
  std::int32_t devices = 1;
  double card_kg = 0;
  double rate = 0;  // g/s of the instance's GPUs (0 when sunk)
  double life_years = 0;
  bool sunk = false;
  std::string gpu;
};

// The most tokens (prompt + output) one instance of the deployment on the entry's GPU holds: the model's context,
// and its KV cache in whole blocks (as runner::Simulation sizes it).
std::int64_t max_tokens(const experiment::Experiment& /*x*/, const catalog::Catalog& catalog,
                        const experiment::DeploymentConfig& dep, const experiment::FleetEntry& entry) {
  const auto& gpu = catalog.gpu(catalog.server(entry.sku).gpu);
  const auto& model = catalog.model(dep.model);
  const double kv_tokens = experiment::kv_cache_bytes(dep, gpu, model) / model.kv_bytes_per_token();
  const std::int64_t blocks = static_cast<std::int64_t>(kv_tokens) / dep.scheduler.kv_block_size;
  return std::min<std::int64_t>(model.max_context, blocks * dep.scheduler.kv_block_size);
}

Side make_side(const experiment::Experiment& x, const catalog::Catalog& catalog,
               const experiment::DeploymentConfig& dep, const experiment::FleetEntry& entry) {
  Side s;
  const auto& sku = catalog.server(entry.sku);
  const auto& gpu = catalog.gpu(sku.gpu);
  const auto& model = catalog.model(dep.model);
  const experiment::PerfContext context{catalog, gpu, model, dep.model, dep.tensor_parallel};
  s.perf = experiment::perf_models().create(experiment::perf_kind_for(dep, gpu.id), dep.perf_params, context);
  s.devices = dep.tensor_parallel;
  s.gpu = gpu.id;
  // As runner::Simulation builds each server's ServerPower.
  const double scale = entry.gpu_power_scale * x.carbon.vr_overhead / x.carbon.psu_efficiency;
  s.power.gpu_idle_w = scale * gpu.power.idle_w;
  s.power.gpu_prefill_w = scale * gpu.power.prefill_w;
  s.power.gpu_decode_w = scale * gpu.power.decode_w;
  if (const auto* curve = catalog.power_curve(gpu.id); curve && x.carbon.calibrated_gpu_power) {
    s.power.has_decode_curve = true;
    s.power.decode_small_w = scale * curve->decode_w_small;
    s.power.decode_saturated_w = scale * curve->decode_w_saturated;
    s.power.decode_batch_scale = curve->batch_scale;
  }
  s.card_kg = x.carbon.gpu_method == "act" ? energy::act_gpu(gpu, catalog).total
                                           : energy::ecoserve_gpu_card(gpu, catalog).total;
  s.sunk = entry.gpu_embodied_sunk;
  s.life_years = core::to_seconds(entry.gpu_amortisation()) / kSecondsPerYear;
  s.rate = s.sunk ? 0.0 : s.devices * s.card_kg * 1000 / core::to_seconds(entry.gpu_amortisation());
  return s;
}

// Seconds and GPU joules of one instance per request, the ledger's way: idle power over the whole step, the
// phase's power above idle over its busy part.
struct Phase {
  double seconds = 0, joules = 0;
};

Phase prefill_phase(const Side& s, std::int64_t prompt, std::int32_t batch) {
  perf::BatchShape shape;
  shape.prefill_tokens = prompt * batch;
  shape.prefill_seqs = batch;
  shape.prefill_final_chunks = batch;
  shape.prefill_attn_ctx = static_cast<double>(batch) * static_cast<double>(prompt) * (prompt + 1) / 2.0;
  shape.prefill_kv_tokens = prompt * batch;
  const perf::StepCost c = s.perf->step_cost(shape);
  const double j =
      s.devices * (s.power.gpu_idle_w * c.seconds + (s.power.gpu_prefill_w - s.power.gpu_idle_w) * c.busy_seconds);
  return {c.seconds / batch, j / batch};
}

Phase decode_phase(const Side& s, std::int64_t prompt, std::int64_t output, std::int32_t batch) {
  // The step that ends the prefill samples the first output token; each of the other output - 1 tokens is one
  // decode iteration of `batch` sequences, each attending to its prompt and the tokens produced so far.
  const std::int64_t k = std::max<std::int64_t>(output - 1, 0);
  const perf::DecodeCost c = s.perf->decode_cost(batch);
  const double seconds = c.run_seconds(batch * (prompt + 1), k);
  const double busy = seconds - static_cast<double>(k) * c.overhead;
  const double j =
      s.devices * (s.power.gpu_idle_w * seconds + (s.power.decode_w_at(batch) - s.power.gpu_idle_w) * busy);
  return {seconds / batch, j / batch};
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  return fmt::format("{:.10g}", v);
}

}  // namespace

double carbon_base(const TheoryTerms& t, double ci) { return g_per_joule(ci, t.pue) * t.pn * t.tn + t.rn * t.tn; }

double carbon_green(const TheoryTerms& t, double ci) {
  return g_per_joule(ci, t.pue) * (t.pn_prefill * t.tn_prefill + t.po * t.to) + t.rn * t.tn_prefill + t.ro * t.to;
}

double savings_percent(const TheoryTerms& t, double ci) {
  const double base = carbon_base(t, ci);
  if (base == 0) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * (1.0 - carbon_green(t, ci) / base);
}

std::optional<double> break_even_ci(const TheoryTerms& t) {
  const double extra_j = t.pn_prefill * t.tn_prefill + t.po * t.to - t.pn * t.tn;  // energy disaggregation adds
  if (extra_j == 0 || t.pue == 0) return std::nullopt;
  const double saved_g = t.rn * (t.tn - t.tn_prefill) - t.ro * t.to;  // embodied carbon it saves
  return saved_g / (extra_j * t.pue / energy::kJoulesPerKwh);
}

double new_gpu_rate(const TheorySetup& setup, double years) {
  return setup.new_sunk ? 0.0 : setup.new_devices * setup.new_card_kg * 1000 / (years * kSecondsPerYear);
}

Theory derive_theory(const experiment::Experiment& x, const catalog::Catalog& catalog,
                     const TheoryOptions& options) {
  if (options.prefill_batch < 1 || options.decode_batch < 1 || options.old_decode_batch < 0)
    throw core::InputError("theory: --prefill-batch, --decode-batch and --old-decode-batch must be at least 1");
  const auto split = std::find_if(x.deployments.begin(), x.deployments.end(),
                                  [](const auto& d) { return !d.disaggregated_decode.empty(); });
  if (split == x.deployments.end())
    throw core::InputError(fmt::format(
        "{}: no deployment sets modes.disaggregated.decode; the closed form compares a deployment's requests "
        "served whole on its (new) GPUs with their decode moved to another (old) deployment "
        "(experiments/disaggregated.yaml)",
        where_key(x.file, "deployments")));
  const experiment::DeploymentConfig& new_dep = *split;
  const experiment::DeploymentConfig* old_dep = find_deployment(x, new_dep.disaggregated_decode);
  const experiment::FleetEntry* new_entry = find_entry(x, new_dep.name);
  const experiment::FleetEntry* old_entry = old_dep ? find_entry(x, old_dep->name) : nullptr;
  if (!old_dep || !new_entry || !old_entry)
    throw core::InputError(
        fmt::format("{}: the fleet needs servers of deployment '{}' and of its decode deployment '{}'",
                    where_key(x.file, "fleet"), new_dep.name, new_dep.disaggregated_decode));

  // The closed form prices steps with the perf and power models alone; a host-bound engine's floor and 2023 power
  // line (sim/perf/host_floor.hpp, the ledger's line pricing) are not in it, so such a deployment is refused
  // rather than priced as if it had none.
  for (const experiment::DeploymentConfig* d : {&new_dep, old_dep})
    if (d->engine_2023 || d->host_s_per_layer != 0)
      throw core::InputError(
          fmt::format("{}: deployment '{}' runs on a host-bound engine (scheduler.host_time_per_layer or preset "
                      "fastchat-hf-2023), which the closed form does not model; simulate it with `greenfleet run`",
                      d->host_where, d->name));

  Theory out;
  TheorySetup& su = out.setup;
  su.new_deployment = new_dep.name;
  su.old_deployment = old_dep->name;
  su.prefill_batch = options.prefill_batch;
  su.decode_batch = options.decode_batch;
  su.old_decode_batch = options.old_decode_batch > 0 ? options.old_decode_batch : options.decode_batch;

  // The unit of work: the workload's mean lengths (the requests a run would read), unless given.
  if (options.prompt_tokens && options.output_tokens) {
    su.prompt_tokens = *options.prompt_tokens;
    su.output_tokens = *options.output_tokens;
  } else {
    if (x.workload.class_selector == workload::ClassSelector::kTrace && !x.workload.classes.empty())
      throw core::InputError(fmt::format(
          "{}: workload classes with their own traces: give the unit of work with --prompt and --output",
          where_key(x.file, "workload")));
    const experiment::SourceContext context{x.workload.on_bad_row, &x.workload.synthetic, x.seed,
                                            x.workload.file_where};
    workload::TransformedSource source(
        experiment::workload_sources().create(x.workload.source, x.workload.params, context), x.workload.transform,
        x.seed);
    // Requests longer than an instance of either deployment can hold (context or KV cache) are rejected by a run,
    // so they are left out of the means too.
    su.max_tokens =
        std::min(max_tokens(x, catalog, new_dep, *new_entry), max_tokens(x, catalog, *old_dep, *old_entry));
    workload::RequestSpec r;
    double prompt = 0, output = 0;
    std::uint64_t n = 0, fit = 0;
    while ((x.workload.max_requests == 0 || n < x.workload.max_requests) && source.next(r)) {
      ++n;
      if (static_cast<std::int64_t>(r.prompt_tokens) + r.output_tokens > su.max_tokens) continue;
      prompt += r.prompt_tokens;
      output += r.output_tokens;
      ++fit;
    }
    if (fit == 0)
      throw core::InputError(fmt::format("{}: the workload has no requests that fit {} tokens",
                                         where_key(x.file, "workload"), su.max_tokens));
    su.requests_read = n;
    su.requests_used = fit;
    su.prompt_tokens = prompt / static_cast<double>(fit);
    su.output_tokens = output / static_cast<double>(fit);
  }
  if (!(su.prompt_tokens >= 1) || !(su.output_tokens >= 1))
    throw core::InputError("theory: the unit of work needs at least one prompt and one output token");

  const Side n = make_side(x, catalog, new_dep, *new_entry);
  const Side o = make_side(x, catalog, *old_dep, *old_entry);
  su.new_gpu = n.gpu;
  su.old_gpu = o.gpu;
  su.new_devices = n.devices;
  su.old_devices = o.devices;
  su.new_card_kg = n.card_kg;
  su.old_card_kg = o.card_kg;
  su.new_sunk = n.sunk;
  su.old_sunk = o.sunk;
  su.new_life_years = n.life_years;
  su.old_life_years = o.life_years;
  const auto& site =
      *std::find_if(x.sites.begin(), x.sites.end(), [&](auto& s) { return s.name == new_entry->site; });
  su.site_ci = site.carbon_intensity.kind == "constant" ? site.carbon_intensity.value
                                                        : std::numeric_limits<double>::quiet_NaN();

  // Token counts are whole: the mean lengths rounded to the nearest token.
  const auto prompt = static_cast<std::int64_t>(std::llround(su.prompt_tokens));
  const auto output = static_cast<std::int64_t>(std::llround(su.output_tokens));
  const Phase pre = prefill_phase(n, prompt, su.prefill_batch);
  const Phase dec_n = decode_phase(n, prompt, output, su.decode_batch);
  const Phase dec_o = decode_phase(o, prompt, output, su.old_decode_batch);
  TheoryTerms& t = out.terms;
  t.tn_prefill = pre.seconds;
  t.tn = pre.seconds + dec_n.seconds;
  t.to = dec_o.seconds;
  t.pn_prefill = pre.seconds > 0 ? pre.joules / pre.seconds : 0;
  t.pn = t.tn > 0 ? (pre.joules + dec_n.joules) / t.tn : 0;
  t.po = dec_o.seconds > 0 ? dec_o.joules / dec_o.seconds : 0;
  t.rn = n.rate;
  t.ro = o.rate;
  t.pue = site.pue;
  return out;
}

namespace {

std::string describe(const Theory& th) {
  const TheorySetup& s = th.setup;
  std::string out;
  out += fmt::format("unit of work: one request of {:.1f} prompt and {:.1f} output tokens", s.prompt_tokens,
                     s.output_tokens);
  out += s.requests_read > 0 ? fmt::format(" (means of the {} of {} requests within {} tokens)\n", s.requests_used,
                                           s.requests_read, s.max_tokens)
                             : " (given)\n";
  out += fmt::format(
      "batches: {} prompt(s) per prefill step, {} sequences per decode step on the new GPU, {} on the "
      "old GPU\n",
      s.prefill_batch, s.decode_batch, s.old_decode_batch);
  const auto life = [](bool sunk, double years) {
    return sunk ? std::string("sunk") : fmt::format("amortised over {:.2f} y", years);
  };
  out += fmt::format("new: deployment {} on {} x{} ({:.1f} kgCO2e/card, {})\n", s.new_deployment, s.new_gpu,
                     s.new_devices, s.new_card_kg, life(s.new_sunk, s.new_life_years));
  out += fmt::format("old: deployment {} on {} x{} ({:.1f} kgCO2e/card, {})\n", s.old_deployment, s.old_gpu,
                     s.old_devices, s.old_card_kg, life(s.old_sunk, s.old_life_years));
  return out;
}

std::string be_text(const std::optional<double>& be) {
  if (!be) return "none (equal energy)";
  return fmt::format("{:.1f}", *be);
}

}  // namespace

std::string format_theory_table(const Theory& th, const std::vector<double>& ci_grid,
                                const std::vector<double>& lifetimes_years) {
  const TheoryTerms& t = th.terms;
  std::string out = "GreenLLM closed form, prefill/decode disaggregation (docs/THEORY.md)\n" + describe(th);
  out += fmt::format("\n{:<6} {:>14}  {}\n", "term", "value", "meaning");
  out += fmt::format("{:<6} {:>14.6f}  s, whole request on the new GPU\n", "Tn", t.tn);
  out += fmt::format("{:<6} {:>14.6f}  s, prefill on the new GPU\n", "Tn'", t.tn_prefill);
  out += fmt::format("{:<6} {:>14.6f}  s, decode on the old GPU\n", "To", t.to);
  out += fmt::format("{:<6} {:>14.1f}  W, new GPU(s) over Tn\n", "Pn", t.pn);
  out += fmt::format("{:<6} {:>14.1f}  W, new GPU(s) over Tn'\n", "Pn'", t.pn_prefill);
  out += fmt::format("{:<6} {:>14.1f}  W, old GPU(s) over To\n", "Po", t.po);
  out += fmt::format("{:<6} {:>14.6g}  g/s, ECn/LTn\n", "rn", t.rn);
  out += fmt::format("{:<6} {:>14.6g}  g/s, ECo/LTo\n", "ro", t.ro);
  out += fmt::format("{:<6} {:>14.2f}  energy: base {:.1f} J, green {:.1f} J per request\n", "PUE", t.pue,
                     t.pn * t.tn, t.pn_prefill * t.tn_prefill + t.po * t.to);
  out += fmt::format("\n{:>8} {:>12} {:>12} {:>10}\n", "CI g/kWh", "C_base g", "C_green g", "savings %");
  for (const double ci : ci_grid)
    out += fmt::format("{:>8.0f} {:>12.6f} {:>12.6f} {:>10.2f}\n", ci, carbon_base(t, ci), carbon_green(t, ci),
                       savings_percent(t, ci));
  out += fmt::format("break-even CI*: {} gCO2e/kWh\n", be_text(break_even_ci(t)));

  const double ci_lo = ci_grid.empty() ? 0 : ci_grid.front(), ci_hi = ci_grid.empty() ? 0 : ci_grid.back();
  const double ci_site = std::isfinite(th.setup.site_ci) ? th.setup.site_ci : (ci_lo + ci_hi) / 2;
  out += fmt::format("\nnew-GPU lifetime (old GPU as configured)\n{:>8} {:>12} {:>10} {:>10} {:>10} {:>10}\n",
                     "LTn y", "ECn/LTn g/s", fmt::format("@{:.0f}", ci_lo), fmt::format("@{:.0f}", ci_site),
                     fmt::format("@{:.0f}", ci_hi), "CI*");
  for (const double years : lifetimes_years) {
    TheoryTerms v = t;
    v.rn = new_gpu_rate(th.setup, years);
    out += fmt::format("{:>8.1f} {:>12.6g} {:>10.2f} {:>10.2f} {:>10.2f} {:>10}\n", years, v.rn,
                       savings_percent(v, ci_lo), savings_percent(v, ci_site), savings_percent(v, ci_hi),
                       be_text(break_even_ci(v)));
  }
  return out;
}

std::string format_theory_json(const Theory& th, const std::vector<double>& ci_grid,
                               const std::vector<double>& lifetimes_years) {
  const TheorySetup& s = th.setup;
  const TheoryTerms& t = th.terms;
  const auto be = [](const TheoryTerms& v) {
    const auto b = break_even_ci(v);
    return b ? num(*b) : std::string("null");
  };
  std::string out = "{\n";
  out += fmt::format(
      "  \"setup\": {{\"new_deployment\": \"{}\", \"old_deployment\": \"{}\", \"new_gpu\": \"{}\", "
      "\"old_gpu\": \"{}\", \"new_devices\": {}, \"old_devices\": {}, \"prompt_tokens\": {}, \"output_tokens\": "
      "{}, "
      "\"requests_read\": {}, \"requests_used\": {}, \"max_tokens\": {}, \"prefill_batch\": {}, \"decode_batch\": "
      "{}, \"old_decode_batch\": {}, "
      "\"new_card_kg\": {}, \"old_card_kg\": "
      "{}, "
      "\"new_sunk\": {}, \"old_sunk\": {}, \"new_life_years\": {}, \"old_life_years\": {}, \"site_ci\": {}}},\n",
      s.new_deployment, s.old_deployment, s.new_gpu, s.old_gpu, s.new_devices, s.old_devices, num(s.prompt_tokens),
      num(s.output_tokens), s.requests_read, s.requests_used, s.max_tokens, s.prefill_batch, s.decode_batch,
      s.old_decode_batch, num(s.new_card_kg), num(s.old_card_kg), s.new_sunk, s.old_sunk, num(s.new_life_years),
      num(s.old_life_years), num(s.site_ci));
  out += fmt::format(
      "  \"terms\": {{\"tn_s\": {}, \"tn_prefill_s\": {}, \"to_s\": {}, \"pn_w\": {}, \"pn_prefill_w\": {}, "
      "\"po_w\": {}, \"rn_g_per_s\": {}, \"ro_g_per_s\": {}, \"pue\": {}}},\n",
      num(t.tn), num(t.tn_prefill), num(t.to), num(t.pn), num(t.pn_prefill), num(t.po), num(t.rn), num(t.ro),
      num(t.pue));
  out += fmt::format("  \"break_even_ci\": {},\n  \"ci_grid\": [\n", be(t));
  for (std::size_t i = 0; i < ci_grid.size(); ++i)
    out += fmt::format("    {{\"ci\": {}, \"c_base_g\": {}, \"c_green_g\": {}, \"savings_percent\": {}}}{}\n",
                       num(ci_grid[i]), num(carbon_base(t, ci_grid[i])), num(carbon_green(t, ci_grid[i])),
                       num(savings_percent(t, ci_grid[i])), i + 1 < ci_grid.size() ? "," : "");
  out += "  ],\n  \"new_gpu_lifetime\": [\n";
  for (std::size_t i = 0; i < lifetimes_years.size(); ++i) {
    TheoryTerms v = t;
    v.rn = new_gpu_rate(s, lifetimes_years[i]);
    std::string sav;
    for (std::size_t k = 0; k < ci_grid.size(); ++k) sav += (k ? ", " : "") + num(savings_percent(v, ci_grid[k]));
    out += fmt::format(
        "    {{\"years\": {}, \"rn_g_per_s\": {}, \"break_even_ci\": {}, \"savings_percent\": [{}]}}{}\n",
        num(lifetimes_years[i]), num(v.rn), be(v), sav, i + 1 < lifetimes_years.size() ? "," : "");
  }
  out += "  ]\n}\n";
  return out;
}

}  // namespace greenfleet::study
