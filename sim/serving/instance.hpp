#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/serving/batch_policy.hpp"
#include "sim/serving/handoff.hpp"
#include "sim/serving/host_load.hpp"
#include "sim/serving/kv_block_manager.hpp"
#include "sim/serving/load_listener.hpp"
#include "sim/serving/observer.hpp"
#include "sim/serving/power_state.hpp"
#include "sim/serving/request_state.hpp"
#include "sim/serving/scheduler_config.hpp"
#include "sim/serving/speculation.hpp"
#include "sim/serving/step_timer.hpp"

namespace greenfleet::serving {

class Provisioner;

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
  std::uint64_t handed_off = 0;     // requests a prefill instance handed on after their first token
  std::uint64_t verify_rounds = 0;  // speculative rounds verified here (a target instance)
  std::uint64_t verify_tokens = 0;  // tokens those rounds emitted
  std::vector<std::uint64_t> batch_size_iterations;  // [b] = iterations that ran with b sequences
};

// One model replica with a role, driving its perf model one step at a time. It composes parts with one job
// each: the batch policy (waiting queues, admission, chunking, whom to preempt), the KV block manager (blocks,
// eviction, swap space), the step timer (the step in flight, fast-forwarded runs, the reference clock) and the
// power state; what remains here is forming steps from them and booking their results. Decode-only steps that
// cannot change until the next completion or the next KV block shortage are folded into one event (exact
// fast-forward), cut short when an arrival could join. A step that finishes every prefill it holds, with nobody
// waiting, is followed by exactly such a run: the two share one event (a step with a head; see fold_run()).
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
  // Where requests that leave after their prefill (RequestState::leave_after_prefill, set per request by the
  // mode router) are handed, and whom a decode instance tells when it has reserved blocks for a request still
  // in transit. Any instance may run split requests beside whole ones: roles are per request.
  void set_handoff_sink(HandoffSink* sink) {
    handoff_ = sink;
    update_finish_kind();
  }
  // The KV of a request this instance handed on has left: the blocks it held for it are free again.
  void release_held(std::uint32_t slot);
  // The KV of a request this instance admitted (blocks reserved, on_kv_reserved) has arrived: it decodes from
  // the next iteration boundary on.
  void kv_arrived(std::uint32_t slot);
  InstanceRole role() const { return role_; }
  // Lets this instance serve speculative requests (RequestMode::kSpeculative) with `spec`'s draft instance, which
  // becomes a draft instance (it then runs nothing of its own). `spec` must outlive both.
  void set_speculation(const Speculation* spec);
  const Speculation* speculation() const { return spec_; }
  // Blocks a request's whole KV (its prompt and output) takes here: what a draft instance reserves for a
  // speculative request, and what a mode router checks a decode instance has free. And, draft side, the blocks
  // free for drafts now.
  std::int64_t whole_request_blocks(const RequestState& r) const {
    return kv_.blocks_for(static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens);
  }
  std::int64_t draft_blocks_free() const { return kv_.free(); }
  // Whether this instance can ever hold the request whole: its whole length within the model's context and the
  // KV cache (what a draft instance needs for a speculative request, and a decode instance for a split one).
  bool can_hold(const RequestState& r) const {
    return static_cast<std::int64_t>(r.spec.prompt_tokens) + r.spec.output_tokens <= max_context_ &&
           whole_request_blocks(r) <= kv_.total();
  }
  // Tokens each sequence emits per decode step: 1 for plain decoding; a known count > 1 (speculative decoding
  // under expected acceptance) makes a step write that many tokens' KV and a fast-forwarded run advance each
  // sequence by that many per iteration. The perf model still prices each step by its decode line at the
  // step's context; a verify step's own price comes with speculative decoding.
  void set_tokens_per_step(std::int32_t tokens);
  std::int32_t tokens_per_step() const { return tokens_per_step_; }
  // Bytes of the KV a request holds (what a hand-off transfers).
  double kv_bytes(const RequestState& r) const { return kv_.kv_bytes(r); }
  void on_event(const core::Event& e) override;

  // At the end of a run that did not drain: books the step in flight up to `end` and reports every request
  // still held as unfinished.
  [[gnu::cold]] void abandon_all(core::SimTime end);
  // A host shared with CPU instances (host_load.hpp). A CPU instance (`cpu_side`) reports to `host` when it
  // starts and stops stepping; a GPU instance prices each step it starts by `busy_model` while `host` is busy and
  // by its own model otherwise (`busy_model` must outlive it and have its decode costs prepared).
  void set_host_load(HostCpuLoad* host, bool cpu_side, const perf::PerfModel* busy_model = nullptr) {
    host_ = host;
    host_cpu_side_ = cpu_side;
    idle_model_ = model_;
    busy_model_ = busy_model ? busy_model : model_;
    update_finish_kind();
  }
  // The host's CPU instances started or stopped stepping: a fast-forwarded run is cut at its next iteration
  // boundary, where the next step is priced afresh (in both modes, like wake_for_change()).
  void host_load_changed();
  // Verifies the KV and token bookkeeping; throws std::logic_error on a violation (engine.check_invariants).
  [[gnu::cold]] void check_invariants() const;

  // Power gating by a provisioner: while off, requests queue and nothing runs.
  void attach_power(Provisioner* provisioner, std::size_t server, bool on) {
    power_.attach(provisioner, server, on);
  }
  void power_on();
  void power_off() {
    const LoadNotice notice{this};
    power_.set_on(false);
  }
  // A draining server's instances run what they hold but take no new work: routers see them as not powered.
  void set_draining(bool draining) {
    const LoadNotice notice{this};
    power_.set_draining(draining);
  }
  bool powered() const { return power_.accepting(); }

  std::int32_t id() const { return id_; }
  const Placement& placement() const { return placement_; }
  const SchedulerConfig& config() const { return config_; }
  const InstanceStats& stats() const { return stats_; }
  const perf::PerfModel& perf_model() const { return *model_; }
  std::int32_t max_context() const { return max_context_; }
  // Prompt tokens (or recomputed ones) still to prefill here, waiting or running: what a new prompt queues behind.
  std::int64_t pending_prefill_tokens() const { return pending_prefill_; }
  // Bytes of `tokens` tokens of KV of this instance's model.
  double kv_bytes_of(std::int64_t tokens) const {
    return static_cast<double>(tokens) * config_.kv_bytes_per_token;
  }
  std::int64_t kv_blocks_total() const { return kv_.total(); }
  bool busy() const { return timer_.busy; }
  // Whether it holds work: a step in flight, requests queued, running or admitted with their KV still in transit,
  // or the blocks of requests it handed on whose KV has not left yet. A provisioner powers a server off only when
  // none of its instances does.
  bool holds_work() const {
    return timer_.busy || policy_.queued() != 0 || seqs_held() != 0 || held_for_transfer_ != 0;
  }
  std::size_t queued() const { return policy_.queued(); }
  std::size_t running() const { return running_.size(); }
  // Load signals for routers. Exact at any instant, also inside a fast-forwarded run, so routing decisions are
  // the same with and without fast-forward.
  std::int64_t outstanding_tokens() const;  // prefill and output tokens still to process
  std::int64_t kv_blocks_free() const;
  double kv_usage() const { return kv_usage_of(kv_blocks_free()); }
  // kv_usage() with `free` blocks free: the one expression both that and routing indexes evaluate.
  double kv_usage_of(std::int64_t free) const {
    return kv_.total() ? 1.0 - static_cast<double>(free) / kv_.total() : 1.0;
  }
  // For routing indexes (sim/routing/load_index.hpp): the listener is told whenever the form of the load signals
  // changes; in between they only fall, at the run's iteration boundaries (load_window(), instance_load.cpp).
  void set_load_listener(LoadListener* listener) { load_listener_ = listener; }
  // `hint`: the window's `iteration` from an earlier call since the listener's last call (else -1), and its
  // `until` as `hint_until`.
  LoadWindow load_window(std::int64_t hint, core::SimTime hint_until = core::kTimeMax) const;
  // least_kv_usage's signals in one call (one count of the run's completed iterations, no bounds); the same
  // hint as load_window().
  KvWindow kv_window(std::int64_t hint, core::SimTime hint_until = core::kTimeMax) const;

 private:
  using Entry = BatchEntry;
  // kv_blocks_free() in the run in flight (its head passed) once `k` of its iterations are complete.
  std::int64_t free_in_run(std::int64_t k) const {
    return timer_.run_iterations <= 1 && !free_stale_ ? kv_.free() : run_free_start_ - run_extra_blocks(k + 1);
  }

  // Prefill and output tokens this instance will still process for `r` (a prefill instance: only the first
  // output token).
  std::int64_t tokens_left_here(const RequestState& r) const {
    const std::int64_t output = r.spec.output_tokens - r.generated;
    return (r.prefill_target - r.prefilled) + (r.leave_after_prefill ? std::min<std::int64_t>(1, output) : output);
  }
  // A split request whose first token is out leaves here for the hand-off sink.
  bool leaves_here(const RequestState& r) const {
    return r.leave_after_prefill && r.prefill_done() && r.generated < r.spec.output_tokens;
  }
  // Requests that hold blocks here and count against max_num_seqs: running, and admitted while their KV is in
  // transit or arrived and about to join.
  std::size_t seqs_held() const { return running_.size() + parked_.size() + ready_.size(); }
  // A speculative request not admitted yet whose draft instance has no room for its whole KV yet: it waits.
  bool waits_for_draft(const RequestState& r) const;
  // Separate prefill steps: whether the queues' head is a prompt that a prefill-only step would admit now.
  bool prompt_ready_alone() const;
  // Something outside this instance changed what its next step boundary decides (blocks freed, a KV arrived): the
  // next step starts afresh in both modes (stepping restarts its reference stretch; a fast-forwarded run is cut
  // at its next iteration boundary), which keeps the two modes' clocks identical.
  void wake_for_change();
  // Cuts a fast-forwarded run in flight at its next iteration boundary (nothing when it ends there anyway).
  void cut_run();
  // A step starts on an instance whose host has CPU instances: a CPU instance reports it, a GPU instance picks
  // the model the host's state prices it by.
  [[gnu::noinline]] void host_step_started();
  // A CPU instance's report to its host (host_load.hpp) when it starts or stops stepping (GPU instances: nothing).
  void note_host_busy(bool busy) {
    if (!host_cpu_side_ || busy == host_busy_) return;
    host_busy_ = busy;
    host_->cpu_busy_changed(busy, engine_->now());
  }
  void hand_off(std::uint32_t slot);
  // Calls the load listener when the enclosing call returns, on every path (the instance is settled by then).
  struct LoadNotice {
    const Instance* in;
    ~LoadNotice() {
      if (in->load_listener_) in->load_listener_->on_load_changed(*in);
    }
  };
  // Tokens each sequence emits per decode step, a constant 1 in the paths compiled for plain decoding.
  template <bool kMulti>
  std::int32_t step_tokens() const {
    return kMulti ? tokens_per_step_ : 1;
  }
  // Iterations a run takes to emit `tokens` tokens per sequence.
  template <bool kMulti>
  std::int64_t steps_to_emit(std::int64_t tokens) const {
    return kMulti ? (tokens + tokens_per_step_ - 1) / tokens_per_step_ : tokens;
  }
  // Hands a step over [start, end) to the observer, with the step in flight's verifying requests (none in a head),
  // which batch_ does not list: they are charged by accrual (StepRecord::verify_tokens).
  void report_step(core::SimTime start, core::SimTime end, const perf::BatchShape& shape,
                   const std::vector<Entry>& entries, std::int64_t iterations, double busy_seconds,
                   double prefill_share);
  // Books a step's (or a run's, `run`) tokens into its requests, the first token of a finished prefill at `now`.
  // Returns whether any request is complete (or, on a prefill instance, leaves).
  bool apply_entries(const std::vector<Entry>& entries, std::int64_t iterations, core::SimTime now, bool run);
  // kSettle: the entries are a run cut with its free count stale (defer_free(), `run` true): the pass that hands
  // its requests their blocks also sums what its iterations took and settles the count, as settle_free() would.
  template <bool kMulti, bool kSettle = false>
  bool apply_entries_impl(const std::vector<Entry>& entries, std::int64_t iterations, core::SimTime now, bool run);
  // After the mixed step just formed (batch_, the timer's step cost), plans the decode run that would start when
  // it ends, when nothing can change there, and makes the step its head. Returns false, changing nothing,
  // otherwise.
  template <bool kMulti>
  [[gnu::noinline]] bool fold_run();
  // Adds the step from the timer's step_start to `end` (`iterations` of a batch of `batch`) to the statistics.
  void count_step(core::SimTime end, std::int64_t iterations, std::size_t batch);
  // Books the head of the step in flight (its end, the run's start, has passed), leaving the run as the step.
  template <bool kMulti>
  void finish_head();
  // Plans a fast-forwarded run of the decode entries in batch_ from run_free_start_ free blocks: to the first
  // completion (`min_remaining` iterations) or the last iteration the cache holds. Takes its blocks. `extra`, when
  // not negative, is what run_extra_blocks_impl(min_remaining) would return, summed already.
  template <bool kMulti>
  std::int64_t plan_run(std::int64_t min_remaining, std::int64_t extra = -1);
  // A run cut short (nobody completes in it) whose batch is the running requests in admission order leaves its
  // tokens to the next step (continued_ iterations), which books them in the pass that lists the same requests
  // again; anything else that needs them booked first calls this.
  template <bool kMulti>
  [[gnu::noinline]] void book_continued();
  // A run cut at a boundary j > 0 leaves the free count at the run's planned end (a lower bound: a run's blocks
  // only grow) and marks it stale; the true count is kv_.free() + stale_extra_ less the blocks the j iterations
  // take (run_extra_blocks(j)). The next step's pass (list_continued()) sums those as it lists the run's requests,
  // and the step's end that books the run does as it hands them their blocks (apply_entries_impl<kMulti, true>);
  // every other reader settles it first with a walk over the run's entries `run` (settle_free()).
  void defer_free() {
    if (!free_stale_) stale_extra_ = run_free_start_ - kv_.free();
    free_stale_ = true;
  }
  [[gnu::noinline]] void settle_free(const std::vector<Entry>& run, std::int64_t iterations);
  // A continued run's pass (start_step_impl(), batch_ empty): books its continued_ iterations' tokens into each
  // of its requests (head_batch_, which are running_'s first ones, in order) and lists every running request as
  // a decode, as the step's usual pass would (blocks for its next tokens, the shape); lowers *min_remaining to
  // the least output left, and sets *steps to the iterations plan_run() is asked for if nobody else joins and
  // *extra to the blocks they take over those (plan_run()'s `extra`). Returns the budget taken.
  template <bool kMulti>
  [[gnu::noinline]] std::int64_t list_continued(std::int64_t* min_remaining, std::int64_t* steps,
                                                std::int64_t* extra);
  void preempt_one();
  void start_step();
  // kSpec: the instance verifies for a draft instance (spec_ set); the other instantiation folds the speculative
  // branches away.
  template <bool kMulti, bool kSpec>
  void start_step_impl();
  // kPlain: no draft to verify for, no hand-off sink (so nobody leaves after a prefill or waits for a KV) and no
  // shared host: the step's end carries none of their tests.
  template <bool kMulti, bool kPlain>
  void finish_step();
  // Which finish_step() a step end runs (on_event): bit 0 multi-token steps, bit 1 the plain path. Recomputed by
  // every setter of what it reads.
  void update_finish_kind() {
    finish_kind_ =
        static_cast<std::uint8_t>((tokens_per_step_ != 1 ? 1 : 0) | (!spec_ && !handoff_ && !host_ ? 2 : 0));
  }
  void finish_request(std::uint32_t slot, RequestStatus status);
  // A speculative request's span is its verifying one (ServingObserver::on_verify_begin), from the end of the
  // step that finished its prefill or swapped it back in: begun by begin_verify(), ended by end_decode().
  void begin_decode(std::uint32_t slot, RequestState& r) {
    r.decoding = true;
    if (observer_) observer_->on_decode_begin(*this, slot);
  }
  void end_decode(std::uint32_t slot, RequestState& r) {
    if (!r.decoding) return;
    r.decoding = false;
    if (!observer_) return;
    if (r.mode == RequestMode::kSpeculative) [[unlikely]]
      verify_span(slot, false);
    else
      observer_->on_decode_end(*this, slot);
  }
  // Out of line (the plain paths never call them).
  [[gnu::noinline]] void begin_verify(std::uint32_t slot, RequestState& r);
  [[gnu::noinline]] void note_short(std::uint32_t slot, std::int32_t fewer);  // lists it in verify_short_
  [[gnu::noinline]] void verify_span(std::uint32_t slot, bool begins);
  // Extra blocks the decode entries need to run `iterations` more iterations (on-demand allocation), and in
  // *one_fewer those for one iteration fewer (computed in the same pass).
  std::int64_t run_extra_blocks(std::int64_t iterations, std::int64_t* one_fewer = nullptr) const;
  template <bool kMulti>
  std::int64_t run_extra_blocks_impl(std::int64_t iterations, std::int64_t* one_fewer = nullptr) const;

  std::int32_t id_;
  Placement placement_;
  SchedulerConfig config_;
  std::int32_t max_context_;
  const perf::PerfModel* model_;
  core::Engine* engine_;
  RequestPool* pool_;
  ServingObserver* observer_;
  std::uint16_t kind_;
  std::uint32_t tracker_;  // the target of its step-end event (Engine::new_tracker())

  BatchPolicy policy_;
  KvBlockManager kv_;
  StepTimer timer_;
  PowerState power_;

  std::vector<std::uint32_t> running_;     // admission order
  std::vector<std::uint32_t> prefilling_;  // scratch for start_step
  std::vector<Entry> batch_;               // the step's entries; with a head, the run's
  perf::BatchShape shape_;
  // A step with a head: a mixed step over [step_start, run_start) and then the run (see fold_run()).
  bool has_head_ = false;
  std::vector<Entry> head_batch_;
  perf::BatchShape head_shape_;
  double step_extra_s_ = 0;          // swap transfers added to this step
  std::int64_t run_free_start_ = 0;  // free blocks before the run's allocations
  std::int64_t outstanding_tokens_ = 0;
  std::int64_t pending_prefill_ = 0;
  InstanceStats stats_;
  InstanceRole role_ = InstanceRole::kUnified;
  HandoffSink* handoff_ = nullptr;
  std::vector<std::uint32_t> parked_;   // admitted, blocks reserved, KV in transit
  std::vector<std::uint32_t> ready_;    // KV arrived, joining at the next step
  std::int64_t held_for_transfer_ = 0;  // blocks of handed-on requests whose KV has not left yet
  bool restart_stretch_ = false;        // see wake_for_change()
  // The run in flight (a decode-only step's, not a head's): whether its batch is running_, in order; the least
  // output any of its requests had left and the iterations it was planned for (before any cut).
  bool run_in_order_ = false;
  std::int64_t run_min_remaining_ = 0, run_planned_ = 0;
  // Iterations of the run just ended whose tokens are not booked yet (book_continued()); its entries then lie in
  // head_batch_ once the next step starts.
  std::int64_t continued_ = 0;
  // See defer_free(): the free count is the cut run's planned end's, and the blocks its planned iterations take.
  bool free_stale_ = false;
  std::int64_t stale_extra_ = 0;
  std::int32_t tokens_per_step_ = 1;
  std::uint8_t finish_kind_ = 2;         // update_finish_kind()
  std::int32_t step_decode_tokens_ = 1;  // StepRecord::tokens_per_step of the step in flight
  LoadListener* load_listener_ = nullptr;
  // A host shared with CPU instances (set_host_load); none in most runs.
  HostCpuLoad* host_ = nullptr;
  bool host_cpu_side_ = false;
  bool host_busy_ = false;
  const perf::PerfModel* idle_model_ = nullptr;
  const perf::PerfModel* busy_model_ = nullptr;

  // Speculative decoding (speculation.hpp). Target side: the step in flight's drafting phase on the draft
  // instance, booked there when the step ends (or is cut at the end of the run).
  struct DraftPhase {
    core::SimTime start = 0, end = 0;
    double busy_seconds = 0, prefill_share = 0;
    std::int64_t iterations = 0;  // drafting iterations (gamma for a full round)
    std::int64_t drafted = 0;     // tokens drafted
    perf::BatchShape shape;       // for the ledger: each entry's draft work as tokens (prefill chunk or drafts)
    std::vector<Entry> entries;   // prefill_chunk: the draft tokens each request is charged for, but those of
                                  // verifying requests (the step's verify_tokens_ - 1 each, less verify_short_'s)
  };
  const Speculation* spec_ = nullptr;
  bool has_draft_ = false;
  double draft_wait_s_ = 0;  // the step's wait for its drafts and their ids: before its own work
  DraftPhase draft_;
  // Draft side: blocks reserved for the speculative requests of its target.
  std::int64_t draft_held_ = 0;
  void reserve_draft(RequestState& r);
  void release_draft(RequestState& r);
  // Books target-side phase `d` here, with the target step's verify_tokens_ and verify_short_, and this instance
  // idle from the phase's end until `idle_until` (the target step's end) in the same record.
  void book_draft(const DraftPhase& d, std::int32_t verify_tokens, std::span<const VerifyShort> shorts,
                  core::SimTime idle_until);
  // Target side, while a step is formed (kept out of line: the plain paths never call them): a speculative
  // request's first prefill chunk on the draft too, and a round's verify chunk (returns its tokens).
  [[gnu::noinline]] void add_draft_prefill(std::uint32_t slot, std::int32_t chunk, std::int32_t past);
  [[gnu::noinline]] std::int32_t add_verify_entry(std::uint32_t slot);
  // The running requests' part of a step on an instance with a draft (the step's draft phase reset first):
  // unfinished prefills set aside
  // (prefilling_), plain decodes too (plain_decodes_, for the caller to list), and a verify chunk for each
  // speculative request, in one pass whose shape sums are kept in integers (exact, as the per-entry sums of
  // doubles they replace are). The verify chunks are counted (verify_listed_), not listed in batch_. Returns the
  // tokens they take from the step's budget.
  [[gnu::noinline]] std::int64_t form_running_spec();
  // form_running_spec()'s sums over the rounds that draft fewer than gamma (a request's last one or two), which
  // list_short_round() lists with their terms, and their credited tokens.
  struct ShortSums {
    std::int64_t tokens = 0, seqs = 0, attn_ctx = 0, kv_tokens = 0, emitted = 0;
    bool done = false;
  };
  [[gnu::noinline]] void list_short_round(std::uint32_t slot, RequestState& r, std::int32_t past, ShortSums* sums);
  // A verifying request's round is decided when its step is formed (its accepted count depends only on the
  // request and the round), so form_running_spec() credits it to the request then, in the pass that lists it:
  // its `generated` and `verify_rounds` run one round ahead while the step is in flight. Nothing reads them in
  // between (routers read outstanding_tokens_, which the instance lowers at the step's end); abandon_all() takes
  // back the rounds of a step cut short (uncredit_rounds(), from the running requests that verify and
  // verify_short_). rounds_emitted_: the tokens credited (0 once
  // counted); rounds_done_: whether any request completes at the step's end.
  std::int64_t rounds_emitted_ = 0;
  bool rounds_done_ = false;
  // finish_step() of a step with verifying requests (verify_listed_ > 0): counts their credited rounds into the
  // instance's statistics, then applies the step's entries (batch_) as apply_entries() does. The same integers
  // as apply_entries() over a batch that listed them.
  [[gnu::noinline]] bool apply_rounds(std::int64_t k, core::SimTime now, bool run);
  [[gnu::cold]] void uncredit_rounds();
  // Empties the draft phase of the step being formed (its entries, shape, wait and per-draft-count tallies).
  void clear_draft_phase();
  std::vector<std::uint32_t> plain_decodes_;
  // The step in flight's verifying requests (form_running_spec): verify_listed_ of them, not in batch_, each
  // taking verify_tokens_ tokens but those in verify_short_ (which drafted fewer than gamma); verify_tokens_ is 0
  // when no step formed them.
  std::int32_t verify_listed_ = 0, verify_tokens_ = 0;
  std::vector<VerifyShort> verify_short_;
  // A verify entry's drafts (`drafts` > 0, the draft's context before them `context`): listed for the draft
  // instance and tallied by draft count for price_draft().
  // `listed`: its drafts are charged by an entry (a request swapped back in this step), not by accrual.
  void note_drafts(std::uint32_t slot, std::int32_t drafts, std::int32_t context, bool listed) {
    if (listed) draft_.entries.push_back(Entry{slot, drafts, 1, context});
    draft_count_[static_cast<std::size_t>(drafts)] += 1;
    draft_context_[static_cast<std::size_t>(drafts)] += context;
    draft_drafted_ += drafts;
    ++draft_verifies_;
  }
  // The step's verify entries with drafts, by draft count: how many and their contexts' sum; and their totals.
  std::array<std::int64_t, Speculation::kMaxGamma + 1> draft_count_{}, draft_context_{};
  std::int64_t draft_drafted_ = 0;
  std::int32_t draft_verifies_ = 0;
  // Target side: prices the drafting phase of the step just formed (draft_.entries listed) and books nothing yet.
  void price_draft(std::int64_t prefill_tokens);
  // Target side: a verify chunk's result: the round's accepted tokens and the target's own (returned).
  std::int32_t apply_verify(RequestState& r);
};

}  // namespace greenfleet::serving
