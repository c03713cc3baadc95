#pragma once
#include <string>

#include "sim/output/hdf5_file.hpp"

namespace greenfleet::output {

// An HDF5 file written under a temporary name beside its final path and renamed only by commit(): an error,
// an exception or Ctrl-C never leaves a partial file under the final name.
class AtomicOutput {
 public:
  explicit AtomicOutput(const std::string& final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  hid_t file() const { return file_.get(); }
  void commit();

 private:
  std::string final_;
  std::string temp_;
  h5::Handle file_;
  bool committed_ = false;
};

}  // namespace greenfleet::output
