// Workload classes (workload.classes): selection by share, trace, column and length bins; routing of each
// class to its deployment; per-class metrics and attainment.
#include <doctest/doctest.h>

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "experiment_text.hpp"
#include "sim/core/error.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/runner/simulation.hpp"
#include "sim/workload/burstgpt_csv.hpp"
#include "sim/workload/transforms.hpp"
#include "test_support.hpp"

using namespace greenfleet;

namespace {

using test::load_error;

// A fixed list of requests as a source.
class ListSource final : public workload::RequestSource {
 public:
  explicit ListSource(std::vector<workload::RequestSpec> items) : items_(std::move(items)) {}
  bool next(workload::RequestSpec& out) override {
    if (i_ >= items_.size()) return false;
    out = items_[i_++];
    return true;
  }

 private:
  std::vector<workload::RequestSpec> items_;
  std::size_t i_ = 0;
};

workload::RequestSpec req(core::SimTime arrival, std::int32_t prompt, std::uint64_t id = 0) {
  workload::RequestSpec s;
  s.id = id, s.arrival = arrival, s.prompt_tokens = prompt, s.output_tokens = 4;
  return s;
}

std::vector<workload::RequestSpec> drain(workload::RequestSource& s) {
  std::vector<workload::RequestSpec> out;
  workload::RequestSpec r;
  while (s.next(r)) out.push_back(r);
  return out;
}

std::unique_ptr<ListSource> many(int n) {
  std::vector<workload::RequestSpec> v;
  for (int i = 0; i < n; ++i) v.push_back(req(i * core::kMillisecond, 100));
  return std::make_unique<ListSource>(std::move(v));
}

workload::ClassRule rule(double share = 0, std::string column = "", std::int32_t min = 0,
                         std::int32_t max = std::numeric_limits<std::int32_t>::max()) {
  workload::ClassRule r;
  r.share = share, r.column_value = std::move(column), r.min_prompt = min, r.max_prompt = max;
  return r;
}

workload::ClassSpec shares(std::vector<double> s) {
  workload::ClassSpec spec;
  spec.selector = workload::ClassSelector::kShare;
  for (double x : s) spec.classes.push_back(rule(x));
  return spec;
}

// Two deployments of one model; classes and fleet entries are filled in by each test.
const std::string kHead = test::experiment_head("c", 5) +
                          "deployments: [{name: a, model: llama-3.1-8b}, {name: b, model: llama-3.1-8b}]\n";
const std::string kSynthetic =
    "  source: synthetic\n"
    "  synthetic: {requests: 400, rate: 20, prompt_tokens: {distribution: uniform, min: 10, max: 2000}, "
    "output_tokens: {distribution: constant, value: 20}}\n";

// Records every finished request.
struct Done : serving::ServingObserver {
  std::vector<serving::RequestState> done;
  void on_request_done(std::uint32_t, const serving::RequestState& r) override { done.push_back(r); }
};

}  // namespace

TEST_CASE("classes by share: a seeded draw per request, reproducible, in proportion to the shares") {
  const auto run = [](std::uint64_t seed) {
    workload::ClassifiedSource s(many(20000), shares({0.2, 0.5, 0.3}), seed);
    return drain(s);
  };
  const auto a = run(7), b = run(7), c = run(8);
  REQUIRE(a.size() == 20000);
  int counts[3] = {0, 0, 0};
  bool same = true, differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++counts[a[i].workload_class];
    same = same && a[i].workload_class == b[i].workload_class;
    differs = differs || a[i].workload_class != c[i].workload_class;
    CHECK(a[i].id == i);
  }
  CHECK(same);
  CHECK(differs);
  // Binomial standard deviations are about 0.3% of 20,000; allow five of them.
  CHECK(counts[0] / 20000.0 == doctest::Approx(0.2).epsilon(0.08));
  CHECK(counts[1] / 20000.0 == doctest::Approx(0.5).epsilon(0.03));
  CHECK(counts[2] / 20000.0 == doctest::Approx(0.3).epsilon(0.05));
  // A share of 0 never draws a request.
  workload::ClassifiedSource z(many(1000), shares({0.0, 1.0}), 3);
  for (const auto& r : drain(z)) CHECK(r.workload_class == 1);
}

