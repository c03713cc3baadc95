#include "sim/study/sweep_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <sstream>
#include <string_view>
#include <thread>

#include "greenfleet/version.hpp"
#include "sim/core/error.hpp"
#include "sim/output/hdf5_file.hpp"
#include "sim/output/summary.hpp"
#include "sim/text/text_file.hpp"

#ifdef GREENFLEET_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

extern char** environ;

namespace greenfleet::study {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sweep_signal(int) { g_interrupted = true; }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string("nan"); }

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("sweep: cannot find the greenfleet binary (/proc/self/exe)");
  return p.string();
}

// Child `greenfleet run` processes, `jobs` at a time, for one process (rank).
class LocalRuns {
 public:
  LocalRuns(const experiment::Sweep& sweep, const std::vector<std::string>& resolved, const SweepOptions& o)
      : sweep_(sweep), resolved_(resolved), o_(o), exe_(self_exe()) {}
  ~LocalRuns() { kill_all(); }

  bool has_room() const { return static_cast<int>(running_.size()) < o_.jobs; }
  bool idle() const { return running_.empty() && ready_.empty(); }

  // Starts run `i`, or finds it already up to date.
  void start(std::size_t i) {
    const auto& run = sweep_.runs[i];
    const std::string path = (fs::path(o_.output_dir) / run.output).string();
    if (up_to_date(path, resolved_[i])) {
      RunOutcome r = read_outcome(path);
      r.reused = true;
      ready_.emplace_back(i, r);
      return;
    }
    std::vector<std::string> args = {exe_, "run", o_.experiment_file, "-q", "--no-notes", "-o", path};
    args.insert(args.end(), o_.run_args.begin(), o_.run_args.end());
    for (const auto& ov : run.overrides) args.push_back("--set"), args.push_back(ov);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, exe_.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    // The binary a sweep runs is its own: failing to start it again (removed, replaced or made unexecutable
    // while the sweep runs, or no process left to the user) is the environment's doing, not a bug.
    if (rc != 0)
      throw core::EnvironmentError(
          fmt::format("sweep: cannot start {}: {} (was it removed or replaced during the "
                      "sweep?); completed runs are kept and a rerun reuses them",
                      exe_, std::strerror(rc)));
    running_[pid] = {i, std::chrono::steady_clock::now()};
  }

  // Outcomes of runs finished since the last call.
  std::vector<std::pair<std::size_t, RunOutcome>> poll() {
    std::vector<std::pair<std::size_t, RunOutcome>> out(ready_.begin(), ready_.end());
    ready_.clear();
    for (auto it = running_.begin(); it != running_.end();) {
      int status = 0;
      const pid_t r = ::waitpid(it->first, &status, WNOHANG);
      if (r == 0) {
        ++it;
        continue;
      }
      const std::size_t i = it->second.run;
      const bool ok = r == it->first && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (r == it->first && WIFEXITED(status) && WEXITSTATUS(status) == 130) g_interrupted = true;
      RunOutcome o;
      o.status = "failed";
      if (ok) o = read_outcome((fs::path(o_.output_dir) / sweep_.runs[i].output).string());
      out.emplace_back(i, o);
      it = running_.erase(it);
    }
    return out;
  }

  void kill_all() {
    for (auto& [pid, r] : running_) ::kill(pid, SIGTERM);
    for (auto& [pid, r] : running_) ::waitpid(pid, nullptr, 0);
    running_.clear();
  }

 private:
  struct Running {
    std::size_t run;
    std::chrono::steady_clock::time_point start;
  };
  const experiment::Sweep& sweep_;
  const std::vector<std::string>& resolved_;
  const SweepOptions& o_;
  std::string exe_;
  std::map<pid_t, Running> running_;
  std::deque<std::pair<std::size_t, RunOutcome>> ready_;
};

