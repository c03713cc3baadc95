#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/catalog/catalog.hpp"
#include "sim/core/engine.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "sim/energy/ledger.hpp"
#include "sim/experiment/experiment.hpp"
#include "sim/metrics/request_metrics.hpp"
#include "sim/network/flows.hpp"
#include "sim/routing/mode_router.hpp"
#include "sim/routing/router.hpp"
#include "sim/runner/kv_handoff.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/provisioner.hpp"
#include "sim/workload/request.hpp"
#include "sim/workload/transforms.hpp"

namespace greenfleet::runner {

struct ServerInfo {
  std::int32_t id = 0;
  std::int32_t site = 0;
  std::string sku;
  std::string deployment;
  bool powered = true;
  bool gpu_embodied_sunk = false;
  core::SimTime gpu_amortisation = 0;  // the span the GPUs' embodied carbon is spread over (fleet[] lifetimes)
  core::SimTime host_lifetime = 0;
  double gpu_card_kg = 0;  // embodied carbon of one GPU card, whole life (by carbon.gpu_method)
  double host_kg = 0;      // embodied carbon of the host, whole life
  std::string host;        // host configuration: default | reduced | custom (fleet[].host)
  double host_dram_gb = 0, host_ssd_gb = 0;
};

struct Progress {
  core::SimTime now = 0;
  std::uint64_t arrived = 0;
  std::uint64_t finished = 0;
  double wall_seconds = 0;
};

// The memory budget rule (docs/ROBUSTNESS.md): tables whose size follows the configuration are checked against
// a budget before anything is built, instead of failing with std::bad_alloc late in a long run.
inline constexpr double kDefaultMemoryBudgetGib = 8;
// Per-instance scheduler tables and batch-size histograms grow with instances x max_num_seqs; the carbon
// ledger's /timeseries tables with servers x slots (checked here when a horizon bounds the run, and while the
// run grows them otherwise: Simulation::limit_memory). Throws core::InputError with the size, the budget and
// the key to change when one of them exceeds `budget_bytes`.
void check_memory(const experiment::Experiment& x, const catalog::Catalog& catalog, std::uint64_t budget_bytes);

// Builds the fleet, instances, router and workload of one experiment on an engine and runs it. Observers
// (metrics, the carbon ledger, writers) are attached before run(). The simulation keeps no reference to the
// experiment or the catalog: what it needs while running is copied or built when it is constructed, so
// simulations of one experiment can run side by side and the experiment may go away.
class Simulation {
 public:
  Simulation(const experiment::Experiment& experiment, const catalog::Catalog& catalog);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  void add_observer(serving::ServingObserver* observer) { observers_.add(observer); }
  // Stops the run with a core::InputError naming the key to change before the /timeseries tables (carbon.slot)
  // or the requests held at once (a fleet that cannot keep up with the workload) outgrow `budget_bytes`.
  void limit_memory(std::uint64_t budget_bytes, std::string slot_where = "carbon.slot") {
    ledger_->limit_slot_tables(budget_bytes, std::move(slot_where));
    memory_budget_ = budget_bytes;
  }
  // Runs to completion. `heartbeat` is called about every 64k events; it may throw to abort the run.
  void run(const std::function<void(const Progress&)>& heartbeat = {});

