#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace greenfleet::output::h5 {

// Owns one HDF5 identifier and closes it with the right function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer);
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  hid_t release();  // gives up ownership without closing
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

template <class T>
hid_t native_type();
template <>
inline hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
inline hid_t native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}
template <>
inline hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
inline hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
inline hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
inline hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}

void check(herr_t status, const std::string& what);

// Failures whose system error says the disk refused the write (full, read-only, file-size limit) throw
// core::EnvironmentError; other failures std::runtime_error.
Handle create_file(const std::string& path);
// Flushes and closes a file made by create_file, throwing on failure (a write the disk refused); the handle is
// empty afterwards either way.
void close_file(Handle& file);
Handle open_file_readonly(const std::string& path);
// Groups track attribute creation order so readers list attributes as written.
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);

void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, double value);
void write_attr(hid_t obj, const std::string& name, std::int64_t value);
void write_attr(hid_t obj, const std::string& name, std::uint64_t value);

std::string read_string_attr(hid_t obj, const std::string& name);
// Every attribute of `obj` in creation order: numeric ones as numbers, strings as text.
struct AttrValue {
  std::string name;
  bool is_string = false;
  double number = 0;
  std::string text;
};
std::vector<AttrValue> read_attrs(hid_t obj);

// A 1-D dataset written whole (small tables).
template <class T>
void write_column(hid_t group, const std::string& name, const std::vector<T>& values, const std::string& units);
// A scalar string dataset of any length (text too long for an attribute), deflate-compressed.
void write_string_dataset(hid_t group, const std::string& name, const std::string& value);
void write_string_column(hid_t group, const std::string& name, const std::vector<std::string>& values);
// A 2-D row-major dataset written whole.
template <class T>
void write_matrix(hid_t group, const std::string& name, const std::vector<T>& values, std::size_t rows,
                  std::size_t cols, const std::string& units);

enum class Compression { kSzip, kDeflate, kNone };

// A 1-D chunked, compressed dataset that grows by appending.
template <class T>
class AppendColumn {
 public:
  AppendColumn(hid_t group, const std::string& name, const std::string& units, std::size_t chunk_rows,
               Compression compression);
  void append(const T* data, std::size_t n);
  std::size_t size() const { return size_; }

 private:
  Handle dataset_;
  std::size_t size_ = 0;
};

}  // namespace greenfleet::output::h5
