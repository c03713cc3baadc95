#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/time.hpp"
#include "sim/energy/carbon_signal.hpp"
#include "sim/serving/observer.hpp"
#include "sim/serving/provisioner.hpp"

namespace greenfleet::serving {
class RequestPool;
}

namespace greenfleet::energy {

// Energy (J), operational carbon (g) and embodied carbon (g), each split by component class.
struct Accum {
  double energy_gpu = 0, energy_host = 0;
  double op_gpu = 0, op_host = 0;
  double emb_gpu = 0, emb_host = 0;

  double energy() const { return energy_gpu + energy_host; }
  double op() const { return op_gpu + op_host; }
  double emb() const { return emb_gpu + emb_host; }
  Accum& operator+=(const Accum& o);
  Accum scaled(double f) const;
};

inline constexpr double kJoulesPerKwh = 3.6e6;

enum Phase : int { kPrefill = 0, kDecode = 1, kIdle = 2, kOff = 3, kPhases = 4 };
inline constexpr const char* kPhaseNames[kPhases] = {"prefill", "decode", "idle", "off"};

// How one server turns activity into power and carbon; built from the catalog and the experiment.
struct ServerPower {
  std::int32_t site = 0;
  double pue = 1;
  const CarbonSignal* ci = nullptr;
  bool powered = true;  // on at the start of the run
  std::int32_t gpus = 0;
  std::int32_t gpus_in_instances = 0;
  double gpu_idle_w = 0, gpu_prefill_w = 0, gpu_decode_w = 0;
  // Calibrated decode power vs batch (models/calibration/power/); when absent, gpu_decode_w for every batch.
  bool has_decode_curve = false;
  double decode_small_w = 0, decode_saturated_w = 0, decode_batch_scale = 1;
  // Not const: batches are small integers, so the exponential is evaluated once per batch size and kept in
  // decode_w_table (each simulation owns its ledger and so its own table).
  double decode_w(std::int32_t batch) {
    if (!has_decode_curve) return gpu_decode_w;
    const auto b = static_cast<std::size_t>(batch);
    if (b >= decode_w_table.size()) decode_w_table.resize(b + 1, -1.0);
    double& w = decode_w_table[b];
    if (w < 0) w = decode_w_at(batch);
    return w;
  }
  // The same without the table (estimates outside the ledger, e.g. routers').
  double decode_w_at(std::int32_t batch) const {
    if (!has_decode_curve) return gpu_decode_w;
    return decode_saturated_w -
           (decode_saturated_w - decode_small_w) * std::exp(-static_cast<double>(batch) / decode_batch_scale);
  }
  std::vector<double> decode_w_table;
  double host_static_w = 0;            // chassis, NIC, DRAM, SSD and idle CPU sockets while on
  double cpu_w_per_busy_instance = 0;  // CPU cores kept busy by one stepping GPU instance
  // The share of the host (its static power and embodied carbon) that the GPU instances and unused GPUs split
  // by GPU count; the rest is the CPU instances' (InstancePlace::host_share). 1 without CPU instances.
  double gpu_host_share = 1;
  double gpu_emb_g_per_s = 0;  // per GPU (0 when sunk)
  double host_emb_g_per_s = 0;
};

// The network line of one site (experiments with a `network:` section): its switches' static power while the run
// lasts and their embodied rate, at the site's carbon intensity and PUE.
struct NetworkSitePower {
  const CarbonSignal* ci = nullptr;
  double pue = 1;
  double switch_w = 0;
  double switch_emb_g_per_s = 0;
};

struct InstancePlace {
  std::int32_t server = 0;
  std::int32_t devices = 1;  // GPUs (0: a CPU instance)
  // Its share of the host's static power and embodied carbon; negative: devices / GPUs x gpu_host_share.
  double host_share = -1;
  // Power above the host's static power while it steps; negative: the server's cpu_w_per_busy_instance.
  double cpu_busy_w = -1;
};

// The 2023 engine (scheduler.preset fastchat-hf-2023): each GPU's power over the decode part of a step is the 2023
// line W = intercept + slope x u read at the step's weight-bandwidth utilisation u = weight_read_s x forward
// passes / step time (weight_read_s: its weight shard over peak bandwidth), so its energy there is intercept x
// time + slope x weight_read_s x passes, exact for a fast-forwarded run; the prefill part is priced as elsewhere.
struct PowerLine2023 {
  double intercept_w = 0, slope_w = 0, weight_read_s = 0;
};

// The carbon ledger: an observer that prices every step and every idle gap, attributes each step's energy,
// operational and embodied carbon to the requests in it by tokens processed, keeps idle and powered-off time as
// their own lines, and rolls everything up by server, phase and time slot. Fleet totals are computed separately
// from each server's power over the run, so `conservation_error()` checks the attribution rather than restating
// it.
class CarbonLedger final : public serving::ServingObserver, public serving::PowerListener {
 public:
  CarbonLedger(std::vector<ServerPower> servers, std::vector<InstancePlace> instances, core::SimTime slot);

