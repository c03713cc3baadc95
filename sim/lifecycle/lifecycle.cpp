#include "sim/lifecycle/lifecycle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"

namespace greenfleet::lifecycle {

using config::ConfigNode;

namespace {

std::string beside(const std::string& file, const std::string& name) {
  const std::filesystem::path p(name);
  if (p.is_absolute()) return name;
  return (std::filesystem::path(file).parent_path() / p).lexically_normal().string();
}

bool plain_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

// The generation on sale in study year `year` (0-based): the newest whose from_year has come.
const Generation& on_sale(const std::vector<Generation>& generations, std::int32_t year) {
  const Generation* g = &generations.front();
  for (const auto& x : generations)
    if (x.from_year <= year) g = &x;
  return *g;
}

// What one simulation of the representative period measured, fleet-wide.
struct RunTotals {
  double seconds = 0;
  double energy_kwh = 0, operational_kg = 0, embodied_gpu_kg = 0, embodied_host_kg = 0;
  std::uint64_t completed = 0, slo_met = 0;
  double tokens = 0;
  double gpu_cards_kg = 0;  // whole embodied carbon of every GPU card of the fleet
  double hosts_kg = 0;      // whole embodied carbon of every host
};

// The overrides every run of the study gives the base experiment.
std::vector<std::string> base_overrides(const LifecycleConfig& c, std::size_t sites) {
  std::vector<std::string> out;
  if (c.carbon_intensity >= 0)
    for (std::size_t i = 0; i < sites; ++i)
      out.push_back(fmt::format("sites.{}.carbon_intensity={:.17g}", i, c.carbon_intensity));
  return out;
}

std::string years_duration(std::int32_t years) {
  return fmt::format("{}h", static_cast<std::int64_t>(years) * static_cast<std::int64_t>(kHoursPerYear));
}

}  // namespace

spec::ServerSku recycled_server(const catalog::Catalog& catalog, const std::string& host_sku,
                                const std::string& gpu_sku) {
  const spec::ServerSku& host = catalog.server(host_sku);
  if (host_sku == gpu_sku) return host;
  const spec::ServerSku& gpus = catalog.server(gpu_sku);
  spec::ServerSku s = host;
  s.id = host_sku + "+" + gpu_sku;
  s.name = fmt::format("{} host carrying the GPUs of {}", host.name, gpus.name);
  s.gpu = gpus.gpu;
  s.gpu_count = gpus.gpu_count;
  s.scale_up_link = gpus.scale_up_link;  // the GPU baseboard (NVSwitch) goes with the GPUs
  // servers.yaml's fan rule: 0.10 x the GPUs' TDP (and the CPUs', unchanged here), rounded to 10 W.
  const double fans_delta =
      0.10 * (gpus.gpu_count * catalog.gpu(gpus.gpu).tdp_w - host.gpu_count * catalog.gpu(host.gpu).tdp_w);
  s.chassis_w = std::max(0.0, std::round((host.chassis_w + fans_delta) / 10) * 10);
  s.usd_per_hour = -1;
  return s;
}

LifecycleConfig load_config(const std::string& file, const catalog::Catalog& catalog,
                            const std::vector<std::string>& overrides, const std::string& data_dir) {
  YAML::Node doc = ConfigNode::load_file(file);
  auto set_paths = std::make_shared<std::set<std::string>>();
  for (const auto& o : overrides) set_paths->insert(config::apply_override(doc, o));
  ConfigNode root(doc, file, "", YAML::Node(YAML::NodeType::Undefined), set_paths);
  LifecycleConfig c;
  c.file = file;
  c.data_dir = data_dir;
  c.name = root.get_string("name");
  c.experiment = beside(file, root.get_string("experiment"));
  c.horizon_years = static_cast<std::int32_t>(root.get_int("horizon_years", std::nullopt, 1, 30));
  c.load_growth = root.get_double("load_growth_per_year", 0.0, -0.5, 2.0);
  c.output = root.get_string("output", "");
  if (root.has("carbon_intensity"))
    c.carbon_intensity = root.get_double("carbon_intensity", std::nullopt, 0, 5000);

  auto gens = root.child_list("generations");
  if (gens.empty()) root.fail("generations", "needs at least one server generation");
  for (std::size_t i = 0; i < gens.size(); ++i) {
    auto& g = gens[i];
    Generation gen;
    gen.server = g.get_string("server");
    if (!catalog.servers().count(gen.server)) {
      std::set<std::string> ids;
      for (const auto& [id, s] : catalog.servers()) ids.insert(id);
      const std::string near = config::closest_match(gen.server, ids);
      g.fail("server", fmt::format("unknown server SKU '{}'{}; see `greenfleet list servers`", gen.server,
                                   near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
    }
    gen.from_year =
        static_cast<std::int32_t>(g.get_int("from_year", i == 0 ? 0 : std::optional<std::int64_t>{}, 0, 100));
    if (i == 0 && gen.from_year != 0)
      g.fail("from_year", "the first generation must be on sale from year 0 (the fleet is bought then)");
    if (i > 0 && gen.from_year <= c.generations.back().from_year)
      g.fail("from_year",
             fmt::format("must be later than the previous generation's ({})", c.generations.back().from_year));
    if (gen.from_year >= c.horizon_years)
      c.notes.push_back(fmt::format("{}: {} is not before horizon_years ({}): '{}' is never bought",
                                    g.where("from_year"), gen.from_year, c.horizon_years, gen.server));
    g.finish();
    c.generations.push_back(gen);
  }

  auto pols = root.child_list("policies");
  if (pols.empty()) root.fail("policies", "needs at least one policy");
  std::set<std::string> names;
  bool any_recycle = false;
  for (auto& p : pols) {
    Policy pol;
    pol.name = p.get_string("name");
    if (!plain_name(pol.name)) p.fail("name", "must be letters, digits, '-' or '_'");
    if (!names.insert(pol.name).second) p.fail("name", fmt::format("'{}' names two policies", pol.name));
    pol.kind = p.get_choice("kind", {"recycle", "homogeneous"});
    if (pol.kind == "recycle") {
      pol.gpu_years = static_cast<std::int32_t>(p.get_int("gpu_refresh_years", std::nullopt, 1, 30));
      pol.host_years = static_cast<std::int32_t>(p.get_int("host_life_years", std::nullopt, 1, 30));
      any_recycle = true;
    } else {
      pol.gpu_years = pol.host_years = static_cast<std::int32_t>(p.get_int("refresh_years", std::nullopt, 1, 30));
    }
    p.finish();
    c.policies.push_back(pol);
  }
  // A recycled host takes the next generation's GPUs in place of its own: as many, on a baseboard of the same
  // size.
  if (any_recycle)
    for (std::size_t i = 1; i < gens.size(); ++i) {
      const auto& first = catalog.server(c.generations[0].server);
      const auto& s = catalog.server(c.generations[i].server);
      if (s.gpu_count != first.gpu_count)
        gens[i].fail("server", fmt::format("has {} GPUs and {} has {}: a recycle policy moves GPUs into older "
                                           "hosts, so every generation needs the same GPU count",
                                           s.gpu_count, c.generations[0].server, first.gpu_count));
    }
  root.finish();

  // The base experiment: loaded once here so its errors come before any run.
  experiment::LoadOptions lo;
  lo.data_dir = data_dir;
  if (std::error_code ec; !std::filesystem::is_regular_file(c.experiment, ec))
    root.fail("experiment", fmt::format("'{}' is not a file", c.experiment));
  // Its errors name its own file and line, after the key that named it (as plan's do): a file that is not an
  // experiment (the lifecycle file itself, say) would otherwise read as an error of that file alone.
  const auto load_base = [&](const experiment::LoadOptions& options) {
    try {
      return experiment::load_experiment(c.experiment, catalog, options);
    } catch (const core::InputError& e) {
      throw core::InputError(fmt::format("{}: {}", root.where("experiment"), e.what()));
    }
  };
  experiment::Experiment x = load_base(lo);
  if (c.carbon_intensity >= 0) {
    lo.overrides = base_overrides(c, x.sites.size());
    x = load_base(lo);
  }
  if (x.fleet.empty()) root.fail("experiment", "the base experiment has no fleet");
  for (std::size_t i = 0; i < x.fleet.size(); ++i) {
    if (x.fleet[i].gpu_embodied_sunk || x.fleet[i].residual_life > 0)
      root.fail("experiment", fmt::format("fleet[{}] sets gpu_embodied: sunk or residual_life; the lifecycle "
                                          "study buys and amortises every GPU itself",
                                          i));
  }
  // The base experiment's notes, its `by_gpu` entries judged against the generations' servers, which replace its
  // fleet every year.
  std::vector<std::string> gpus;
  for (const auto& g : c.generations) gpus.push_back(catalog.server(g.server).gpu);
  const auto base_notes = experiment::notes_for_gpus(x, gpus, file);
  c.notes.insert(c.notes.end(), base_notes.begin(), base_notes.end());
  return c;
}

LifecycleResult run_study(const LifecycleConfig& config, const catalog::Catalog& base_catalog, bool quiet) {
  catalog::Catalog catalog = base_catalog;  // plus the recycled SKUs
  experiment::LoadOptions base_lo;
  base_lo.data_dir = config.data_dir;
  const experiment::Experiment base = experiment::load_experiment(config.experiment, catalog, base_lo);
  const std::vector<std::string> site_overrides = base_overrides(config, base.sites.size());
  const double base_rate_scale = base.workload.transform.rate_scale;
  const std::uint64_t budget = static_cast<std::uint64_t>(runner::kDefaultMemoryBudgetGib * 1024 * 1024 * 1024);

  std::map<std::string, RunTotals> runs;  // by the run's overrides
  LifecycleResult result;
  for (const Policy& pol : config.policies) {
    double cumulative = 0, cumulative_purchase = 0;
    PolicyTotal total;
    total.policy = pol.name;
    total.kind = pol.kind;
    for (std::int32_t t = 0; t < config.horizon_years; ++t) {
      YearRow row;
      row.policy = pol.name;
      row.year = t + 1;
      const std::int32_t gpu_bought_at = t / pol.gpu_years * pol.gpu_years;
      const std::int32_t host_bought_at = t / pol.host_years * pol.host_years;
      row.gpu_age = t - gpu_bought_at;
      row.host_age = t - host_bought_at;
      row.gpu_bought = row.gpu_age == 0;
      row.host_bought = row.host_age == 0;
      const std::string& gpu_sku = on_sale(config.generations, gpu_bought_at).server;
      row.host = on_sale(config.generations, host_bought_at).server;
      const spec::ServerSku sku = recycled_server(catalog, row.host, gpu_sku);
      if (!catalog.servers().count(sku.id)) catalog.add_server(sku);
      row.server = sku.id;
      row.gpu = sku.gpu;
      row.rate_scale = base_rate_scale * std::pow(1 + config.load_growth, t);

      std::vector<std::string> overrides = site_overrides;
      for (std::size_t i = 0; i < base.fleet.size(); ++i) {
        overrides.push_back(fmt::format("fleet.{}.sku={}", i, sku.id));
        overrides.push_back(fmt::format("fleet.{}.gpu_lifetime={}", i, years_duration(pol.gpu_years)));
        overrides.push_back(fmt::format("fleet.{}.host_lifetime={}", i, years_duration(pol.host_years)));
      }
      overrides.push_back(fmt::format("workload.rate_scale={:.17g}", row.rate_scale));
      std::string key;
      for (const auto& o : overrides) key += o + "\n";
      auto it = runs.find(key);
      if (it == runs.end()) {
        if (!quiet)
          fmt::print(stderr, "lifecycle: {} year {}: {} (rate x{:.3g})\n", pol.name, row.year, sku.id,
                     row.rate_scale);
        experiment::LoadOptions lo = base_lo;
        lo.overrides = overrides;
        const experiment::Experiment x = experiment::load_experiment(config.experiment, catalog, lo);
        runner::check_memory(x, catalog, budget);
        runner::Simulation sim(x, catalog);
        sim.limit_memory(budget, x.carbon.slot_where);
        sim.run();
        RunTotals r;
        r.seconds = core::to_seconds(sim.end_time());
        const energy::Accum a = sim.ledger().fleet_total();
        r.energy_kwh = a.energy() / energy::kJoulesPerKwh;
        r.operational_kg = a.op() / 1000;
        r.embodied_gpu_kg = a.emb_gpu / 1000;
        r.embodied_host_kg = a.emb_host / 1000;
        r.completed = sim.metrics().completed();
        r.slo_met = sim.metrics().slo_met();
        r.tokens = static_cast<double>(sim.metrics().prompt_tokens() + sim.metrics().output_tokens());
        for (const auto& s : sim.servers()) {
          r.gpu_cards_kg += s.gpu_card_kg * catalog.server(s.sku).gpu_count;
          r.hosts_kg += s.host_kg;
        }
        if (!(r.seconds > 0))
          throw core::InputError(fmt::format("{}: experiment: the run of {} year {} simulated no time",
                                             config.file, pol.name, row.year));
        it = runs.emplace(key, r).first;
        ++result.simulations;
      }
      const RunTotals& r = it->second;
      row.run_seconds = r.seconds;
      row.completed = r.completed;
      row.slo_met = r.slo_met;
      row.run_tokens = r.tokens;
      row.run_energy_kwh = r.energy_kwh;
      row.run_operational_kg = r.operational_kg;
      row.run_embodied_gpu_kg = r.embodied_gpu_kg;
      row.run_embodied_host_kg = r.embodied_host_kg;
      row.scale = kHoursPerYear * 3600 / r.seconds;
      row.energy_mwh = r.energy_kwh * row.scale / 1000;
      row.operational_t = r.operational_kg * row.scale / 1000;
      row.embodied_gpu_t = r.embodied_gpu_kg * row.scale / 1000;
      row.embodied_host_t = r.embodied_host_kg * row.scale / 1000;
      row.total_t = row.operational_t + row.embodied_gpu_t + row.embodied_host_t;
      cumulative += row.total_t;
      row.cumulative_t = cumulative;
      row.bought_t = ((row.gpu_bought ? r.gpu_cards_kg : 0) + (row.host_bought ? r.hosts_kg : 0)) / 1000;
      cumulative_purchase += row.operational_t + row.bought_t;
      row.cumulative_at_purchase_t = cumulative_purchase;
      total.operational_t += row.operational_t;
      total.embodied_t += row.embodied_gpu_t + row.embodied_host_t;
      total.tokens += r.tokens * row.scale;
      result.rows.push_back(row);
    }
    total.total_t = cumulative;
    total.at_purchase_t = cumulative_purchase;
    result.totals.push_back(total);
  }
  return result;
}

std::string format_table(const LifecycleResult& result) {
  std::string out = fmt::format("{:<14} {:>4}  {:<34} {:>7} {:>6}  {:>6} {:>9} {:>9} {:>9} {:>9} {:>8}\n",
                                "policy", "year", "server (host+GPUs)", "age g/h", "bought", "SLO %", "op t",
                                "emb t", "total t", "cum. t", "bought t");
  for (const auto& r : result.rows) {
    const std::string bought = r.gpu_bought && r.host_bought ? "both"
                               : r.gpu_bought                ? "gpus"
                               : r.host_bought               ? "host"
                                                             : "-";
    out += fmt::format(
        "{:<14} {:>4}  {:<34} {:>3}/{:<3} {:>6}  {:>6.1f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>8.2f}\n",
        r.policy, r.year, r.server, r.gpu_age, r.host_age, bought,
        r.completed > 0 ? 100.0 * static_cast<double>(r.slo_met) / static_cast<double>(r.completed) : 0.0,
        r.operational_t, r.embodied_gpu_t + r.embodied_host_t, r.total_t, r.cumulative_t, r.bought_t);
  }
  // Savings are against the first homogeneous policy (the baseline the Recycle strategy is compared with), or
  // the first policy when none is homogeneous.
  out += fmt::format("\n{:<14} {:>12} {:>12} {:>12} {:>10} {:>16} {:>14}\n", "policy", "operational t",
                     "embodied t", "total t", "vs base", "at purchase t", "g/1k tokens");
  const PolicyTotal* base = result.totals.empty() ? nullptr : &result.totals.front();
  for (const auto& t : result.totals)
    if (t.kind == "homogeneous") {
      base = &t;
      break;
    }
  for (const auto& t : result.totals) {
    const double vs = base && base->total_t > 0 ? 100.0 * (t.total_t / base->total_t - 1) : 0.0;
    out += fmt::format("{:<14} {:>12.2f} {:>12.2f} {:>12.2f} {:>+9.1f}% {:>16.2f} {:>14.4f}\n", t.policy,
                       t.operational_t, t.embodied_t, t.total_t, vs, t.at_purchase_t,
                       t.tokens > 0 ? t.total_t * 1e6 / t.tokens * 1000 : 0.0);
  }
  if (base)
    out += fmt::format("(vs base: total carbon against {}; at purchase: embodied charged whole when bought)\n",
                       base->policy);
  return out;
}

std::string format_csv(const LifecycleResult& result) {
  std::string out =
      "policy,year,server,host,gpu,gpu_age,host_age,gpu_bought,host_bought,rate_scale,run_seconds,completed,"
      "slo_met,run_tokens,run_energy_kwh,run_operational_kg,run_embodied_gpu_kg,run_embodied_host_kg,scale,"
      "energy_mwh,operational_t,embodied_gpu_t,embodied_host_t,total_t,cumulative_t,bought_t,"
      "cumulative_at_purchase_t\n";
  for (const auto& r : result.rows)
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{:.17g},{:.17g},{},{},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},"
        "{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g},{:.17g}\n",
        r.policy, r.year, r.server, r.host, r.gpu, r.gpu_age, r.host_age, r.gpu_bought ? 1 : 0,
        r.host_bought ? 1 : 0, r.rate_scale, r.run_seconds, r.completed, r.slo_met, r.run_tokens, r.run_energy_kwh,
        r.run_operational_kg, r.run_embodied_gpu_kg, r.run_embodied_host_kg, r.scale, r.energy_mwh,
        r.operational_t, r.embodied_gpu_t, r.embodied_host_t, r.total_t, r.cumulative_t, r.bought_t,
        r.cumulative_at_purchase_t);
  return out;
}

}  // namespace greenfleet::lifecycle
