#pragma once
#include <string>
#include <vector>

#include "sim/output/hdf5_file.hpp"

namespace greenfleet::output {

// An HDF5 file written under a temporary name beside its final path (PATH.tmp-PID) and renamed only by
// commit(): an error, an exception, Ctrl-C or any fatal signal the process can catch never leaves a partial
// file under the final name, and the temporary file is removed. The constructor checks the path first
// (core::check_output_path: not a directory, device or one of `inputs`; its directory writable) and creates
// the temporary file at once, so a path that cannot be written fails before any simulation.
// Checks that `path` may become a run's output: core::check_output_path (not a directory, device or one of
// `inputs`, its directory writable) and, for an existing non-empty file, that a run wrote it (an HDF5 file with
// the root attribute greenfleet_version): anything else is an InputError, never replaced.
void check_run_output_path(const std::string& path, const std::vector<std::string>& inputs = {});

class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& final_path, const std::vector<std::string>& inputs = {});
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  hid_t file() const { return file_.get(); }
  // Writes every buffer of the file and of the objects open in it (chunk caches included), checked: call it
  // before closing objects whose own close would write and could only fail silently.
  void flush();
  // Flushes, closes and syncs the temporary file, throwing core::EnvironmentError when the disk refused a
  // write (nothing is renamed then). Every object opened in the file must be closed or abandoned before.
  void close();
  // Renames the closed temporary file into place.
  void publish();
  void commit() {
    close();
    publish();
  }

 private:
  std::string final_;
  std::string temp_;
  h5::Handle file_;
  bool committed_ = false;
};

}  // namespace greenfleet::output