TEST_CASE("classes by length bins: prompt ranges [min, max); requests in no bin are left out and counted") {
  workload::ClassSpec spec;
  spec.selector = workload::ClassSelector::kLengthBins;
  spec.classes.push_back(rule(0, "", 0, 100));
  spec.classes.push_back(rule(0, "", 100, 1000));
  spec.classes.back().kind = workload::RequestClass::kOffline;
  spec.classes.back().deadline = core::kHour;
  std::vector<workload::RequestSpec> v = {req(0, 99), req(5, 100), req(9, 999), req(12, 1000), req(20, 1)};
  workload::ClassifiedSource s(std::make_unique<ListSource>(v), spec, 1);
  const auto out = drain(s);
  REQUIRE(out.size() == 4);
  CHECK(out[0].workload_class == 0);
  CHECK(out[0].cls == workload::RequestClass::kOnline);
  CHECK(out[0].deadline == -1);
  CHECK(out[1].workload_class == 1);
  CHECK(out[1].cls == workload::RequestClass::kOffline);
  CHECK(out[1].deadline == 5 + core::kHour);  // relative to arrival
  CHECK(out[2].workload_class == 1);
  CHECK(out[3].workload_class == 0);
  CHECK(out[3].arrival == 20);
  CHECK(out[3].id == 3);  // renumbered over the requests kept
  CHECK(s.unclassified() == 1);
}

TEST_CASE("classes by column: BurstGPT's Model column; values no class names are left out") {
  test::TempDir dir;
  const auto f = dir.write("b.csv",
                           "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                           "5,ChatGPT,472,18,490,Conversation log\n"
                           "6,GPT-4,1000,100,1100,Conversation log\n"
                           "7,Claude,10,10,20,API log\n"
                           "9,ChatGPT,20,30,50,API log\n");
  auto src = std::make_unique<workload::BurstGptCsvSource>(f, text::BadRowPolicy::kError, "");
  CHECK_FALSE(src->select_column("Modle"));
  REQUIRE(src->select_column("Model"));
  workload::ClassSpec spec;
  spec.selector = workload::ClassSelector::kColumn;
  spec.column = "Model";
  spec.classes.push_back(rule(0, "GPT-4"));
  spec.classes.push_back(rule(0, "ChatGPT"));
  workload::ClassifiedSource s(
      std::make_unique<workload::TransformedSource>(std::move(src), workload::TransformSpec{}, 1), spec, 1);
  const auto out = drain(s);
  REQUIRE(out.size() == 3);
  CHECK(out[0].workload_class == 1);
  CHECK(out[0].prompt_tokens == 472);
  CHECK(out[1].workload_class == 0);
  CHECK(out[2].workload_class == 1);
  CHECK(out[2].arrival == 4 * core::kSecond);
  CHECK(s.unclassified() == 1);
}

TEST_CASE("classes by trace: sources merged in arrival order, each its own class, ties to the first") {
  std::vector<std::unique_ptr<workload::RequestSource>> sources;
  sources.push_back(
      std::make_unique<ListSource>(std::vector<workload::RequestSpec>{req(0, 1), req(10, 2), req(30, 3)}));
  sources.push_back(
      std::make_unique<ListSource>(std::vector<workload::RequestSpec>{req(5, 4), req(10, 5), req(40, 6)}));
  sources.push_back(std::make_unique<ListSource>(std::vector<workload::RequestSpec>{}));
  workload::MergedSource merged(std::move(sources));
  const auto out = drain(merged);
  REQUIRE(out.size() == 6);
  const std::int32_t prompts[] = {1, 4, 2, 5, 3, 6};
  const std::uint16_t classes[] = {0, 1, 0, 1, 0, 1};
  for (std::size_t i = 0; i < out.size(); ++i) {
    CHECK(out[i].prompt_tokens == prompts[i]);
    CHECK(out[i].workload_class == classes[i]);
    CHECK(out[i].id == i);
    if (i) CHECK(out[i].arrival >= out[i - 1].arrival);
  }
}

