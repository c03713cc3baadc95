#include "sim/output/request_writer.hpp"

namespace greenfleet::output {

RequestWriter::RequestWriter(hid_t file, metrics::SloTable slos, bool class_column, bool split_columns,
                             h5::Compression compression, const energy::CarbonLedger* ledger,
                             std::size_t chunk_rows)
    : group_(h5::create_group(file, "requests")),
      slos_(std::move(slos)),
      ledger_(ledger),
      // Derived seconds are float32 and stored uncompressed: floating-point noise barely compresses, and the
      // exact integer-nanosecond columns they come from are kept (and compressed) beside them.
      seconds_(compression == h5::Compression::kDeflate ? compression : h5::Compression::kNone),
      chunk_rows_(chunk_rows),
      id_(group_.get(), "id", "", chunk_rows, compression),
      arrival_(group_.get(), "arrival_ns", "ns", chunk_rows, compression),
      first_scheduled_(group_.get(), "first_scheduled_ns", "ns", chunk_rows, compression),
      first_token_(group_.get(), "first_token_ns", "ns", chunk_rows, compression),
      completion_(group_.get(), "completion_ns", "ns", chunk_rows, compression),
      deadline_(group_.get(), "deadline_ns", "ns; -1 when none", chunk_rows, compression),
      prompt_(group_.get(), "prompt_tokens", "tokens", chunk_rows, compression),
      output_(group_.get(), "output_tokens", "tokens", chunk_rows, compression),
      instance_(group_.get(), "instance", "", chunk_rows, compression),
      preemptions_(group_.get(), "preemptions", "", chunk_rows, compression),
      cls_(group_.get(), "class", "0 online, 1 offline", chunk_rows, compression),
      status_(group_.get(), "status", "0 completed, 1 unfinished, 2 rejected", chunk_rows, compression),
      slo_met_(group_.get(), "slo_met", "0/1", chunk_rows, compression),
      ttft_(group_.get(), "ttft_s", "s (float32; exact values from the _ns columns)", chunk_rows, seconds_),
      tpot_(group_.get(), "tpot_s", "s (float32; exact values from the _ns columns)", chunk_rows, seconds_),
      e2e_(group_.get(), "e2e_s", "s (float32; exact values from the _ns columns)", chunk_rows, seconds_),
      queue_(group_.get(), "queue_s", "s (float32; exact values from the _ns columns)", chunk_rows, seconds_),
      energy_(group_.get(), "energy_j", "J (float32; exact totals in /carbon)", chunk_rows, seconds_),
      operational_(group_.get(), "operational_g", "gCO2e (float32)", chunk_rows, seconds_),
      embodied_(group_.get(), "embodied_g", "gCO2e (float32)", chunk_rows, seconds_) {
  // Written only when the experiment configures classes, so outputs without them keep their columns.
  if (class_column)
    workload_class_.emplace(group_.get(), "workload_class", "index into /classes", chunk_rows, compression);
  if (split_columns) {
    const char* secs = "s (float32; exact values from the _ns columns)";
    split_.emplace(SplitColumns{
        {group_.get(), "mode",
         "0 unified (whole on one instance), 1 disaggregated (prefill and decode split), 2 speculative "
         "(drafts from another instance)",
         chunk_rows, compression},
        {group_.get(), "prefill_instance", "instance of its prefill when split, else -1", chunk_rows, compression},
        {group_.get(), "kv_reserved_ns", "ns; decode blocks reserved, transfer start (-1 when not split)",
         chunk_rows, compression},
        {group_.get(), "kv_arrived_ns", "ns; transfer end, decode may start (-1 when not split)", chunk_rows,
         compression},
        {group_.get(), "kv_wait_s", secs, chunk_rows, seconds_},
        {group_.get(), "transfer_s", secs, chunk_rows, seconds_},
        {group_.get(), "predicted_ttft_s", "s (float32; the mode router's prediction, NaN when none)", chunk_rows,
         seconds_},
        {group_.get(), "predicted_tpot_s", "s (float32; the mode router's prediction, NaN when none)", chunk_rows,
         seconds_}});
  }
  // Sized once: a row is written by index, with no capacity check per column.
  buf_.for_each([&](auto& values) { values.resize(chunk_rows_); });
  extra_columns_ = workload_class_ || split_;
}

void RequestWriter::on_request_done(std::uint32_t slot, const serving::RequestState& r) {
  const std::size_t n = buffered_;
  buf_.id[n] = r.spec.id;
  buf_.arrival[n] = r.spec.arrival;
  buf_.first_scheduled[n] = r.first_scheduled;
  buf_.first_token[n] = r.first_token;
  buf_.completion[n] = r.completion;
  buf_.deadline[n] = r.spec.deadline;
  buf_.prompt[n] = r.spec.prompt_tokens;
  buf_.output[n] = r.spec.output_tokens;
  buf_.instance[n] = r.instance;
  buf_.preemptions[n] = r.preemptions;
  buf_.cls[n] = static_cast<std::uint8_t>(r.spec.cls);
  buf_.status[n] = static_cast<std::uint8_t>(r.status);
  // Timings only for a completed request (timings_of() gives nothing else); its values go straight to the row.
  if (r.status == serving::RequestStatus::kCompleted) [[likely]] {
    const metrics::RequestTimings t = metrics::timings_of(r, slos_[r.spec.workload_class]);
    buf_.slo_met[n] = t.slo_met ? 1 : 0;
    buf_.ttft[n] = static_cast<float>(core::to_seconds(t.ttft));
    buf_.tpot[n] = static_cast<float>(t.tpot_s);
    buf_.e2e[n] = static_cast<float>(core::to_seconds(t.e2e));
    buf_.queue[n] = static_cast<float>(core::to_seconds(t.queue));
  } else {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    buf_.slo_met[n] = 0;
    buf_.ttft[n] = buf_.tpot[n] = buf_.e2e[n] = buf_.queue[n] = nan;
  }
  if (extra_columns_) [[unlikely]]
    write_extra_columns(n, r);
  const energy::CarbonLedger::RequestCarbon carbon =
      ledger_ ? ledger_->request(slot) : energy::CarbonLedger::RequestCarbon{};
  buf_.energy[n] = static_cast<float>(carbon.energy_j);
  buf_.operational[n] = static_cast<float>(carbon.operational_g);
  buf_.embodied[n] = static_cast<float>(carbon.embodied_g);
  ++rows_;
  if (++buffered_ >= chunk_rows_) flush();
}

void RequestWriter::write_extra_columns(std::size_t n, const serving::RequestState& r) {
  if (workload_class_) buf_.workload_class[n] = r.spec.workload_class;
  if (!split_) return;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  buf_.mode[n] = static_cast<std::uint8_t>(r.mode);
  buf_.prefill_instance[n] = r.mode == serving::RequestMode::kDisaggregated ? r.prefill_instance : -1;
  buf_.kv_reserved[n] = r.kv_reserved;
  buf_.kv_arrived[n] = r.kv_arrived;
  // Split requests: waiting for decode blocks after the first token, then the transfer itself.
  buf_.kv_wait[n] = r.kv_reserved >= 0 ? static_cast<float>(core::to_seconds(r.kv_reserved - r.first_token)) : nan;
  buf_.transfer[n] = r.kv_arrived >= 0 ? static_cast<float>(core::to_seconds(r.kv_arrived - r.kv_reserved)) : nan;
  buf_.predicted_ttft[n] = r.predicted_ttft_s >= 0 ? r.predicted_ttft_s : nan;
  buf_.predicted_tpot[n] = r.predicted_tpot_s >= 0 ? r.predicted_tpot_s : nan;
}

void RequestWriter::flush() {
  if (buffered_ == 0) return;
  auto put = [this](auto& column, const auto& values) { column.append(values.data(), buffered_); };
  put(id_, buf_.id);
  put(arrival_, buf_.arrival);
  put(first_scheduled_, buf_.first_scheduled);
  put(first_token_, buf_.first_token);
  put(completion_, buf_.completion);
  put(deadline_, buf_.deadline);
  put(prompt_, buf_.prompt);
  put(output_, buf_.output);
  put(instance_, buf_.instance);
  put(preemptions_, buf_.preemptions);
  put(cls_, buf_.cls);
  put(status_, buf_.status);
  put(slo_met_, buf_.slo_met);
  put(ttft_, buf_.ttft);
  put(tpot_, buf_.tpot);
  put(e2e_, buf_.e2e);
  put(queue_, buf_.queue);
  put(energy_, buf_.energy);
  put(operational_, buf_.operational);
  put(embodied_, buf_.embodied);
  if (workload_class_) put(*workload_class_, buf_.workload_class);
  if (split_) {
    put(split_->mode, buf_.mode);
    put(split_->prefill_instance, buf_.prefill_instance);
    put(split_->kv_reserved, buf_.kv_reserved);
    put(split_->kv_arrived, buf_.kv_arrived);
    put(split_->kv_wait, buf_.kv_wait);
    put(split_->transfer, buf_.transfer);
    put(split_->predicted_ttft, buf_.predicted_ttft);
    put(split_->predicted_tpot, buf_.predicted_tpot);
  }
  buffered_ = 0;
}

}  // namespace greenfleet::output
