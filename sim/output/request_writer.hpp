#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "sim/energy/ledger.hpp"
#include "sim/metrics/request_metrics.hpp"
#include "sim/output/hdf5_file.hpp"
#include "sim/serving/observer.hpp"

namespace greenfleet::output {

// Streams one row per finished request into /requests, one column per field, in completion order. Rows are
// buffered and appended a chunk at a time, so memory stays flat however long the trace. Each request's energy
// and carbon come from the ledger's side table (attach the writer after the ledger, so it has settled them).
class RequestWriter final : public serving::ServingObserver {
 public:
  // `slos`: each workload class's SLO (metrics::RequestMetrics::slos()); with `class_column`, a
  // `workload_class` column (index into /classes) is written too, as when the experiment configures classes;
  // with `split_columns`, the columns of split requests (mode, prefill instance, KV reservation and arrival), as
  // when a deployment lets its requests split.
  RequestWriter(hid_t file, metrics::SloTable slos, bool class_column, bool split_columns,
                h5::Compression compression, const energy::CarbonLedger* ledger, std::size_t chunk_rows = 65536);
  unsigned signals() const override { return kRequests; }
  void on_request_done(std::uint32_t slot, const serving::RequestState& r) override;
  void flush();
  std::uint64_t rows() const { return rows_; }

 private:
  struct Buffers {
    std::vector<std::uint64_t> id;
    std::vector<std::int64_t> arrival, first_scheduled, first_token, completion, deadline;
    std::vector<std::int32_t> prompt, output, instance, preemptions;
    std::vector<std::uint8_t> cls, status, slo_met;
    std::vector<std::int32_t> workload_class, prefill_instance;
    std::vector<std::uint8_t> mode;
    std::vector<std::int64_t> kv_reserved, kv_arrived;
    std::vector<float> kv_wait, transfer, predicted_ttft, predicted_tpot;
    std::vector<float> ttft, tpot, e2e, queue, energy, operational, embodied;
    template <class F>
    void for_each(F f) {
      f(id), f(arrival), f(first_scheduled), f(first_token), f(completion), f(deadline);
      f(prompt), f(output), f(instance), f(preemptions), f(cls), f(status), f(slo_met);
      f(ttft), f(tpot), f(e2e), f(queue), f(energy), f(operational), f(embodied), f(workload_class);
      f(prefill_instance), f(mode), f(kv_reserved), f(kv_arrived), f(kv_wait), f(transfer);
      f(predicted_ttft), f(predicted_tpot);
    }
  };
  h5::Handle group_;
  metrics::SloTable slos_;
  const energy::CarbonLedger* ledger_;
  h5::Compression seconds_;
  std::size_t chunk_rows_;
  std::uint64_t rows_ = 0;
  std::size_t buffered_ = 0;  // rows in buf_, not yet appended
  Buffers buf_;
  h5::AppendColumn<std::uint64_t> id_;
  h5::AppendColumn<std::int64_t> arrival_, first_scheduled_, first_token_, completion_, deadline_;
  h5::AppendColumn<std::int32_t> prompt_, output_, instance_, preemptions_;
  h5::AppendColumn<std::uint8_t> cls_, status_, slo_met_;
  h5::AppendColumn<float> ttft_, tpot_, e2e_, queue_, energy_, operational_, embodied_;
  std::optional<h5::AppendColumn<std::int32_t>> workload_class_;  // only with classes
  // Only when requests may split.
  struct SplitColumns {
    h5::AppendColumn<std::uint8_t> mode;
    h5::AppendColumn<std::int32_t> prefill_instance;
    h5::AppendColumn<std::int64_t> kv_reserved, kv_arrived;
    h5::AppendColumn<float> kv_wait, transfer, predicted_ttft, predicted_tpot;
  };
  std::optional<SplitColumns> split_;
  bool extra_columns_ = false;  // workload_class_ or split_: one test on each row for both
  // The row's workload_class and split columns (those that exist).
  [[gnu::noinline]] void write_extra_columns(std::size_t n, const serving::RequestState& r);
};

}  // namespace greenfleet::output