TEST_CASE("each class's requests go to its own deployment's instances and are judged by its SLO") {
  // Class `tight` (TTFT 1 ns: never met) on deployment a, class `loose` (offline, 1 h deadline) on b.
  const std::string yaml = kHead +
                           "fleet: [{site: s, sku: pcie-l4x8, deployment: a}, {site: s, sku: pcie-l4x8, "
                           "count: 2, deployment: b}]\n"
                           "workload:\n" +
                           kSynthetic +
                           "  classes:\n"
                           "    - {name: tight, deployment: a, share: 0.4, slo: {ttft: 1ns, tpot: 1s}}\n"
                           "    - {name: loose, deployment: b, kind: offline, deadline: 1h, share: 0.6}\n"
                           "slo: {ttft: 10s, tpot: 1s}\n";
  const experiment::Experiment x = test::load_text(yaml);
  REQUIRE(x.workload.classes.size() == 2);
  CHECK(x.workload.classes[1].slo.ttft == 10 * core::kSecond);  // from `slo`
  runner::Simulation sim(x, test::catalog());
  Done done;
  sim.add_observer(&done);
  sim.run();
  REQUIRE(done.done.size() == 400);
  // Instances 0-7 are on the first server (deployment a), 8-23 on the two servers of b.
  std::uint64_t arrived[2] = {0, 0}, met[2] = {0, 0}, ttft_met[2] = {0, 0};
  for (const auto& r : done.done) {
    const int c = r.spec.workload_class;
    ++arrived[c];
    REQUIRE(r.status == serving::RequestStatus::kCompleted);
    CHECK((c == 0 ? r.instance < 8 : r.instance >= 8));
    CHECK(r.spec.cls == (c == 0 ? workload::RequestClass::kOnline : workload::RequestClass::kOffline));
    const core::SimTime ttft = r.first_token - r.spec.arrival;
    ttft_met[c] += ttft <= x.workload.classes[static_cast<std::size_t>(c)].slo.ttft ? 1 : 0;
    met[c] += c == 0 ? 0 : (r.completion <= r.spec.deadline ? 1 : 0);
  }
  const auto& m = sim.metrics();
  REQUIRE(m.per_class());
  CHECK(arrived[0] + arrived[1] == 400);
  CHECK(arrived[0] > 100);
  CHECK(arrived[1] > 180);
  for (int c = 0; c < 2; ++c) {
    const auto& k = m.classes()[static_cast<std::size_t>(c)];
    CHECK(k.arrived() == arrived[c]);
    CHECK(k.completed == arrived[c]);
    CHECK(k.ttft_met == ttft_met[c]);
    CHECK(k.slo_met == met[c]);
    CHECK(k.ttft.count() == arrived[c]);
  }
  CHECK(m.classes()[0].ttft_met == 0);  // nothing beats 1 ns
  CHECK(m.classes()[0].slo_met == 0);
  CHECK(m.classes()[1].slo_met == arrived[1]);  // light load: every deadline met
  CHECK(m.classes()[1].deadline_missed == 0);
  CHECK(m.classes()[1].ttft_met == arrived[1]);
  // The experiment-wide attainment counts each request against its own class's SLO.
  CHECK(m.slo_met() == met[0] + met[1]);
}

TEST_CASE("a class whose deployment has no servers: its requests are rejected and counted, the others run") {
  const std::string yaml = kHead +
                           "fleet: [{site: s, sku: pcie-l4x8, deployment: a}]\n"
                           "workload:\n" +
                           kSynthetic +
                           "  classes:\n"
                           "    - {name: served, deployment: a, length_bins: {max: 1000}}\n"
                           "    - {name: orphan, deployment: b, length_bins: {min: 1000}}\n";
  const experiment::Experiment x = test::load_text(yaml);
  runner::Simulation sim(x, test::catalog());
  sim.run();
  const auto& k = sim.metrics().classes();
  CHECK(k[0].completed == k[0].arrived());
  CHECK(k[0].rejected == 0);
  CHECK(k[1].rejected == k[1].arrived());
  CHECK(k[1].arrived() > 100);
  CHECK(sim.metrics().rejected() == k[1].rejected);
  CHECK(k[0].arrived() + k[1].arrived() == 400);
}

TEST_CASE("classes with their own synthetic traces draw different streams and merge in arrival order") {
  const std::string trace =
      "source: synthetic, synthetic: {requests: 50, rate: 5, prompt_tokens: {distribution: constant, value: "
      "PROMPT}, output_tokens: {distribution: constant, value: 8}}";
  auto with = [&](std::string p) {
    return trace.substr(0, trace.find("PROMPT")) + p + trace.substr(trace.find("PROMPT") + 6);
  };
  const std::string yaml = kHead + "fleet: [{site: s, sku: pcie-l4x8, deployment: a}]\nworkload:\n  classes:\n" +
                           "    - {name: x, trace: {" + with("100") + "}}\n" + "    - {name: y, trace: {" +
                           with("200") + "}}\n";
  const experiment::Experiment xp = test::load_text(yaml);
  CHECK(xp.workload.class_selector == workload::ClassSelector::kTrace);
  runner::Simulation sim(xp, test::catalog());
  Done done;
  sim.add_observer(&done);
  sim.run();
  REQUIRE(done.done.size() == 100);
  std::map<int, std::vector<core::SimTime>> arrivals;
  for (const auto& r : done.done) {
    CHECK(r.spec.prompt_tokens == (r.spec.workload_class == 0 ? 100 : 200));
    arrivals[r.spec.workload_class].push_back(r.spec.arrival);
  }
  REQUIRE(arrivals[0].size() == 50);
  REQUIRE(arrivals[1].size() == 50);
  CHECK(arrivals[0] != arrivals[1]);  // own streams, not one stream twice
}