void progress(const SweepOptions& o, const experiment::Sweep& sweep, std::size_t done, std::size_t i,
              const RunOutcome& r, int rank) {
  if (o.quiet) return;
  const auto& run = sweep.runs[i];
  std::string values;
  for (std::size_t c = 0; c < sweep.columns.size(); ++c)
    values += fmt::format("{}{}={}", c ? " " : "", sweep.columns[c], run.values[c]);
  fmt::print(stderr, "sweep [{}/{}] point {} replica {}: {}{} ({:.2f} s{}) {}\n", done, sweep.runs.size(),
             run.point, run.replica, r.status, r.reused ? ", reused" : "", r.wall_seconds,
             rank >= 0 ? fmt::format(", rank {}", rank) : std::string(), values);
}

void nap() { std::this_thread::sleep_for(std::chrono::milliseconds(10)); }

#ifdef GREENFLEET_MPI
constexpr int kTagRequest = 1, kTagAssign = 2, kTagResult = 3;

void send_text(const std::string& s, int dest, int tag) {
  MPI_Send(s.data(), static_cast<int>(s.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD);
}
std::string recv_text(int source, int tag, MPI_Status* st) {
  MPI_Status probe;
  MPI_Probe(source, tag, MPI_COMM_WORLD, &probe);
  int n = 0;
  MPI_Get_count(&probe, MPI_CHAR, &n);
  std::string s(static_cast<std::size_t>(n), '\0');
  MPI_Recv(s.data(), n, MPI_CHAR, probe.MPI_SOURCE, probe.MPI_TAG, MPI_COMM_WORLD, st);
  return s;
}
#endif

}  // namespace

std::string RunOutcome::serialize() const {
  std::string s = fmt::format("{}\n{}\n{}\n", status, number(wall_seconds), reused ? 1 : 0);
  for (const auto& [k, v] : summary) s += fmt::format("{} {}\n", k, number(v));
  return s;
}

RunOutcome RunOutcome::parse(const std::string& text) {
  std::istringstream in(text);
  RunOutcome r;
  std::string wall, line;
  int reused = 0;
  in >> r.status >> wall >> reused;
  r.wall_seconds = std::strtod(wall.c_str(), nullptr);
  r.reused = reused != 0;
  std::string k, v;
  while (in >> k >> v) r.summary.emplace_back(k, std::strtod(v.c_str(), nullptr));
  return r;
}

bool up_to_date(const std::string& path, const std::string& resolved_yaml) {
  if (!fs::exists(path)) return false;
  try {
    const output::h5::Handle f = output::h5::open_file_readonly(path);
    return output::h5::read_string_attr(f.get(), "git_revision") == core::kGitRevision &&
           output::h5::read_string_attr(f.get(), "config_yaml") == resolved_yaml;
  } catch (const std::exception&) {
    return false;
  }
}

RunOutcome read_outcome(const std::string& path) {
  RunOutcome r;
  r.status = "ok";
  for (const auto& item : output::read_summary(path).items) r.summary.emplace_back(item.key, item.value);
  for (const auto& item : output::read_summary(path, "run_info", true).items)
    if (item.key == "wall_seconds") r.wall_seconds = item.value;
  return r;
}

std::string index_csv(const experiment::Sweep& sweep, const std::vector<RunOutcome>& outcomes) {
  std::vector<std::string> keys;
  for (const auto& o : outcomes)
    if (o.status == "ok") {
      for (const auto& kv : o.summary) keys.push_back(kv.first);
      break;
    }
  std::string out = "point,replica,status,output";
  for (const auto& c : sweep.columns) out.append(",").append(csv_field(c));
  for (const auto& k : keys) out.append(",").append(csv_field(k));
  out += ",wall_seconds\n";
  for (std::size_t i = 0; i < sweep.runs.size(); ++i) {
    const auto& run = sweep.runs[i];
    const RunOutcome& o = outcomes[i];
    out += fmt::format("{},{},{},{}", run.point, run.replica, o.status, csv_field(run.output));
    for (const auto& v : run.values) out.append(",").append(csv_field(v));
    std::map<std::string, double> by_key(o.summary.begin(), o.summary.end());
    for (const auto& k : keys) {
      const auto it = by_key.find(k);
      out.append(",").append(o.status == "ok" && it != by_key.end() ? number(it->second) : std::string());
    }
    out.append(",").append(o.status == "ok" ? number(o.wall_seconds) : std::string()).append("\n");
  }
  return out;
}