  // What the ledger has attributed to one request: its share of the steps it took part in.
  struct RequestCarbon {
    double energy_j = 0, operational_g = 0, embodied_g = 0;
  };

  unsigned signals() const override { return kAll; }
  void on_step(const serving::Instance& instance, const serving::StepRecord& step) override;
  // Prices the GPUs of `instance` on the 2023 line from now on (set before the run).
  void set_line_2023(std::size_t instance, const PowerLine2023& line) {
    lines_2023_.resize(instances_.size());
    lines_2023_[instance] = line;
    any_line_2023_ = true;
  }
  void on_request_begin(std::uint32_t slot, const serving::RequestState& r) override;
  void on_request_done(std::uint32_t slot, const serving::RequestState& r) override;
  void on_decode_begin(const serving::Instance& instance, std::uint32_t slot) override;
  void on_decode_end(const serving::Instance& instance, std::uint32_t slot) override;
  void on_verify_begin(const serving::Instance& instance, std::uint32_t slot) override;
  void on_verify_end(const serving::Instance& instance, std::uint32_t slot) override;
  // The carbon attributed so far to the request in pool slot `slot` (complete at its on_request_done).
  const RequestCarbon& request(std::uint32_t slot) const { return requests_by_slot_[slot].carbon; }
  // A server powered on (booting counts as on: it draws idle power) or off (no power, embodied only).
  void on_power(std::size_t server, core::SimTime t, bool on) override;
  // Closes the books at the end of the run: trailing idle gaps, unused GPUs, powered-off servers, fleet totals.
  void finalize(core::SimTime end);

  // The network line, priced only when set (an experiment with a `network:` section): per site, its switches'
  // static power and embodied carbon over the run (an idle line) and the energy of the transfers that ended
  // there (charged to their requests). Set before the run.
  void set_network(std::vector<NetworkSitePower> sites) {
    network_sites_ = std::move(sites);
    network_by_site_.assign(network_sites_.size(), Accum{});
    transfer_j_by_site_.assign(network_sites_.size(), 0.0);
    transfer_op_by_site_.assign(network_sites_.size(), 0.0);
  }
  bool has_network() const { return !network_sites_.empty(); }
  const std::vector<NetworkSitePower>& network_sites() const { return network_sites_; }
  // A finished transfer: `joules` spent over [start, end) at `site`'s carbon intensity (its mean over the
  // interval, or its value at `start` for an instantaneous one) and PUE, charged to the request in pool slot
  // `slot` (which must be live: call it before that request's on_request_done) and to the network line, in the
  // decode phase (the transfer hands a request to its decode instance).
  void book_transfer(std::uint32_t slot, std::size_t site, core::SimTime start, core::SimTime end, double joules);
  // Network totals per site and together (switches and transfers; complete once finalize() has run). Energy
  // and carbon are in the host fields of Accum (no GPU part); fleet_total() includes them.
  const Accum& network_site_total(std::size_t site) const { return network_by_site_[site]; }
  Accum network_total() const;

