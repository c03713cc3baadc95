#pragma once
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace greenfleet::core {

// One documented, typed parameter of a registered component: what `greenfleet list` prints.
struct ParamSpec {
  std::string name;
  std::string type;           // "int", "double", "string", "bool", "duration"
  std::string default_value;  // as written in YAML
  std::string doc;
};

struct ComponentInfo {
  std::string category;  // "router", ...
  std::string name;
  std::string doc;
  std::vector<ParamSpec> params;
};

// Components (routers, later provisioners and planners) register a factory under a name with their docs, so
// experiments select them by name and `greenfleet list policies` describes every one for free.
template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Args...)>;

  void add(ComponentInfo info, Factory factory) {
    const std::string key = info.name;
    entries_.emplace(key, Entry{std::move(info), std::move(factory)});
  }
  std::unique_ptr<Base> create(const std::string& name, Args... args) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw std::out_of_range("no component named " + name);
    return it->second.factory(std::forward<Args>(args)...);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }
  std::vector<ComponentInfo> infos() const {
    std::vector<ComponentInfo> out;
    for (const auto& [k, v] : entries_) out.push_back(v.info);
    return out;
  }

 private:
  struct Entry {
    ComponentInfo info;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;  // ordered: listings are stable
};

}  // namespace greenfleet::core