  const std::vector<std::unique_ptr<serving::Instance>>& instances() const { return instances_; }
  const std::vector<ServerInfo>& servers() const { return servers_; }
  const metrics::RequestMetrics& metrics() const { return metrics_; }
  const core::Engine& engine() const { return engine_; }
  const energy::CarbonLedger& ledger() const { return *ledger_; }
  energy::CarbonLedger& ledger() { return *ledger_; }  // book_transfer, from a transfer's sink
  const std::vector<energy::CarbonSignal>& signals() const { return signals_; }
  std::uint64_t ci_rows_skipped() const { return ci_rows_skipped_; }
  const serving::Provisioner* provisioner() const { return provisioner_.get(); }
  // The topology and KV-transfer flows (experiments with a `network:` section; nullptr otherwise).
  network::Network* network() { return network_.get(); }
  const network::Network* network() const { return network_.get(); }
  std::uint64_t arrived() const { return feeder_.arrived; }
  // Requests of offline classes that a plan splits, sent to their CPU instances (ClassSplit).
  std::uint64_t cpu_routed() const { return cpu_routed_; }
  std::uint64_t deferrals() const { return deferrals_.deferred; }
  // Requests the mode router split, and those no decode instance could hold (not split: they ran whole where
  // their first instance could hold them, and were rejected where it could not).
  std::uint64_t split_requests() const { return split_; }
  std::uint64_t too_long_to_split() const { return too_long_to_split_; }
  // Requests too long for their instance's draft instance (its model's context or KV cache): never speculative.
  std::uint64_t too_long_to_draft() const { return too_long_to_draft_; }
  // Mode decisions of requests whose deployment allows modes: unified, disaggregated, speculative, and how many of
  // them fell back to unified because no mode was predicted to meet the SLO.
  std::uint64_t mode_decisions(serving::RequestMode m) const { return mode_counts_[static_cast<std::size_t>(m)]; }
  std::uint64_t slo_fallbacks() const { return slo_fallbacks_; }
  const KvHandoff* handoff() const { return handoff_.get(); }
  // Whether some deployment lets its requests run speculatively.
  bool speculative() const { return !speculations_.empty(); }
  std::uint64_t skipped_rows() const { return source_ ? source_->skipped_rows() : 0; }
  // Requests that no workload class selects (left out of the run); 0 without classes.
  std::uint64_t unclassified() const { return classified_ ? classified_->unclassified() : 0; }
  core::SimTime end_time() const { return end_time_; }
  std::uint64_t peak_in_flight() const { return pool_.capacity(); }

 private:
  // Ends the run once the workload is exhausted and every request has been reported, so timers that outlive
  // the work (a provisioner's idle checks) do not stretch the run.
  void stop_if_drained(std::size_t still_live);

  // Fans each signal out to the observers that handle it, in attachment order.
  class Observers final : public serving::ServingObserver {
   public:
    void add(serving::ServingObserver* o) {
      if (o->signals() & kSteps) steps_.push_back(o);
      if (o->signals() & kDecodeSpans) spans_.push_back(o);
      if (o->signals() & kRequests) requests_.push_back(o);
    }
    void on_step(const serving::Instance& in, const serving::StepRecord& step) override {
      for (auto* o : steps_) o->on_step(in, step);
    }
    void on_decode_begin(const serving::Instance& in, std::uint32_t slot) override {
      for (auto* o : spans_) o->on_decode_begin(in, slot);
    }
    void on_decode_end(const serving::Instance& in, std::uint32_t slot) override {
      for (auto* o : spans_) o->on_decode_end(in, slot);
    }
    void on_verify_begin(const serving::Instance& in, std::uint32_t slot) override {
      for (auto* o : spans_) o->on_verify_begin(in, slot);
    }
    void on_verify_end(const serving::Instance& in, std::uint32_t slot) override {
      for (auto* o : spans_) o->on_verify_end(in, slot);
    }
    void on_request_begin(std::uint32_t slot, const serving::RequestState& r) override {
      for (auto* o : requests_) o->on_request_begin(slot, r);
    }
    void on_request_done(std::uint32_t slot, const serving::RequestState& r) override {
      for (auto* o : requests_) o->on_request_done(slot, r);
      if (sim) sim->stop_if_drained(1);  // `r` is released right after this
    }
    Simulation* sim = nullptr;

   private:
    std::vector<serving::ServingObserver*> steps_, spans_, requests_;
  };

  // Routes a request that has arrived (or whose deferral is over): joins an instance, is deferred or rejected.
  void route(std::uint32_t slot);
  // A split class's arrival: which side of the split it goes to (ClassSplit).
  void choose_side(std::uint32_t slot, const serving::RequestState& r);
  // route()'s body, defined inline in simulation.cpp so that the arrival (the hot path) has its common case in
  // line.
  void route(std::uint32_t slot, serving::RequestState& r);
  void reject(std::uint32_t slot) { report(slot, serving::RequestStatus::kRejected); }
  // Reports a request that no instance holds (rejected, or deferred past the end of the run) and frees its slot.
  void report(std::uint32_t slot, serving::RequestStatus status);
  struct DeploymentRoute;
  // The rest of route(): a deployment without instances, or whose requests may split or run speculatively.
  [[gnu::noinline]] void route_with_modes(std::uint32_t slot, serving::RequestState& r, DeploymentRoute& route);
  // A router's decision other than joining an instance: defer the request or reject it.
  void settle(std::uint32_t slot, const routing::Decision& d);

