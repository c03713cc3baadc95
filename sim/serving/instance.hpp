#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/ring_queue.hpp"
#include "sim/perf/perf_model.hpp"
#include "sim/serving/observer.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::serving {

struct SchedulerConfig {
  std::int32_t max_num_seqs = 256;
  std::int32_t max_batched_tokens = 2048;  // token budget per step
  bool chunked_prefill = true;
  std::int32_t kv_block_size = 16;
  bool fast_forward = true;
};

// Where an instance runs: enough for routers, reports and (later) energy and carbon accounting.
struct Placement {
  std::int32_t server = -1;
  std::int32_t site = -1;
  std::int32_t first_device = 0;  // index of its first GPU within the server
  std::int32_t devices = 1;       // tensor-parallel degree
};

struct InstanceStats {
  std::uint64_t steps = 0;       // engine events (a fast-forwarded run counts once)
  std::uint64_t iterations = 0;  // model iterations
  std::uint64_t prefill_tokens = 0;
  std::uint64_t decode_tokens = 0;
  core::SimTime busy_time = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::vector<std::uint64_t> batch_size_iterations;  // [b] = iterations that ran with b sequences
};

// One model replica: a continuous-batching scheduler (vLLM / Sarathi style) over a block KV cache, driving the
// perf model one step at a time. Decode-only steps that cannot change until the next completion are folded into
// a single event (exact fast-forward), cut short when an arrival could join the batch.
class Instance final : public core::EventHandler {
 public:
  Instance(std::int32_t id, Placement placement, SchedulerConfig config, std::int64_t kv_blocks,
           std::int32_t max_context, const perf::PerfModel* model, core::Engine* engine, RequestPool* pool,
           ServingObserver* observer);

  // Takes ownership of the pool slot: queues the request, or reports it rejected if it can never fit.
  void enqueue(std::uint32_t slot);
  void on_event(const core::Event& e) override;

  // Reports every request still held (end of a run that did not drain).
  void abandon_all();

  std::int32_t id() const { return id_; }
  const Placement& placement() const { return placement_; }
  const SchedulerConfig& config() const { return config_; }
  const InstanceStats& stats() const { return stats_; }
  const perf::PerfModel& perf_model() const { return *model_; }
  std::int64_t kv_blocks_total() const { return kv_blocks_total_; }
  std::int64_t kv_blocks_free() const { return kv_blocks_free_; }
  bool busy() const { return busy_; }
  // Tokens still to process for queued and running requests: the load signal routers compare. Exact at any
  // instant, also inside a fast-forwarded run, so routing is the same with and without fast-forward.
  std::int64_t outstanding_tokens() const;
  std::size_t queued() const { return waiting_.size(); }
  std::size_t running() const { return running_.size(); }
  double kv_usage() const {
    return kv_blocks_total_ ? 1.0 - static_cast<double>(kv_blocks_free_) / kv_blocks_total_ : 1.0;
  }

 private:
  struct Entry {
    std::uint32_t slot;
    std::int32_t prefill_chunk;  // 0 for a decode entry
  };

  std::int64_t blocks_for(const RequestState& r) const;
  bool can_admit_front() const;
  void start_step();
  void finish_step();
  void finish_request(std::uint32_t slot, RequestStatus status);
  // Iterations of the current run whose end boundary is at or before `t` (always fewer than the run's length
  // while its end event is pending).
  std::int64_t completed_iterations_at(core::SimTime t) const;
  core::SimTime run_boundary(std::int64_t j) const;

  std::int32_t id_;
  Placement placement_;
  SchedulerConfig config_;
  std::int64_t kv_blocks_total_;
  std::int64_t kv_blocks_free_;
  std::int32_t max_context_;
  const perf::PerfModel* model_;
  core::Engine* engine_;
  RequestPool* pool_;
  ServingObserver* observer_;
  std::uint16_t kind_;

  core::RingQueue<std::uint32_t> waiting_;
  std::vector<std::uint32_t> running_;  // admission order
  std::vector<Entry> batch_;
  perf::BatchShape shape_;
  bool busy_ = false;
  core::SimTime step_start_ = 0;
  std::int64_t run_iterations_ = 1;
  std::uint64_t generation_ = 0;  // bumps when a scheduled step end is superseded (lazy cancellation)
  std::int64_t outstanding_tokens_ = 0;
  InstanceStats stats_;
};

}  // namespace greenfleet::serving
