#include "sim/output/hdf5_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <stdexcept>

#include "sim/core/error.hpp"
#include "sim/core/output_path.hpp"

namespace greenfleet::output::h5 {

namespace {
// Library errors become exceptions with our own message; HDF5's stack dump on stderr would only confuse users.
const bool kSilenced = [] {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return true;
}();
}  // namespace

Handle::Handle(hid_t id, Closer closer) : id_(id), closer_(closer) { (void)kSilenced; }

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}

hid_t Handle::release() {
  const hid_t id = id_;
  id_ = -1;
  return id;
}

void Handle::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

namespace {
// A failed HDF5 call whose system error says the disk refused the write (full, read-only, over a quota or the
// file-size limit, failing) is the environment's failure (exit 3), anything else a bug (exit 1).
[[noreturn]] void fail(const std::string& what) {
  const int err = errno;
  if (err == ENOSPC || err == EFBIG || err == EDQUOT || err == EROFS || err == EIO)
    core::throw_write_error("writing the output file (" + what + ")", err);
  throw std::runtime_error("HDF5: " + what + " failed");
}
}  // namespace

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

static Handle checked(hid_t id, Handle::Closer closer, const std::string& what) {
  if (id < 0) fail(what);
  return Handle(id, closer);
}

Handle create_file(const std::string& path) {
  (void)kSilenced;
  // Closing the file closes every object still open in it, so the close (and its final flush) is one call
  // whose failure close_file() reports.
  Handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access properties");
  check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "close degree");
  errno = 0;
  return checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "creating " + path);
}

void close_file(Handle& file) {
  if (!file) return;
  errno = 0;
  const herr_t flushed = H5Fflush(file.get(), H5F_SCOPE_GLOBAL);
  const int flush_errno = errno;
  const hid_t id = file.release();
  const herr_t closed = H5Fclose(id);
  if (flushed < 0) errno = flush_errno;
  if (flushed < 0 || closed < 0) fail("closing the file");
}

Handle open_file_readonly(const std::string& path) {
  (void)kSilenced;
  return checked(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "opening " + path);
}

Handle create_group(hid_t parent, const std::string& name) {
  Handle gcpl = checked(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "group properties");
  check(H5Pset_attr_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED), "attribute order");
  return checked(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose,
                 "creating group " + name);
}

Handle open_group(hid_t parent, const std::string& name) {
  return checked(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose, "opening group " + name);
}

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), value.empty() ? 1 : value.size()), "string size");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string padding");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string charset");
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Handle attr = checked(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                        "attribute " + name);
  const char zero = 0;
  check(H5Awrite(attr.get(), type.get(), value.empty() ? &zero : value.data()), "writing attribute " + name);
}

template <class T>
static void write_scalar_attr(hid_t obj, const std::string& name, T value) {
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Handle attr = checked(H5Acreate2(obj, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "attribute " + name);
  check(H5Awrite(attr.get(), native_type<T>(), &value), "writing attribute " + name);
}

void write_attr(hid_t obj, const std::string& name, double value) { write_scalar_attr(obj, name, value); }
void write_attr(hid_t obj, const std::string& name, std::int64_t value) { write_scalar_attr(obj, name, value); }
void write_attr(hid_t obj, const std::string& name, std::uint64_t value) { write_scalar_attr(obj, name, value); }

// Attributes are read into one value: an array (a file written by another program) would overrun it.
static void check_one_value(hid_t attr) {
  Handle space = checked(H5Aget_space(attr), H5Sclose, "attribute dataspace");
  if (const hssize_t n = H5Sget_simple_extent_npoints(space.get()); n != 1)
    throw std::runtime_error(fmt::format("an attribute holds {} values, not one", n));
}

static std::string read_string(hid_t attr) {
  check_one_value(attr);
  Handle type = checked(H5Aget_type(attr), H5Tclose, "attribute type");
  if (H5Tis_variable_str(type.get()) > 0) {
    char* s = nullptr;
    Handle mem = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
    check(H5Tset_size(mem.get(), H5T_VARIABLE), "string size");
    check(H5Tset_cset(mem.get(), H5Tget_cset(type.get())), "string character set");  // UTF-8 (h5py) or ASCII
    check(H5Aread(attr, mem.get(), &s), "reading attribute");
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const std::size_t n = H5Tget_size(type.get());
  std::string out(n, '\0');
  check(H5Aread(attr, type.get(), out.data()), "reading attribute");
  out.resize(out.find('\0') == std::string::npos ? n : out.find('\0'));
  return out;
}

std::string read_string_attr(hid_t obj, const std::string& name) {
  Handle attr = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "opening attribute " + name);
  return read_string(attr.get());
}

std::vector<AttrValue> read_attrs(hid_t obj) {
  std::vector<AttrValue> out;
  H5O_info_t info;
  check(H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS), "object info");
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Handle attr = checked(H5Aopen_by_idx(obj, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                          H5Aclose, "attribute by index");
    AttrValue v;
    const ssize_t len = H5Aget_name(attr.get(), 0, nullptr);
    v.name.resize(static_cast<std::size_t>(len));
    H5Aget_name(attr.get(), static_cast<std::size_t>(len) + 1, v.name.data());
    Handle type = checked(H5Aget_type(attr.get()), H5Tclose, "attribute type");
    if (H5Tget_class(type.get()) == H5T_STRING) {
      v.is_string = true;
      v.text = read_string(attr.get());
    } else {
      check_one_value(attr.get());
      check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v.number), "reading attribute " + v.name);
    }
    out.push_back(std::move(v));
  }
  return out;
}

