#include "sim/lifecycle/lifecycle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
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

// The fleet of policy `pol` in study year `t` (0-based) and the overrides that give it to the base experiment.
struct Year {
  std::int32_t gpu_bought_at = 0, host_bought_at = 0;
  std::size_t gpu_generation = 0, host_generation = 0;  // indices into LifecycleConfig::generations
  spec::ServerSku sku;
  double rate_scale = 1;
  std::vector<std::string> overrides;
  std::string key;  // the overrides, one a line: years with the same key are the same run
};

// The generation on sale in study year `year` (0-based): the newest whose from_year has come.
std::size_t on_sale_index(const std::vector<Generation>& generations, std::int32_t year) {
  std::size_t g = 0;
  for (std::size_t i = 0; i < generations.size(); ++i)
    if (generations[i].from_year <= year) g = i;
  return g;
}

// Adds the year's server to `catalog` when it is a recycled one.
Year year_of(const LifecycleConfig& c, catalog::Catalog& catalog, const Policy& pol, std::int32_t t,
             std::size_t fleet_size, const std::vector<std::string>& site_overrides, double base_rate_scale) {
  Year y;
  y.gpu_bought_at = t / pol.gpu_years * pol.gpu_years;
  y.host_bought_at = t / pol.host_years * pol.host_years;
  y.gpu_generation = on_sale_index(c.generations, y.gpu_bought_at);
  y.host_generation = on_sale_index(c.generations, y.host_bought_at);
  y.sku =
      recycled_server(catalog, c.generations[y.host_generation].server, c.generations[y.gpu_generation].server);
  if (!catalog.servers().count(y.sku.id)) catalog.add_server(y.sku);
  y.rate_scale = base_rate_scale * std::pow(1 + c.load_growth, t);
  y.overrides = site_overrides;
  for (std::size_t i = 0; i < fleet_size; ++i) {
    y.overrides.push_back(fmt::format("fleet.{}.sku={}", i, y.sku.id));
    y.overrides.push_back(fmt::format("fleet.{}.gpu_lifetime={}", i, years_duration(pol.gpu_years)));
    y.overrides.push_back(fmt::format("fleet.{}.host_lifetime={}", i, years_duration(pol.host_years)));
  }
  y.overrides.push_back(fmt::format("workload.rate_scale={:.17g}", y.rate_scale));
  for (const auto& o : y.overrides) y.key += o + "\n";
  return y;
}

// An error of a year's load or run names the generation that brought its server (the later of the GPUs' and the
// host's), the policy and the year, before the experiment's own message.
[[noreturn]] void year_error(const LifecycleConfig& c, const Policy& pol, std::int32_t t, const Year& y,
                             const std::string& what) {
  const Generation& g = c.generations[std::max(y.gpu_generation, y.host_generation)];
  throw core::InputError(fmt::format("{}: policy '{}' year {} ({}): {}", g.where.empty() ? c.file : g.where,
                                     pol.name, t + 1, y.sku.id, what));
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
    // A generation is a newer server going on sale: the same server again would buy nothing new (right after
    // itself) or go back to an older one (after another).
    for (std::size_t j = 0; j < i; ++j)
      if (c.generations[j].server == gen.server)
        g.fail("server", fmt::format("'{}' is listed already ({}): each generation is a newer server; list "
                                     "each server once",
                                     gen.server, gens[j].where("server")));
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
    gen.where = g.where("server");
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
  const auto add_notes = [&](const experiment::Experiment& e) {
    for (auto& note : experiment::notes_for_gpus(e, gpus, file))
      if (std::find(c.notes.begin(), c.notes.end(), note) == c.notes.end()) c.notes.push_back(std::move(note));
  };
  add_notes(x);
  // Each distinct year as run_study loads and checks it (a generation's server may not hold the deployment, or
  // its instances may exceed the memory budget): refused now, naming the generation, not after the years before
  // it were simulated; its notes gathered with the base's, each once.
  catalog::Catalog years_catalog = catalog;  // plus the recycled SKUs
  const std::vector<std::string> site_overrides = base_overrides(c, x.sites.size());
  const auto budget = static_cast<std::uint64_t>(runner::kDefaultMemoryBudgetGib * 1024 * 1024 * 1024);
  std::set<std::string> checked;
  for (const Policy& pol : c.policies)
    for (std::int32_t t = 0; t < c.horizon_years; ++t) {
      const Year y =
          year_of(c, years_catalog, pol, t, x.fleet.size(), site_overrides, x.workload.transform.rate_scale);
      if (!checked.insert(y.key).second) continue;
      experiment::LoadOptions year_lo = lo;
      year_lo.overrides = y.overrides;
      try {
        const experiment::Experiment year = experiment::load_experiment(c.experiment, years_catalog, year_lo);
        runner::check_memory(year, years_catalog, budget);
        add_notes(year);
      } catch (const core::InputError& e) {
        year_error(c, pol, t, y, e.what());
      }
    }
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
      const Year y = year_of(config, catalog, pol, t, base.fleet.size(), site_overrides, base_rate_scale);
      row.gpu_age = t - y.gpu_bought_at;
      row.host_age = t - y.host_bought_at;
      row.gpu_bought = row.gpu_age == 0;
      row.host_bought = row.host_age == 0;
      row.host = config.generations[y.host_generation].server;
      row.server = y.sku.id;
      row.gpu = y.sku.gpu;
      row.rate_scale = y.rate_scale;
      auto it = runs.find(y.key);
      if (it == runs.end()) {
        if (!quiet)
          fmt::print(stderr, "lifecycle: {} year {}: {} (rate x{:.3g})\n", pol.name, row.year, y.sku.id,
                     row.rate_scale);
        experiment::LoadOptions lo = base_lo;
        lo.overrides = y.overrides;
        std::optional<experiment::Experiment> loaded;
        try {
          loaded.emplace(experiment::load_experiment(config.experiment, catalog, lo));
          runner::check_memory(*loaded, catalog, budget);
        } catch (const core::InputError& e) {
          year_error(config, pol, t, y, e.what());
        }
        const experiment::Experiment& x = *loaded;
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
        it = runs.emplace(y.key, r).first;
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
