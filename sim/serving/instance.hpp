#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/ring_queue.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/serving/handoff.hpp"
#include "sim/serving/observer.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::serving {

class Provisioner;

enum class KvAllocation { kOnDemand, kReserve };
enum class PreemptionMode { kRecompute, kSwap };

struct SchedulerConfig {
  std::int32_t max_num_seqs = 256;
  std::int32_t max_batched_tokens = 2048;  // token budget per step
  bool chunked_prefill = true;
  std::int32_t kv_block_size = 16;
  // on_demand (vLLM): blocks for the prefill at admission, one more whenever a sequence crosses a block
  // boundary, preempting the newest request when the cache is full. reserve: prompt + output blocks at
  // admission, never preempts.
  KvAllocation kv_allocation = KvAllocation::kOnDemand;
  PreemptionMode preemption = PreemptionMode::kRecompute;
  double swap_bandwidth_gbps = 25;  // GB/s host<->device for swap preemption (PCIe Gen4 x16, achieved)
  double swap_space_gb = 4;         // host memory for swapped KV per instance device (vLLM's default 4 GiB)
  double kv_bytes_per_token = 0;    // set from the model when the instance is built
  bool fast_forward = true;
  bool check_invariants = false;  // verify block and token accounting at every step (tests, debugging)
};

// Where an instance runs: enough for routers, reports and energy and carbon accounting.
struct Placement {
  std::int32_t server = -1;
  std::int32_t site = -1;
  std::int32_t first_device = 0;  // index of its first GPU within the server
  std::int32_t devices = 1;       // tensor-parallel degree
};

struct InstanceStats {
  std::uint64_t steps = 0;       // scheduler steps (a fast-forwarded run counts once)
  std::uint64_t iterations = 0;  // model iterations
  std::uint64_t prefill_tokens = 0;
  std::uint64_t decode_tokens = 0;
  core::SimTime busy_time = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t preemptions = 0;
  std::uint64_t handed_off = 0;  // requests a prefill instance handed on after their first token
  std::vector<std::uint64_t> batch_size_iterations;  // [b] = iterations that ran with b sequences
};

// One model replica: a continuous-batching scheduler (vLLM / Sarathi style) over a paged KV cache, driving the
// perf model one step at a time. Decode-only steps that cannot change until the next completion or the next
// KV block shortage are folded into one event (exact fast-forward), cut short when an arrival could join. A
// step that finishes every prefill it holds, with nobody waiting, is followed by exactly such a run: the two
// share one event (a step with a head; see fold_run()).
class Instance final : public core::EventHandler {
 public:
  Instance(std::int32_t id, Placement placement, SchedulerConfig config, std::int64_t kv_blocks,
           std::int32_t max_context, const perf::PerfModel* model, core::Engine* engine, RequestPool* pool,
           ServingObserver* observer);

  // Takes ownership of the pool slot: queues the request, or reports it rejected if it can never fit.
  void enqueue(std::uint32_t slot);
  // Takes a request handed over by another instance mid-life (its prefill done, its KV arriving with it): it
  // queues as a decode that needs blocks for its KV and the next token, and is never prefilled again unless a
  // preemption drops its KV.
  void accept(std::uint32_t slot);
  // Unified by default. A prefill instance hands each request on to `sink` once its first token is out.
  void set_role(InstanceRole role, HandoffSink* sink = nullptr);
  InstanceRole role() const { return role_; }
  // Bytes of the KV a request holds (what a hand-off transfers).
  double kv_bytes(const RequestState& r) const { return r.kv_tokens() * config_.kv_bytes_per_token; }
  void on_event(const core::Event& e) override;

  // At the end of a run that did not drain: books the step in flight up to `end` and reports every request
  // still held as unfinished.
  void abandon_all(core::SimTime end);
  // Verifies the KV and token bookkeeping; throws std::logic_error on a violation (engine.check_invariants).
  void check_invariants() const;