template <class T>
void write_column(hid_t group, const std::string& name, const std::vector<T>& values, const std::string& units) {
  const hsize_t dims[1] = {values.size()};
  Handle space = checked(H5Screate_simple(1, dims, nullptr), H5Sclose, "dataspace");
  Handle ds = checked(
      H5Dcreate2(group, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, "dataset " + name);
  if (!values.empty())
    check(H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "writing " + name);
  if (!units.empty()) write_attr(ds.get(), "units", units);
}

template void write_column<std::int64_t>(hid_t, const std::string&, const std::vector<std::int64_t>&,
                                         const std::string&);
template void write_column<std::uint64_t>(hid_t, const std::string&, const std::vector<std::uint64_t>&,
                                          const std::string&);
template void write_column<std::int32_t>(hid_t, const std::string&, const std::vector<std::int32_t>&,
                                         const std::string&);
template void write_column<double>(hid_t, const std::string&, const std::vector<double>&, const std::string&);

void write_string_dataset(hid_t group, const std::string& name, const std::string& value) {
  // A 1-D array of bytes would compress, but a scalar fixed-length string reads back as text everywhere
  // (h5py: f["config_yaml"][()].decode()); contiguous storage keeps it simple.
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), value.empty() ? 1 : value.size()), "string size");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string padding");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string charset");
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
  Handle ds =
      checked(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose, "dataset " + name);
  const char zero = 0;
  check(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.empty() ? &zero : value.data()),
        "writing " + name);
}

void write_string_column(hid_t group, const std::string& name, const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> buf(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buf.begin() + i * width);
  Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), width), "string size");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string padding");
  const hsize_t dims[1] = {values.size()};
  Handle space = checked(H5Screate_simple(1, dims, nullptr), H5Sclose, "dataspace");
  Handle ds =
      checked(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose, "dataset " + name);
  if (!values.empty())
    check(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "writing " + name);
}

template <class T>
void write_matrix(hid_t group, const std::string& name, const std::vector<T>& values, std::size_t rows,
                  std::size_t cols, const std::string& units) {
  const hsize_t dims[2] = {rows, cols};
  Handle space = checked(H5Screate_simple(2, dims, nullptr), H5Sclose, "dataspace");
  Handle ds = checked(
      H5Dcreate2(group, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, "dataset " + name);
  if (!values.empty())
    check(H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "writing " + name);
  if (!units.empty()) write_attr(ds.get(), "units", units);
}
template void write_matrix<std::uint64_t>(hid_t, const std::string&, const std::vector<std::uint64_t>&,
                                          std::size_t, std::size_t, const std::string&);
template void write_matrix<double>(hid_t, const std::string&, const std::vector<double>&, std::size_t, std::size_t,
                                   const std::string&);

template <class T>
AppendColumn<T>::AppendColumn(hid_t group, const std::string& name, const std::string& units,
                              std::size_t chunk_rows, Compression compression) {
  const hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {chunk_rows};
  Handle space = checked(H5Screate_simple(1, dims, maxdims), H5Sclose, "dataspace");
  Handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset properties");
  check(H5Pset_chunk(dcpl.get(), 1, chunk), "chunking");
  // SZIP (libaec, shipped with Debian's HDF5) compresses numeric columns several times faster than deflate at a
  // similar ratio; deflate with shuffle is the fallback where a build lacks the SZIP encoder.
  unsigned int szip_config = 0;
  if (compression == Compression::kNone) {
    // chunked but stored as is: the fastest output, several times larger
  } else if (compression == Compression::kSzip && H5Zfilter_avail(H5Z_FILTER_SZIP) > 0 &&
             H5Zget_filter_info(H5Z_FILTER_SZIP, &szip_config) >= 0 &&
             (szip_config & H5Z_FILTER_CONFIG_ENCODE_ENABLED)) {
    check(H5Pset_szip(dcpl.get(), H5_SZIP_NN_OPTION_MASK, 32), "szip filter");
  } else {
    check(H5Pset_shuffle(dcpl.get()), "shuffle filter");
    check(H5Pset_deflate(dcpl.get(), 1), "deflate filter");
  }
  dataset_ =
      checked(H5Dcreate2(group, name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
              H5Dclose, "dataset " + name);
  if (!units.empty()) write_attr(dataset_.get(), "units", units);
}

template <class T>
void AppendColumn<T>::append(const T* data, std::size_t n) {
  if (n == 0) return;
  const hsize_t new_size[1] = {size_ + n};
  check(H5Dset_extent(dataset_.get(), new_size), "extending dataset");
  Handle file_space = checked(H5Dget_space(dataset_.get()), H5Sclose, "dataspace");
  const hsize_t start[1] = {size_}, count[1] = {n};
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "selection");
  Handle mem_space = checked(H5Screate_simple(1, count, nullptr), H5Sclose, "dataspace");
  check(H5Dwrite(dataset_.get(), native_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT, data),
        "appending rows");
  size_ += n;
}

template class AppendColumn<std::int64_t>;
template class AppendColumn<std::uint64_t>;
template class AppendColumn<std::int32_t>;
template class AppendColumn<std::uint8_t>;
template class AppendColumn<double>;
template class AppendColumn<float>;

}  // namespace greenfleet::output::h5