  const std::vector<ServerPower>& servers() const { return servers_; }
  const Accum& server_total(std::size_t s) const { return server_totals_[s]; }
  Accum fleet_total() const;
  // Phase totals; complete once finalize() has run.
  const Accum& phase(Phase p) const { return phases_[p]; }
  const Accum& requests_total() const { return requests_; }
  const Accum& idle_lines() const { return idle_lines_; }
  // Largest relative difference, over energy, operational and embodied, between fleet totals and the sum of
  // per-request attributions plus idle and off lines.
  double conservation_error() const;

  core::SimTime slot() const { return slot_; }
  std::size_t slots() const { return slot_count_; }
  // Bytes one [slot][server] cell of the tables costs at its peak (growth and the output copy included).
  static constexpr std::size_t kBytesPerSlotCell = 2 * (sizeof(Accum) + sizeof(double)) + sizeof(double);
  // Refuses (core::InputError naming carbon.slot) to grow the slot tables past `bytes`, instead of exhausting
  // memory late in a long run; 0: no limit.
  // `where` names the key in the message ("file:line:col: carbon.slot").
  void limit_slot_tables(std::uint64_t bytes, std::string where = "carbon.slot") {
    slot_table_limit_ = bytes;
    slot_where_ = std::move(where);
  }
  // Row-major [slot][server] tables for /timeseries; complete once finalize() has run.
  const std::vector<Accum>& slot_table() const { return slot_accum_; }
  const std::vector<double>& slot_busy_gpu_seconds() const { return slot_busy_; }

 private:
  struct Interval {
    double gpu_w = 0, host_w = 0;                // mean power over the interval
    double gpu_emb_rate = 0, host_emb_rate = 0;  // g/s
    double busy_gpu_s = 0;
  };
  // Prices [a, b) on server s, adds it to the slot tables and to `phase` (a share `prefill_share` of it to
  // kPrefill instead), and returns the amounts. `ci` is the site's integral of CI over [a, b) when known.
  Accum book(std::size_t server, core::SimTime a, core::SimTime b, const Interval& iv, Phase phase,
             double prefill_share = 0, double ci = -1);
  void book_idle(std::size_t instance, core::SimTime a, core::SimTime b);
  // on_step's body: kLine2023 where some instance prices on the 2023 line (its own copy, out of line, chosen at
  // on_step's entry, so that the common one carries no test of the line).
  template <bool kLine2023>
  void on_step_impl(const serving::Instance& instance, const serving::StepRecord& step);
  [[gnu::noinline]] void on_step_line_2023(const serving::Instance& instance, const serving::StepRecord& step);
  // GPU energy above idle of a step of an instance on the 2023 power line; `curve_j`, the power curve's (what
  // on_step charges), for instances of the run that are not on it.
  double line_2023_dynamic_j(std::size_t instance, const ServerPower& sv, const serving::StepRecord& step,
                             double seconds, double curve_j) const;
  bool any_line_2023_ = false;             // some instance prices on the 2023 line
  std::vector<PowerLine2023> lines_2023_;  // per instance when any: weight_read_s 0 for those that do not
  void book_unused(std::size_t server, core::SimTime a, core::SimTime b);  // GPUs no instance uses
  void book_off(std::size_t server, core::SimTime a, core::SimTime b);
  // Grows the slot tables to cover `end`: every step asks, and almost never grows them (inline test, call apart).
  void ensure_slots(core::SimTime end) {
    if (end > slots_end_) [[unlikely]]
      grow_slots(end);
  }
  [[gnu::noinline]] void grow_slots(core::SimTime end);