bool launched_under_mpi() {
#ifdef GREENFLEET_MPI
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(v)) return true;
#endif
  return false;
}

bool lead_process() {
  if (!launched_under_mpi()) return true;
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char* r = std::getenv(v)) return std::string_view(r) == "0";
  return true;
}

int run_sweep(const experiment::Sweep& sweep, const std::vector<std::string>& resolved, const SweepOptions& o) {
  fs::create_directories(o.output_dir);
  g_interrupted = false;
  auto* old_int = std::signal(SIGINT, on_sweep_signal);
  auto* old_term = std::signal(SIGTERM, on_sweep_signal);
  const std::size_t total = sweep.runs.size();
  std::vector<RunOutcome> outcomes(total);
  std::size_t next = 0, done = 0;
  int rank = 0, ranks = 1;
  const bool mpi = launched_under_mpi();
#ifdef GREENFLEET_MPI
  if (mpi) {
    MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  }
#endif
  LocalRuns local(sweep, resolved, o);
  bool interrupted = false;

  if (rank == 0) {
    int stopped_workers = 0;
    while (done < total || stopped_workers < ranks - 1) {
      if (g_interrupted) {
        interrupted = true;
        break;
      }
      bool busy = false;
      while (local.has_room() && next < total) local.start(next++), busy = true;
      for (auto& [i, r] : local.poll()) {
        outcomes[i] = r, ++done, busy = true;
        progress(o, sweep, done, i, r, mpi ? 0 : -1);
      }
#ifdef GREENFLEET_MPI
      int flag = 1;
      while (mpi && flag) {
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) break;
        busy = true;
        if (st.MPI_TAG == kTagRequest) {
          std::int64_t dummy = 0, assign = next < total ? static_cast<std::int64_t>(next++) : -1;
          MPI_Recv(&dummy, 1, MPI_INT64_T, st.MPI_SOURCE, kTagRequest, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          MPI_Send(&assign, 1, MPI_INT64_T, st.MPI_SOURCE, kTagAssign, MPI_COMM_WORLD);
          if (assign < 0) ++stopped_workers;
        } else {
          const std::string text = recv_text(st.MPI_SOURCE, kTagResult, MPI_STATUS_IGNORE);
          const auto nl = text.find('\n');
          const std::size_t i = std::stoull(text.substr(0, nl));
          outcomes[i] = RunOutcome::parse(text.substr(nl + 1)), ++done;
          progress(o, sweep, done, i, outcomes[i], st.MPI_SOURCE);
        }
      }
#endif
      if (!busy) nap();
    }
  } else {
#ifdef GREENFLEET_MPI
    bool stopped = false;
    while (!stopped || !local.idle()) {
      if (g_interrupted) {
        interrupted = true;
        break;
      }
      bool busy = false;
      while (!stopped && local.has_room()) {
        std::int64_t ask = 0, assign = -1;
        MPI_Send(&ask, 1, MPI_INT64_T, 0, kTagRequest, MPI_COMM_WORLD);
        MPI_Recv(&assign, 1, MPI_INT64_T, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (assign < 0) {
          stopped = true;
        } else {
          local.start(static_cast<std::size_t>(assign));
        }
        busy = true;
      }
      for (auto& [i, r] : local.poll()) {
        send_text(fmt::format("{}\n{}", i, r.serialize()), 0, kTagResult);
        busy = true;
      }
      if (!busy) nap();
    }
#endif
  }
  local.kill_all();
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
#ifdef GREENFLEET_MPI
  if (mpi && interrupted) MPI_Abort(MPI_COMM_WORLD, 130);
#endif
  if (interrupted) {
    if (rank == 0)
      fmt::print(stderr, "interrupted: finished runs are kept, no index written; run again to resume\n");
    return 130;
  }
  int rc = 0;
  if (rank == 0) {
    text::write_file((fs::path(o.output_dir) / "index.csv").string(), index_csv(sweep, outcomes));
    for (const auto& r : outcomes)
      if (r.status != "ok") rc = 1;
  }
#ifdef GREENFLEET_MPI
  if (mpi) {
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
  }
#endif
  return rc;
}

}  // namespace greenfleet::study
