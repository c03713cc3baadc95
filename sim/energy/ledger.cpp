#include "sim/energy/ledger.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/core/error.hpp"
#include "sim/serving/instance.hpp"
#include "sim/serving/request_state.hpp"

namespace greenfleet::energy {

namespace {
// "12.3 GiB", "456 MiB", "7.8 KiB": sizes in messages.
std::string size_text(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  return fmt::format("{:.3g} {}", bytes, units[u]);
}
}  // namespace

Accum& Accum::operator+=(const Accum& o) {
  energy_gpu += o.energy_gpu, energy_host += o.energy_host;
  op_gpu += o.op_gpu, op_host += o.op_host;
  emb_gpu += o.emb_gpu, emb_host += o.emb_host;
  return *this;
}

Accum Accum::scaled(double f) const {
  Accum a = *this;
  a.energy_gpu *= f, a.energy_host *= f, a.op_gpu *= f, a.op_host *= f, a.emb_gpu *= f, a.emb_host *= f;
  return a;
}

CarbonLedger::CarbonLedger(std::vector<ServerPower> servers, std::vector<InstancePlace> instances,
                           core::SimTime slot)
    : servers_(std::move(servers)),
      instances_(std::move(instances)),
      last_end_(instances_.size(), 0),
      decode_accrued_(instances_.size(), {0.0, 0.0, 0.0}),
      verify_accrued_(instances_.size(), {0.0, 0.0, 0.0}),
      rates_(instances_.size()),
      slot_sums_(instances_.size()),
      g_per_w_s_(servers_.size()),
      slot_(slot),
      gpu_dynamic_j_(servers_.size(), 0),
      gpu_dynamic_op_(servers_.size(), 0),
      cpu_dynamic_j_(servers_.size(), 0),
      cpu_dynamic_op_(servers_.size(), 0),
      server_totals_(servers_.size()),
      power_(servers_.size()) {
  for (std::size_t s = 0; s < servers_.size(); ++s) {
    power_[s].on = servers_[s].powered;
    g_per_w_s_[s] = servers_[s].pue / kJoulesPerKwh;
  }
  for (std::size_t i = 0; i < instances_.size(); ++i) {
    const InstancePlace& p = instances_[i];
    const ServerPower& sv = servers_[static_cast<std::size_t>(p.server)];
    power_[static_cast<std::size_t>(p.server)].instances.push_back(i);
    const double share =
        p.host_share >= 0 ? p.host_share : static_cast<double>(p.devices) / sv.gpus * sv.gpu_host_share;
    rates_[i].cpu_busy_w = p.cpu_busy_w >= 0 ? p.cpu_busy_w : sv.cpu_w_per_busy_instance;
    rates_[i].idle_gpu_w = p.devices * sv.gpu_idle_w;
    rates_[i].idle_host_w = share * sv.host_static_w;
    rates_[i].busy_host_w = rates_[i].idle_host_w + rates_[i].cpu_busy_w;
    rates_[i].gpu_emb_rate = p.devices * sv.gpu_emb_g_per_s;
    rates_[i].host_emb_rate = share * sv.host_emb_g_per_s;
  }
}

void CarbonLedger::book_unused(std::size_t s, core::SimTime a, core::SimTime b) {
  const ServerPower& sv = servers_[s];
  const int unused = sv.gpus - sv.gpus_in_instances;
  if (unused <= 0 && sv.gpus != 0) return;
  // Without GPUs the GPU side's share of the host (all of it unless CPU instances hold part) is unused.
  const double share = sv.gpus ? static_cast<double>(unused) / sv.gpus * sv.gpu_host_share : sv.gpu_host_share;
  Interval iv;
  iv.gpu_w = unused * sv.gpu_idle_w;
  iv.host_w = share * sv.host_static_w;
  iv.gpu_emb_rate = unused * sv.gpu_emb_g_per_s;
  iv.host_emb_rate = share * sv.host_emb_g_per_s;
  idle_lines_ += book(s, a, b, iv, kIdle);
}

void CarbonLedger::book_off(std::size_t s, core::SimTime a, core::SimTime b) {
  const ServerPower& sv = servers_[s];
  Interval iv;  // no power: embodied only
  iv.gpu_emb_rate = sv.gpus * sv.gpu_emb_g_per_s;
  iv.host_emb_rate = sv.host_emb_g_per_s;
  idle_lines_ += book(s, a, b, iv, kOff);
}

void CarbonLedger::on_power(std::size_t s, core::SimTime t, bool on) {
  PowerState& p = power_[s];
  if (p.on == on) return;
  if (on) {
    book_off(s, p.since, t);
    for (std::size_t i : p.instances) last_end_[i] = t;  // idle time restarts with the boot
  } else {
    for (std::size_t i : p.instances)
      if (last_end_[i] < t) book_idle(i, last_end_[i], t);
    book_unused(s, p.since, t);
    p.on_seconds += core::to_seconds(t - p.since);
    p.on_ci_integral += servers_[s].ci->integral(p.since, t);
  }
  p.on = on;
  p.since = t;
}

void CarbonLedger::grow_slots(core::SimTime end) {
  const auto needed = static_cast<std::size_t>((end + slot_ - 1) / slot_);
  if (needed <= slot_count_) return;
  const double bytes = static_cast<double>(needed) * static_cast<double>(servers_.size()) * kBytesPerSlotCell;
  if (slot_table_limit_ > 0 && bytes > static_cast<double>(slot_table_limit_))
    throw core::InputError(
        fmt::format("{}: the /timeseries tables would grow past {} ({} slots of {}s x {} servers) at "
                    "simulated time {}s, above the memory budget of {}; use a longer carbon.slot, a shorter run "
                    "(horizon), or raise the budget (greenfleet run --memory-budget GIB)",
                    slot_where_, size_text(bytes), needed, core::to_seconds(slot_), servers_.size(),
                    core::to_seconds(end), size_text(static_cast<double>(slot_table_limit_))));
  slot_count_ = needed;
  slots_end_ = static_cast<core::SimTime>(slot_count_) * slot_;
  slot_accum_.resize(slot_count_ * servers_.size());
  slot_busy_.resize(slot_count_ * servers_.size(), 0.0);
}

Accum CarbonLedger::book(std::size_t s, core::SimTime a, core::SimTime b, const Interval& iv, Phase phase,
                         double prefill_share, double ci_integral) {
  Accum x;
  if (b <= a) return x;
  const ServerPower& sv = servers_[s];
  const double seconds = core::to_seconds(b - a);
  // g per (W x s) of IT power over the interval
  const double ci = (ci_integral >= 0 ? ci_integral : sv.ci->integral(a, b)) * sv.pue / kJoulesPerKwh;
  x.energy_gpu = iv.gpu_w * seconds;
  x.energy_host = iv.host_w * seconds;
  x.op_gpu = iv.gpu_w * ci;
  x.op_host = iv.host_w * ci;
  x.emb_gpu = iv.gpu_emb_rate * seconds;
  x.emb_host = iv.host_emb_rate * seconds;
  if (prefill_share > 0) {
    phases_[kPrefill] += x.scaled(prefill_share);
    phases_[phase] += x.scaled(1 - prefill_share);
  } else {
    phases_[phase] += x;
  }
  ensure_slots(b);
  const std::size_t n = servers_.size();
  if (a >= cached_lo_ && b <= cached_hi_) {  // the common case: within the slot of the previous interval
    slot_accum_[cached_slot_ * n + s] += x;
    slot_busy_[cached_slot_ * n + s] += iv.busy_gpu_s;
    return x;
  }
  std::size_t first = static_cast<std::size_t>(a / slot_), last = static_cast<std::size_t>((b - 1) / slot_);
  if (first == last) {
    cached_slot_ = first;
    cached_lo_ = static_cast<core::SimTime>(first) * slot_;
    cached_hi_ = cached_lo_ + slot_;
    slot_accum_[first * n + s] += x;
    slot_busy_[first * n + s] += iv.busy_gpu_s;
    return x;
  }
  // Power is constant over the interval, so each slot gets its share of time; operational carbon follows the
  // carbon intensity within each slot.
  for (std::size_t j = first; j <= last; ++j) {
    const core::SimTime lo = std::max<core::SimTime>(a, static_cast<core::SimTime>(j) * slot_);
    const core::SimTime hi = std::min<core::SimTime>(b, static_cast<core::SimTime>(j + 1) * slot_);
    const double f = core::to_seconds(hi - lo) / seconds;
    const double ci_part = sv.ci->integral(lo, hi) * sv.pue / kJoulesPerKwh;
    Accum part = x.scaled(f);
    part.op_gpu = iv.gpu_w * ci_part;
    part.op_host = iv.host_w * ci_part;
    slot_accum_[j * n + s] += part;
    slot_busy_[j * n + s] += iv.busy_gpu_s * f;
  }
  return x;
}

void CarbonLedger::book_idle(std::size_t i, core::SimTime a, core::SimTime b) {
  const InstanceRates& q = rates_[i];
  Interval iv;
  iv.gpu_w = q.idle_gpu_w;
  iv.host_w = q.idle_host_w;
  iv.gpu_emb_rate = q.gpu_emb_rate;
  iv.host_emb_rate = q.host_emb_rate;
  idle_lines_ += book(static_cast<std::size_t>(instances_[i].server), a, b, iv, kIdle);
}

void CarbonLedger::add_server_dynamic(std::size_t s, double cpu_w, double seconds, double dynamic_j, double ci,
                                      double dynamic_ci) {
  const double k = g_per_w_s_[s];
  gpu_dynamic_j_[s] += dynamic_j;
  gpu_dynamic_op_[s] += dynamic_ci * k;
  cpu_dynamic_j_[s] += cpu_w * seconds;
  cpu_dynamic_op_[s] += cpu_w * ci * k;
}

void CarbonLedger::flush_slot_sums(std::size_t i) {
  SlotSums& u = slot_sums_[i];
  if (u.slot == SIZE_MAX) return;
  const InstanceRates& q = rates_[i];
  const auto s = static_cast<std::size_t>(instances_[i].server);
  const double k = g_per_w_s_[s];
  Accum total;
  for (int part = 0; part < 2; ++part) {
    Accum x;
    x.energy_gpu = q.idle_gpu_w * u.seconds[part] + u.dynamic_j[part];
    x.energy_host = q.busy_host_w * u.seconds[part];
    x.op_gpu = (q.idle_gpu_w * u.ci[part] + u.dynamic_ci[part]) * k;
    x.op_host = q.busy_host_w * u.ci[part] * k;
    x.emb_gpu = q.gpu_emb_rate * u.seconds[part];
    x.emb_host = q.host_emb_rate * u.seconds[part];
    phases_[part == 0 ? kDecode : kPrefill] += x;
    total += x;
    add_server_dynamic(s, q.cpu_busy_w, u.seconds[part], u.dynamic_j[part], u.ci[part], u.dynamic_ci[part]);
  }
  const std::size_t cell = u.slot * servers_.size() + s;
  slot_accum_[cell] += total;
  slot_busy_[cell] += u.busy_gpu_s;
  if (u.idle_seconds > 0) {  // as book_idle() prices it
    Accum x;
    x.energy_gpu = q.idle_gpu_w * u.idle_seconds;
    x.energy_host = q.idle_host_w * u.idle_seconds;
    x.op_gpu = q.idle_gpu_w * u.idle_ci * k;
    x.op_host = q.idle_host_w * u.idle_ci * k;
    x.emb_gpu = q.gpu_emb_rate * u.idle_seconds;
    x.emb_host = q.host_emb_rate * u.idle_seconds;
    phases_[kIdle] += x;
    idle_lines_ += x;
    slot_accum_[cell] += x;
  }
  u = SlotSums{};
}

double CarbonLedger::line_2023_dynamic_j(std::size_t instance, const ServerPower& sv,
                                         const serving::StepRecord& step, double seconds, double curve_j) const {
  const InstancePlace& p = instances_[instance];
  const PowerLine2023& l = lines_2023_[instance];
  if (l.weight_read_s <= 0) return curve_j;  // not on the line: as on_step prices it
  // The decode part on the 2023 line, the prefill part as on_step prices it.
  const double f = step.prefill_share;
  const double decode_j = l.intercept_w * seconds +
                          l.slope_w * l.weight_read_s * static_cast<double>(step.iterations) -
                          sv.gpu_idle_w * seconds;
  return p.devices * ((1 - f) * decode_j + f * (sv.gpu_prefill_w - sv.gpu_idle_w) * step.busy_seconds);
}

void CarbonLedger::on_step(const serving::Instance& instance, const serving::StepRecord& step) {
  if (any_line_2023_) [[unlikely]]
    return on_step_line_2023(instance, step);
  on_step_impl<false>(instance, step);
}

void CarbonLedger::on_step_line_2023(const serving::Instance& instance, const serving::StepRecord& step) {
  on_step_impl<true>(instance, step);
}

template <bool kLine2023>
void CarbonLedger::on_step_impl(const serving::Instance& instance, const serving::StepRecord& step) {
  const auto i = static_cast<std::size_t>(instance.id());
  const InstancePlace& p = instances_[i];
  const InstanceRates& q = rates_[i];
  const auto s = static_cast<std::size_t>(p.server);
  ServerPower& sv = servers_[s];
  if (step.start > last_end_[i]) book_idle(i, last_end_[i], step.start);
  last_end_[i] = step.end;

  const double seconds = core::to_seconds(step.end - step.start);
  // GPU power interpolates between idle and the phase mix by the busy part of the step: energy is exact for a
  // single step and for a fast-forwarded run (whose busy time is exact), held at the run's mean power.
  const double decode_w = sv.decode_w(step.shape->decode_seqs + step.shape->prefill_seqs);
  const double mix_w = step.prefill_share * sv.gpu_prefill_w + (1 - step.prefill_share) * decode_w;
  const double curve_j = p.devices * (mix_w - sv.gpu_idle_w) * step.busy_seconds;
  const double gpu_dynamic_j = kLine2023 ? line_2023_dynamic_j(i, sv, step, seconds, curve_j) : curve_j;
  // A constant grid (the common case) needs no integral and no division.
  const bool constant_ci = sv.ci->is_constant();
  const double ci_integral =
      constant_ci ? sv.ci->constant_value() * seconds : sv.ci->integral(step.start, step.end);
  const double dynamic_ci =
      constant_ci ? gpu_dynamic_j * sv.ci->constant_value() : gpu_dynamic_j * ci_integral / seconds;
  const double k = g_per_w_s_[s];

  // The step's amounts, for attribution.
  const double static_w = q.idle_gpu_w + q.busy_host_w;
  const double energy_j = static_w * seconds + gpu_dynamic_j;
  const double op_g = (static_w * ci_integral + dynamic_ci) * k;
  const double emb_g = (q.gpu_emb_rate + q.host_emb_rate) * seconds;

  // Into the tables: summed per instance while its steps stay within one slot (the common case), else priced
  // over the slots the step spans. Prefill and decode phases share a step by the prefill share of its work.
  ensure_slots(step.end);
  SlotSums& u = slot_sums_[i];
  bool one_slot = step.start >= u.lo && step.end <= u.hi;  // within the slot of this instance's last step
  if (!one_slot) {
    const auto slot = static_cast<std::size_t>(step.start / slot_);
    one_slot = static_cast<std::size_t>((step.end - 1) / slot_) == slot;
    if (one_slot) {
      flush_slot_sums(i);
      u.slot = slot;
      u.lo = static_cast<core::SimTime>(slot) * slot_;
      u.hi = u.lo + slot_;
    }
  }
  if (one_slot) {
    const double f = step.prefill_share;
    if (f > 0) {
      u.seconds[1] += f * seconds, u.dynamic_j[1] += f * gpu_dynamic_j;
      u.ci[1] += f * ci_integral, u.dynamic_ci[1] += f * dynamic_ci;
    }
    const double g = 1 - f;
    u.seconds[0] += g * seconds, u.dynamic_j[0] += g * gpu_dynamic_j;
    u.ci[0] += g * ci_integral, u.dynamic_ci[0] += g * dynamic_ci;
    u.busy_gpu_s += p.devices * step.busy_seconds;
  } else {
    Interval iv;
    iv.gpu_w = q.idle_gpu_w + gpu_dynamic_j / seconds;
    iv.host_w = q.busy_host_w;
    iv.gpu_emb_rate = q.gpu_emb_rate;
    iv.host_emb_rate = q.host_emb_rate;
    iv.busy_gpu_s = p.devices * step.busy_seconds;
    add_server_dynamic(s, q.cpu_busy_w, seconds, gpu_dynamic_j, ci_integral, dynamic_ci);
    book(s, step.start, step.end, iv, kDecode, step.prefill_share, ci_integral);
  }

  // Split among the requests in the batch by the tokens each had processed: prefill chunks their chunk, decodes
  // one token per iteration. Decodes accrue per instance (settled in on_decode_end); prefill chunks are paid here.
  // Tokens each decode processed over the step: one per iteration, or the step's count per iteration.
  const double iterations = static_cast<double>(step.iterations * step.tokens_per_step);
  const double inv_tokens = 1.0 / (static_cast<double>(step.shape->prefill_tokens) +
                                   static_cast<double>(step.shape->decode_seqs) * iterations);
  const double energy = energy_j * inv_tokens, op = op_g * inv_tokens, emb = emb_g * inv_tokens;
  std::array<double, 3>& accrued = decode_accrued_[i];
  accrued[0] += energy * iterations;
  accrued[1] += op * iterations;
  accrued[2] += emb * iterations;
  if (step.verify_tokens > 0) [[unlikely]] {
    // Verifying requests accrue alike (settled in on_verify_end); those that took fewer tokens pay the difference
    // back here.
    const double v = step.verify_tokens;
    std::array<double, 3>& verified = verify_accrued_[i];
    verified[0] += energy * v;
    verified[1] += op * v;
    verified[2] += emb * v;
    for (const serving::VerifyShort& e : step.verify_short) {
      const double w = static_cast<double>(e.fewer);
      RequestCarbon& r = requests_by_slot_[e.slot].carbon;
      r.energy_j -= energy * w;
      r.operational_g -= op * w;
      r.embodied_g -= emb * w;
    }
    // The idle time after the step that it reports (a draft instance's wait for its target; a step without
    // verifying requests leaves it to the next step's gap): summed with the slot's steps when within their slot,
    // else priced over the slots it spans.
    if (step.idle_until > step.end) {
      if (one_slot && step.idle_until <= u.hi) {
        const double idle_s = core::to_seconds(step.idle_until - step.end);
        u.idle_seconds += idle_s;
        u.idle_ci += constant_ci ? sv.ci->constant_value() * idle_s : sv.ci->integral(step.end, step.idle_until);
      } else {
        book_idle(i, step.end, step.idle_until);
      }
      last_end_[i] = step.idle_until;
    }
  }
  if (step.shape->prefill_tokens == 0) return;
  for (const auto& e : step.entries) {
    if (e.prefill_chunk == 0) continue;
    const double w = static_cast<double>(e.prefill_chunk);
    RequestCarbon& r = requests_by_slot_[e.slot].carbon;
    r.energy_j += energy * w;
    r.operational_g += op * w;
    r.embodied_g += emb * w;
  }
}

void CarbonLedger::on_request_begin(std::uint32_t slot, const serving::RequestState&) {
  // Slots are handed out densely from 0 (RequestPool), so the table grows to the peak in flight.
  if (slot >= requests_by_slot_.size()) requests_by_slot_.resize(slot + 1);
  requests_by_slot_[slot] = RequestBooks{};
}

void CarbonLedger::on_decode_begin(const serving::Instance& instance, std::uint32_t slot) {
  requests_by_slot_[slot].decode_mark = decode_accrued_[static_cast<std::size_t>(instance.id())];
}

void CarbonLedger::on_decode_end(const serving::Instance& instance, std::uint32_t slot) {
  const std::array<double, 3>& accrued = decode_accrued_[static_cast<std::size_t>(instance.id())];
  RequestBooks& b = requests_by_slot_[slot];
  b.carbon.energy_j += accrued[0] - b.decode_mark[0];
  b.carbon.operational_g += accrued[1] - b.decode_mark[1];
  b.carbon.embodied_g += accrued[2] - b.decode_mark[2];
}

// A verifying request accrues on its target instance and on that instance's draft instance.
void CarbonLedger::on_verify_begin(const serving::Instance& instance, std::uint32_t slot) {
  RequestBooks& b = requests_by_slot_[slot];
  b.decode_mark = verify_accrued_[static_cast<std::size_t>(instance.id())];
  b.draft_mark = verify_accrued_[static_cast<std::size_t>(instance.speculation()->draft->id())];
}

void CarbonLedger::on_verify_end(const serving::Instance& instance, std::uint32_t slot) {
  const std::array<double, 3>& target = verify_accrued_[static_cast<std::size_t>(instance.id())];
  const std::array<double, 3>& draft =
      verify_accrued_[static_cast<std::size_t>(instance.speculation()->draft->id())];
  RequestBooks& b = requests_by_slot_[slot];
  b.carbon.energy_j += (target[0] - b.decode_mark[0]) + (draft[0] - b.draft_mark[0]);
  b.carbon.operational_g += (target[1] - b.decode_mark[1]) + (draft[1] - b.draft_mark[1]);
  b.carbon.embodied_g += (target[2] - b.decode_mark[2]) + (draft[2] - b.draft_mark[2]);
}

void CarbonLedger::on_request_done(std::uint32_t slot, const serving::RequestState&) {
  const RequestCarbon& r = requests_by_slot_[slot].carbon;
  requests_.energy_gpu += r.energy_j;  // requests carry totals only; kept in the GPU fields
  requests_.op_gpu += r.operational_g;
  requests_.emb_gpu += r.embodied_g;
}

void CarbonLedger::finalize(core::SimTime end) {
  if (finalized_) return;
  finalized_ = true;
  ensure_slots(std::max<core::SimTime>(end, 1));
  for (std::size_t i = 0; i < slot_sums_.size(); ++i) flush_slot_sums(i);
  for (std::size_t s = 0; s < servers_.size(); ++s) {
    const ServerPower& sv = servers_[s];
    PowerState& p = power_[s];
    if (p.on) {
      for (std::size_t i : p.instances)
        if (last_end_[i] < end) book_idle(i, last_end_[i], end);
      book_unused(s, p.since, end);
      p.on_seconds += core::to_seconds(end - p.since);
      p.on_ci_integral += sv.ci->integral(p.since, end);
    } else {
      book_off(s, p.since, end);
    }
    // The fleet total, from the server's power over its on time: every GPU at idle power plus the dynamic
    // energy of its steps, the host's static power plus the CPU cores kept busy; embodied over the whole run.
    Accum& total = server_totals_[s];
    const double seconds = core::to_seconds(end);
    const double ci = p.on_ci_integral * sv.pue / kJoulesPerKwh;
    total.emb_gpu = sv.gpus * sv.gpu_emb_g_per_s * seconds;
    total.emb_host = sv.host_emb_g_per_s * seconds;
    total.energy_gpu = sv.gpus * sv.gpu_idle_w * p.on_seconds + gpu_dynamic_j_[s];
    total.op_gpu = sv.gpus * sv.gpu_idle_w * ci + gpu_dynamic_op_[s];
    total.energy_host = sv.host_static_w * p.on_seconds + cpu_dynamic_j_[s];
    total.op_host = sv.host_static_w * ci + cpu_dynamic_op_[s];
  }
  // The network line: switches always on over the run (an idle line), plus the transfers booked at each site.
  const double seconds = core::to_seconds(end);
  for (std::size_t i = 0; i < network_sites_.size(); ++i) {
    const NetworkSitePower& n = network_sites_[i];
    Accum idle;
    idle.energy_host = n.switch_w * seconds;
    idle.op_host = n.switch_w * n.ci->integral(0, end) * n.pue / kJoulesPerKwh;
    idle.emb_host = n.switch_emb_g_per_s * seconds;
    idle_lines_ += idle;
    phases_[kIdle] += idle;
    // The site's total, from its switches' power over the run and the transfer energy that ended there.
    Accum& total = network_by_site_[i];
    total.energy_host = n.switch_w * seconds + transfer_j_by_site_[i];
    total.op_host = n.switch_w * n.ci->mean(0, std::max<core::SimTime>(end, 1)) * seconds * n.pue / kJoulesPerKwh +
                    transfer_op_by_site_[i];
    total.emb_host = n.switch_emb_g_per_s * seconds;
  }
}

void CarbonLedger::book_transfer(std::uint32_t slot, std::size_t site, core::SimTime start, core::SimTime end,
                                 double joules) {
  const NetworkSitePower& n = network_sites_.at(site);
  const double mean_ci =
      end > start ? n.ci->integral(start, end) / core::to_seconds(end - start) : n.ci->at(start);
  const double op = joules * mean_ci * n.pue / kJoulesPerKwh;
  RequestCarbon& r = requests_by_slot_[slot].carbon;
  r.energy_j += joules;
  r.operational_g += op;
  Accum x;
  x.energy_host = joules;
  x.op_host = op;
  phases_[kDecode] += x;
  transfer_j_by_site_[site] += joules;
  transfer_op_by_site_[site] += op;
}

Accum CarbonLedger::network_total() const {
  Accum t;
  for (const auto& s : network_by_site_) t += s;
  return t;
}

Accum CarbonLedger::fleet_total() const {
  Accum t;
  for (const auto& s : server_totals_) t += s;
  return t += network_total();
}

double CarbonLedger::conservation_error() const {
  const Accum total = fleet_total();
  auto rel = [](double whole, double parts) {
    return whole == 0 ? std::abs(parts) : std::abs(whole - parts) / std::abs(whole);
  };
  const double e = std::max({rel(total.energy(), requests_.energy() + idle_lines_.energy()),
                             rel(total.op(), requests_.op() + idle_lines_.op()),
                             rel(total.emb(), requests_.emb() + idle_lines_.emb())});
  // A NaN would slip through std::max and the comparisons of any check: non-finite numbers are a failure.
  const bool finite =
      std::isfinite(total.energy() + total.op() + total.emb() + requests_.energy() + requests_.op() +
                    requests_.emb() + idle_lines_.energy() + idle_lines_.op() + idle_lines_.emb());
  return finite && std::isfinite(e) ? e : std::numeric_limits<double>::infinity();
}

}  // namespace greenfleet::energy