  std::vector<ServerPower> servers_;
  std::vector<InstancePlace> instances_;
  std::vector<core::SimTime> last_end_;  // per instance: end of its last step
  // Per instance: what one decode taking part in every step so far would have been attributed (energy J,
  // operational g, embodied g). A decode's share is the difference between its end and its beginning.
  std::vector<std::array<double, 3>> decode_accrued_;
  // The same for a request verifying on a target instance (StepRecord::verify_tokens), per instance: the target's
  // steps accrue gamma + 1 tokens each, its draft instance's steps gamma.
  std::vector<std::array<double, 3>> verify_accrued_;
  // Per instance, fixed over the run: power and embodied rates of its devices and its share of the host.
  struct InstanceRates {
    double idle_gpu_w = 0;     // its devices at idle
    double idle_host_w = 0;    // its share of the host's static power
    double busy_host_w = 0;    // that plus the CPU it keeps busy while stepping
    double cpu_busy_w = 0;     // the CPU it keeps busy while stepping
    double gpu_emb_rate = 0;   // g/s
    double host_emb_rate = 0;  // g/s
  };
  std::vector<InstanceRates> rates_;
  // Per instance: its steps within one time slot, summed as the few quantities every amount is linear in, and
  // added to the slot, phase and server tables once when the instance moves on to another slot (or at the end).
  // Saves pricing each step into six tables; per-request attribution still prices each step.
  struct SlotSums {
    std::size_t slot = SIZE_MAX;   // none yet
    core::SimTime lo = 0, hi = 0;  // the slot's bounds: steps within them need no division to place
    // [0] decode part, [1] prefill part (each step split by its prefill share)
    double seconds[2] = {0, 0};     // step time
    double dynamic_j[2] = {0, 0};   // GPU energy above idle
    double ci[2] = {0, 0};          // integral of CI over the steps, (g/kWh) x s
    double dynamic_ci[2] = {0, 0};  // sum of dynamic_j x CI integral / step time, (J/s) x (g/kWh) x s
    double busy_gpu_s = 0;
    // Idle time within the slot that steps reported (StepRecord::idle_until), and the integral of CI over it.
    double idle_seconds = 0, idle_ci = 0;
  };
  std::vector<SlotSums> slot_sums_;
  std::vector<double> g_per_w_s_;  // per server: PUE / (J per kWh), g of CO2e per W x (g/kWh) x s
  void flush_slot_sums(std::size_t instance);
  // Adds a stepping instance's GPU energy above idle and busy-CPU energy (`cpu_w` over `seconds`), and their
  // carbon, to the server's totals; `ci` is the integral of CI over the time, `dynamic_ci` the GPU energy above
  // idle times mean CI.
  void add_server_dynamic(std::size_t server, double cpu_w, double seconds, double dynamic_j, double ci,
                          double dynamic_ci);
  // Per pool slot: the request's attributed carbon, and the per-instance decode accrual (decode_accrued_) when it
  // began decoding (or verifying), settled into its carbon when it stops.
  struct RequestBooks {
    RequestCarbon carbon;
    std::array<double, 3> decode_mark{};  // a verifying request: on its target's verify_accrued_
    std::array<double, 3> draft_mark{};   // a verifying request: on its draft instance's verify_accrued_
  };
  std::vector<RequestBooks> requests_by_slot_;
  core::SimTime slot_;
  std::size_t slot_count_ = 0;
  core::SimTime slots_end_ = 0;  // end of the last allocated slot
  // The slot of the previous lookup: intervals arrive in nearly increasing time, so this saves two divisions.
  std::size_t cached_slot_ = 0;
  core::SimTime cached_lo_ = 0, cached_hi_ = 0;
  std::uint64_t slot_table_limit_ = 0;
  std::string slot_where_;
  std::vector<Accum> slot_accum_;
  std::vector<double> slot_busy_;
  std::vector<double> gpu_dynamic_j_, gpu_dynamic_op_, cpu_dynamic_j_, cpu_dynamic_op_;  // per server
  std::vector<Accum> server_totals_;
  struct PowerState {
    bool on = true;
    core::SimTime since = 0;  // start of the current on or off period
    double on_seconds = 0;
    double on_ci_integral = 0;  // integral of CI over the on periods
    std::vector<std::size_t> instances;
  };
  std::vector<PowerState> power_;
  std::array<Accum, kPhases> phases_{};
  Accum requests_, idle_lines_;
  bool finalized_ = false;
  std::vector<NetworkSitePower> network_sites_;
  std::vector<Accum> network_by_site_;                            // fleet totals of the network line, per site
  std::vector<double> transfer_j_by_site_, transfer_op_by_site_;  // transfer energy and its carbon, per site
};

}  // namespace greenfleet::energy