  // Power gating by a provisioner: while off, requests queue and nothing runs.
  void attach_power(Provisioner* provisioner, std::size_t server, bool on) {
    provisioner_ = provisioner;
    power_server_ = server;
    powered_ = on;
  }
  void power_on();
  void power_off() { powered_ = false; }
  bool powered() const { return powered_; }

  std::int32_t id() const { return id_; }
  const Placement& placement() const { return placement_; }
  const SchedulerConfig& config() const { return config_; }
  const InstanceStats& stats() const { return stats_; }
  const perf::PerfModel& perf_model() const { return *model_; }
  std::int64_t kv_blocks_total() const { return kv_blocks_total_; }
  bool busy() const { return busy_; }
  std::size_t queued() const { return waiting_[0].size() + waiting_[1].size(); }
  std::size_t running() const { return running_.size(); }
  // Load signals for routers. Exact at any instant, also inside a fast-forwarded run, so routing decisions are
  // the same with and without fast-forward.
  std::int64_t outstanding_tokens() const;  // prefill and output tokens still to process
  std::int64_t kv_blocks_free() const;
  double kv_usage() const {
    return kv_blocks_total_ ? 1.0 - static_cast<double>(kv_blocks_free()) / kv_blocks_total_ : 1.0;
  }

 private:
  using Entry = BatchEntry;

  std::int64_t blocks_for(std::int64_t tokens) const {
    // Block sizes are powers of two in practice (vLLM: 16); a shift keeps a division off the per-step path.
    if (block_shift_ >= 0) return (tokens + config_.kv_block_size - 1) >> block_shift_;
    return (tokens + config_.kv_block_size - 1) / config_.kv_block_size;
  }
  std::int64_t admission_blocks(const RequestState& r) const;
  // Prefill and output tokens this instance will still process for `r` (a prefill instance: only the first
  // output token).
  std::int64_t tokens_left_here(const RequestState& r) const {
    const std::int64_t output = r.spec.output_tokens - r.generated;
    return (r.prefill_target - r.prefilled) +
           (role_ == InstanceRole::kPrefill ? std::min<std::int64_t>(1, output) : output);
  }
  // A prefill instance's request whose first token is out leaves here for the hand-off sink.
  bool leaves_here(const RequestState& r) const {
    return role_ == InstanceRole::kPrefill && r.prefill_done() && r.generated < r.spec.output_tokens;
  }
  void hand_off(std::uint32_t slot);
  // Blocks a decode entry holds after `iterations` iterations of its run (on-demand allocation).
  std::int32_t run_blocks(const Entry& e, std::int64_t iterations) const {
    return static_cast<std::int32_t>(
        std::max<std::int64_t>(e.blocks_before, blocks_for(e.kv_tokens_before + iterations)));
  }
  // Hands a step over [start, end) to the observer.
  void report_step(core::SimTime start, core::SimTime end, const perf::BatchShape& shape,
                   const std::vector<Entry>& entries, std::int64_t iterations, double busy_seconds,
                   double prefill_share);
  // Books a step's (or a run's, `run`) tokens into its requests, the first token of a finished prefill at `now`.
  // Returns whether any request is complete.
  bool apply_entries(const std::vector<Entry>& entries, std::int64_t iterations, core::SimTime now, bool run);
  // After the mixed step just formed (batch_, step_cost_), plans the decode run that would start when it ends,
  // when nothing can change there, and makes the step its head. Returns false, changing nothing, otherwise.
  bool fold_run();
  // Adds the step from step_start_ to `end` (`iterations` of a batch of `batch`) to the statistics.
  void count_step(core::SimTime end, std::int64_t iterations, std::size_t batch);
  // The devices' busy time from step_start_ to `end`: in a run of `iterations` iterations, all of it but their
  // overheads; in a single step, its busy part (all of it unless `end` comes first).
  double busy_seconds_to(core::SimTime end, std::int64_t iterations) const;
  // Books the head of the step in flight (its end, run_start_, has passed), leaving the run as the step.
  void finish_head();
  // Plans a fast-forwarded run of the decode entries in batch_ from run_free_start_ free blocks: to the first
  // completion (`min_remaining` iterations) or the last iteration the cache holds. Takes its blocks.
  std::int64_t plan_run(std::int64_t min_remaining);
  RequestState* front_waiting(int* cls = nullptr);
  bool admissible(const RequestState& r, std::int64_t free_blocks, std::int64_t budget, bool batch_empty) const;
  void preempt_one();
  void start_step();
  void finish_step();
  void finish_request(std::uint32_t slot, RequestStatus status);
  void begin_decode(std::uint32_t slot, RequestState& r) {
    r.decoding = true;
    if (observer_) observer_->on_decode_begin(*this, slot);
  }
  void end_decode(std::uint32_t slot, RequestState& r) {
    if (!r.decoding) return;
    r.decoding = false;
    if (observer_) observer_->on_decode_end(*this, slot);
  }
  // Extra blocks the decode entries need to run `iterations` more iterations (on-demand allocation), and in
  // *one_fewer those for one iteration fewer (computed in the same pass).
  std::int64_t run_extra_blocks(std::int64_t iterations, std::int64_t* one_fewer = nullptr) const;
  // Takes the blocks the decode entries need for `iterations` iterations from the free count; each request's
  // own count is brought up to date when the step finishes (finish_step), so a run touches its requests once.
  void set_run_blocks(std::int64_t iterations);
  std::int64_t completed_iterations_at(core::SimTime t) const;
  core::SimTime run_boundary(std::int64_t j) const;

