#pragma once
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "test_support.hpp"

namespace greenfleet::test {

// Experiments written as YAML text inside a test: the preamble most of them share, loading one, and the error a
// bad one gives.

// One site `s` at a constant 100 gCO2e/kWh.
inline const std::string kSiteS = "sites: [{name: s, carbon_intensity: 100}]\n";

// Two deployments of Llama-3.1-8B: `gpu` (defaults) and `cpu` (8 sequences), for fleets with CPU instances.
inline const std::string kGpuCpuDeployments =
    "deployments:\n"
    "  - {name: gpu, model: llama-3.1-8b}\n"
    "  - {name: cpu, model: llama-3.1-8b, scheduler: {max_num_seqs: 8}}\n";

// `name`, `seed` and the site `s`: the start of a hand-written experiment.
inline std::string experiment_head(const std::string& name, int seed) {
  return "name: " + name + "\nseed: " + std::to_string(seed) + "\n" + kSiteS;
}

// Loads `yaml` (written to a scratch file) against the project's catalog.
inline experiment::Experiment load_text(const std::string& yaml, std::vector<std::string> overrides = {}) {
  TempDir dir;
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  return experiment::load_experiment(dir.write("x.yaml", yaml), catalog(), o);
}

// The InputError that loading `yaml` gives, from just after the file's name (so it starts with ":LINE:COL: KEY"
// or " (--set KEY)"); checks that the message names the file, and fails the test when nothing is thrown.
inline std::string load_error(const std::string& yaml, std::vector<std::string> overrides = {}) {
  TempDir dir;
  const std::string file = dir.write("x.yaml", yaml);
  experiment::LoadOptions o;
  o.overrides = std::move(overrides);
  try {
    experiment::load_experiment(file, catalog(), o);
  } catch (const core::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(file) != std::string::npos);
    return msg.substr(msg.find(file) + file.size());
  }
  FAIL("expected an InputError");
  return "";
}

}  // namespace greenfleet::test