TEST_CASE("bad workload classes are load errors with file:line and key") {
  const std::string fleet = "fleet: [{site: s, sku: pcie-l4x8, deployment: a}]\nworkload:\n" + kSynthetic;
  const auto err = [&](const std::string& classes) {
    return load_error(kHead + fleet + "  classes:\n" + classes);
  };
  CHECK(err("    - {name: p, share: 0.5}\n    - {name: q, share: 0.4}\n")
            .find(":10:5: workload.classes: the classes' shares sum to 0.9") != std::string::npos);
  CHECK(err("    - {name: p, share: 1, length_bins: {max: 5}}\n")
            .find("workload.classes[0].length_bins: a class has exactly one selector; this one already has "
                  "'share'") != std::string::npos);
  CHECK(err("    - {name: p, share: 1}\n    - {name: q, length_bins: {max: 5}}\n")
            .find(":11:30: workload.classes[1].length_bins: all classes use the same selector (classes[0] uses "
                  "'share')") != std::string::npos);
  CHECK(err("    - {name: p}\n").find(":10:7: workload.classes[0]: class 'p' needs a selector") !=
        std::string::npos);
  CHECK(err("    - {name: p, share: 0.5}\n    - {name: p, share: 0.5}\n")
            .find("workload.classes[1].name: duplicate class name 'p'") != std::string::npos);
  CHECK(err("    - {name: 'a b', share: 1}\n").find("workload.classes[0].name: 'a b': a class name is") !=
        std::string::npos);
  CHECK(err("    - {name: p, share: 1, deployment: bb}\n")
            .find("workload.classes[0].deployment: unknown deployment 'bb' (did you mean 'b'?)") !=
        std::string::npos);
  CHECK(err("    - {name: p, share: 1, deadline: 1h}\n")
            .find("workload.classes[0].deadline: applies to offline classes only") != std::string::npos);
  CHECK(err("    - {name: p, share: 1, slo: {ttft: 1s, tbot: 1s}}\n")
            .find("workload.classes[0].slo.tbot: unknown key (did you mean 'tpot'?)") != std::string::npos);
  CHECK(err("    - {name: p, share: 1, knd: offline}\n")
            .find("workload.classes[0].knd: unknown key (did you mean 'kind'?)") != std::string::npos);
  CHECK(err("    - {name: p, length_bins: {min: 0, max: 500}}\n    - {name: q, length_bins: {min: 400}}\n")
            .find("workload.classes[1].length_bins.min: [400, no max) overlaps class 'p''s bin") !=
        std::string::npos);
  CHECK(err("    - {name: p, length_bins: {min: 10, max: 10}}\n")
            .find("workload.classes[0].length_bins.max: must be above min") != std::string::npos);
  CHECK(err("    - {name: p, trace: {source: synthetic}}\n")
            .find("workload.classes[0].trace: classes with their own traces replace workload.source") !=
        std::string::npos);
  CHECK(err("    - {name: p, column: {name: Model, value: GPT-4}}\n")
            .find("workload.classes[0].column.name: the synthetic source has no column 'Model' to select classes "
                  "by") != std::string::npos);
  CHECK(err("    - {name: p, share: 1}\n  offline: {share: 0.5}\n")
            .find("workload.offline: is replaced by the classes' `kind` and `deadline`") != std::string::npos);
  CHECK(load_error(kHead + fleet + "  classes: []\n").find("workload.classes: needs at least one class") !=
        std::string::npos);
  // Without workload.source, every class needs its own trace.
  CHECK(load_error(kHead + "fleet: [{site: s, sku: pcie-l4x8, deployment: a}]\nworkload:\n  classes:\n"
                           "    - {name: p, share: 1}\n")
            .find("workload.classes[0].share: workload.source is missing") != std::string::npos);
}

TEST_CASE("BurstGPT column classes are checked against the trace's header at load") {
  test::TempDir dir;
  const auto f = dir.write("b.csv",
                           "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                           "5,ChatGPT,472,18,490,Conversation log\n");
  const std::string head = kHead + "fleet: [{site: s, sku: pcie-l4x8, deployment: a}]\nworkload:\n" +
                           "  source: burstgpt_csv\n  file: " + f + "\n  classes:\n";
  const experiment::Experiment x =
      test::load_text(head +
                      "    - {name: chat, column: {name: Log Type, value: Conversation log}}\n"
                      "    - {name: api, column: {name: Log Type, value: API log}}\n");
  CHECK(x.workload.class_column == "Log Type");
  CHECK(load_error(head + "    - {name: chat, column: {name: Kind, value: x}}\n")
            .find("workload.classes[0].column.name: the burstgpt_csv source has no column 'Kind' in its header") !=
        std::string::npos);
  CHECK(load_error(head + "    - {name: a, column: {name: Model, value: x}}\n"
                          "    - {name: b, column: {name: Log Type, value: y}}\n")
            .find("workload.classes[1].column.name: all classes name the same column") != std::string::npos);
  CHECK(load_error(head + "    - {name: a, column: {name: Model, value: x}}\n"
                          "    - {name: b, column: {name: Model, value: x}}\n")
            .find("workload.classes[1].column.value: another class already takes 'x'") != std::string::npos);
}