  std::int32_t id_;
  Placement placement_;
  SchedulerConfig config_;
  std::int64_t kv_blocks_total_;
  std::int64_t kv_blocks_free_;
  int block_shift_ = -1;
  std::int32_t max_context_;
  const perf::PerfModel* model_;
  core::Engine* engine_;
  RequestPool* pool_;
  ServingObserver* observer_;
  std::uint16_t kind_;

  core::RingQueue<std::uint32_t> waiting_[2];  // [online, offline]: online requests are admitted first
  std::vector<std::uint32_t> running_;         // admission order
  std::vector<std::uint32_t> prefilling_;      // scratch for start_step
  std::vector<Entry> batch_;                   // the step's entries; with a head, the run's
  perf::BatchShape shape_;
  perf::DecodeCost run_cost_;  // decode cost of the current fast-forwarded run
  bool ff_run_ = false;        // the current step is (or ends with) a decode run priced by run_cost_
  perf::StepCost step_cost_;   // the current single step's cost, or its head's
  // A step with a head: a mixed step over [step_start_, run_start_) and then the run (see fold_run()).
  bool has_head_ = false;
  std::vector<Entry> head_batch_;
  perf::BatchShape head_shape_;
  bool busy_ = false;
  core::SimTime step_start_ = 0;
  core::SimTime run_start_ = 0;  // where the decode run starts: step_start_ unless the step has a head
  double step_extra_s_ = 0;      // swap transfers added to this step
  // Reference mode: the decode-only steps since the last batch change, timed as the run fast-forward would fold
  // them into (start_step).
  bool stepped_run_ = false;
  core::SimTime stepped_run_start_ = 0, stepped_run_end_ = 0;
  double stepped_run_seconds_ = 0;
  std::int64_t run_iterations_ = 1;  // of the run when ff_run_ (0: a head cut before its run), else 1
  std::int64_t run_free_start_ = 0;  // free blocks before the run's allocations
  std::int64_t outstanding_tokens_ = 0;
  double swap_used_bytes_ = 0;
  InstanceStats stats_;
  Provisioner* provisioner_ = nullptr;
  std::size_t power_server_ = 0;
  bool powered_ = true;
  InstanceRole role_ = InstanceRole::kUnified;
  HandoffSink* handoff_ = nullptr;
};

}  // namespace greenfleet::serving
