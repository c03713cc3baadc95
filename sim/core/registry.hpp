#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/core/params.hpp"

namespace greenfleet::core {

// One registered component: its name, what it does, and its typed parameters.
struct ComponentInfo {
  std::string category;  // "router", "perf_model", ...
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
};

// What `greenfleet list` and the generated docs show of one registry.
struct RegistryListing {
  std::string category;   // "router"
  std::string key;        // where experiments name an entry: "router.name"
  std::string params_at;  // where its parameters go: "router.params"
  std::string doc;        // how the section's parameters are read
  std::vector<ComponentInfo> entries;
};

// `greenfleet list`: each entry with its doc and parameters (type, default, range, doc).
std::string listing_text(const RegistryListing& listing);
// The tables of docs/EXPERIMENTS.md for one registry: its entries, then one row per parameter with the
// entries that take it (docs/generate.sh writes them between marker comments).
std::string listing_markdown(const RegistryListing& listing);

// Components (routers, perf models, workload sources, power policies; later planners) register a factory
// under a name with their docs and parameter declarations, so experiments select them by name, the loader
// validates their parameters from the declaration (config::read_params) and `greenfleet list` and the docs
// describe every one from the same declaration. A factory gets the validated parameters and the context
// `Args` of its kind of component. Listings keep the registration order.
template <class Product, class... Args>
class Registry {
 public:
  using Factory = std::function<Product(const ParamValues&, Args...)>;

  Registry(std::string category, std::string key, std::string params_at, std::string doc)
      : listing_{std::move(category), std::move(key), std::move(params_at), std::move(doc), {}} {}

  void add(std::string name, std::string doc, std::vector<ParamSpec> params, Factory factory) {
    if (index_.count(name)) throw std::logic_error(fmt::format("{} '{}' registered twice", category(), name));
    index_.emplace(name, factories_.size());
    listing_.entries.push_back(ComponentInfo{category(), std::move(name), std::move(doc), std::move(params)});
    factories_.push_back(std::move(factory));
  }

  Product create(const std::string& name, const ParamValues& params, Args... args) const {
    return factories_[position(name)](params, std::forward<Args>(args)...);
  }

  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const ComponentInfo& info(const std::string& name) const { return listing_.entries[position(name)]; }
  const std::string& category() const { return listing_.category; }
  const RegistryListing& listing() const { return listing_; }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : listing_.entries) out.push_back(e.name);
    return out;
  }
  std::vector<ComponentInfo> infos() const { return listing_.entries; }

  // Every entry's parameters, each once, in registration order: for sections that accept the parameters of
  // all entries (a sweep can then switch the entry alone). A name declared twice must be declared alike.
  std::vector<ParamSpec> all_params() const {
    std::vector<ParamSpec> out;
    for (const auto& e : listing_.entries)
      for (const auto& p : e.params) {
        auto same = std::find_if(out.begin(), out.end(), [&](const ParamSpec& q) { return q.name == p.name; });
        if (same == out.end()) {
          out.push_back(p);
        } else if (!(*same == p)) {
          throw std::logic_error(
              fmt::format("{} parameter '{}' is declared differently by two entries", category(), p.name));
        }
      }
    return out;
  }

 private:
  std::size_t position(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw std::out_of_range(fmt::format("no {} named '{}'", category(), name));
    return it->second;
  }

  RegistryListing listing_;
  std::vector<Factory> factories_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace greenfleet::core