  // Requests a router deferred, each routed again at the time it named (one plain event per deferral). Those still
  // waiting when a horizon stops the clock (drain: false) are reported unfinished with the instances' requests.
  class Deferrals final : public core::EventHandler {
   public:
    Simulation* sim = nullptr;
    std::uint16_t kind = 0;
    std::uint64_t deferred = 0;         // deferrals so far
    std::vector<std::uint8_t> waiting;  // by request slot: deferred, not yet routed again
    std::size_t waiting_count = 0;
    void on_event(const core::Event& e) override {
      waiting[e.target] = 0;
      --waiting_count;
      sim->route(e.target);
    }
  };

  // Keeps exactly one future arrival in the event queue, pulled from the streamed source.
  class Feeder final : public core::EventHandler {
   public:
    Simulation* sim = nullptr;
    std::uint16_t kind = 0;
    std::uint64_t arrived = 0;
    bool exhausted = false;  // no more arrivals will come
    workload::RequestSpec pending;
    void schedule_next();
    void on_event(const core::Event& e) override;
  };

  // The settings read while running (the rest is used only while building).
  struct RunSettings {
    std::uint64_t max_requests = 0;  // 0: all
    std::optional<core::SimTime> horizon;
    bool drain = true;
  };

  const RunSettings settings_;
  core::Engine engine_;
  serving::RequestPool pool_;
  std::uint64_t memory_budget_ = 0;  // 0: none
  Observers observers_;
  metrics::RequestMetrics metrics_;
  std::vector<std::unique_ptr<perf::PerfModel>> perf_models_;
  std::vector<std::unique_ptr<serving::Instance>> instances_;
  // One per server whose GPU instances share the host with CPU instances (interference while they step).
  std::vector<std::unique_ptr<serving::HostCpuLoad>> host_loads_;
  // One router per deployment that receives requests (each workload class's), over that deployment's
  // instances: routers keep index state for the instance set they are handed. Built from the one `router:`.
  // With modes, a deployment that lets its requests split also names the route of its decode pool.
  static constexpr std::size_t kNoRoute = SIZE_MAX;
  struct DeploymentRoute {
    std::string deployment;
    std::unique_ptr<routing::Router> router;
    std::vector<serving::Instance*> instances;   // none: its requests are rejected
    std::vector<const serving::Instance*> view;  // the same, as routers see them
    std::int64_t max_tokens = 0;                 // the longest request (prompt + output) one instance holds
    std::size_t decode = kNoRoute;               // its decode pool's route
    routing::ModeOptions options;                // what its mode router chooses among
    bool plain = false;  // instances, no decode pool, not speculative: the router's choice is final
  };
  std::vector<DeploymentRoute> routes_;
  std::vector<std::size_t> class_route_;  // workload class -> index into routes_
  // Offline classes a plan splits between CPU instances and GPUs (`--plan`; docs/PLANNING.md, "Executing a
  // plan"): per workload class, the route of its CPU instances and the share of its requests they get. The n-th
  // arrival of the class goes to them when floor(n x share) > floor((n - 1) x share), decided once at arrival.
  struct ClassSplit {
    std::size_t cpu_route = 0;
    double share = 0;  // 0: the class is not split
    std::uint64_t arrived = 0;
  };
  std::vector<ClassSplit> class_split_;  // empty: no class is split
  std::vector<std::uint8_t> to_cpu_;     // by request slot: the arrival's side of its class's split
  std::uint64_t cpu_routed_ = 0;         // requests sent to a split class's CPU instances
  std::unique_ptr<routing::ModeRouter> mode_router_;
  std::unique_ptr<KvHandoff> handoff_;  // when some deployment lets its requests split
  std::uint64_t split_ = 0, too_long_to_split_ = 0, too_long_to_draft_ = 0;
  std::uint64_t mode_counts_[3] = {0, 0, 0};  // by serving::RequestMode
  std::vector<std::unique_ptr<serving::Speculation>>
      speculations_;  // one per instance of a speculative deployment
  std::uint64_t slo_fallbacks_ = 0;
  std::vector<ServerInfo> servers_;
  std::vector<energy::CarbonSignal> signals_;  // per site
  std::uint64_t ci_rows_skipped_ = 0;
  std::unique_ptr<energy::CarbonLedger> ledger_;
  std::unique_ptr<serving::Provisioner> provisioner_;
  std::unique_ptr<network::Network> network_;
  std::unique_ptr<routing::RoutingContext> routing_context_;
  Deferrals deferrals_;
  std::unique_ptr<workload::RequestSource> source_;
  const workload::ClassifiedSource* classified_ = nullptr;  // inside source_, when classes are configured
  Feeder feeder_;
  core::SimTime end_time_ = 0;
};

}  // namespace greenfleet::runner
