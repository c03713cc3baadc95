#include "sim/output/summary.hpp"

#include <fmt/format.h>

#include <cmath>

#include "sim/core/error.hpp"
#include "sim/output/hdf5_file.hpp"

namespace greenfleet::output {

namespace {
std::string number(double v) {
  if (std::isnan(v)) return "n/a";
  if (v == std::floor(v) && std::abs(v) < 1e15) return fmt::format("{:.0f}", v);
  if (std::abs(v) >= 1000) return fmt::format("{:.1f}", v);
  return fmt::format("{:.4g}", v);
}
}  // namespace

std::string format_table(const Summary& s) {
  std::size_t width = 10;
  for (const auto& i : s.items) width = std::max(width, i.label.size());
  std::string out = s.title.empty() ? "" : s.title + "\n";
  out += fmt::format("  {:<{}}  {:>14}\n", "metric", width, "value");
  out += fmt::format("  {:-<{}}  {:->14}\n", "", width, "");
  for (const auto& i : s.items) out += fmt::format("  {:<{}}  {:>14}\n", i.label, width, number(i.value));
  return out;
}

std::string format_json(const Summary& s) {
  std::string out = "{";
  for (std::size_t k = 0; k < s.items.size(); ++k) {
    const double v = s.items[k].value;
    out += fmt::format("{}\n  \"{}\": {}", k ? "," : "", s.items[k].key,
                       std::isfinite(v) ? fmt::format("{}", v) : std::string("null"));
  }
  return out + "\n}\n";
}

void write_summary(long long file_id, const Summary& s, const std::string& group_name) {
  h5::Handle group = h5::create_group(static_cast<hid_t>(file_id), group_name);
  h5::write_attr(group.get(), "title", s.title);
  for (const auto& i : s.items) h5::write_attr(group.get(), i.key, i.value);
  // Labels travel with the values so `greenfleet summary` prints the same table as the run did.
  std::vector<std::string> keys, labels;
  for (const auto& i : s.items) keys.push_back(i.key), labels.push_back(i.label);
  h5::write_string_column(group.get(), "keys", keys);
  h5::write_string_column(group.get(), "labels", labels);
}

Summary read_summary(const std::string& path, const std::string& group_name, bool optional) {
  h5::Handle file;
  try {
    file = h5::open_file_readonly(path);
  } catch (const std::exception&) {
    throw core::InputError(fmt::format("{}: cannot open as an HDF5 file", path));
  }
  h5::Handle group;
  if (optional && H5Lexists(file.get(), group_name.c_str(), H5P_DEFAULT) <= 0) return {};
  try {
    group = h5::open_group(file.get(), group_name);
  } catch (const std::exception&) {
    throw core::InputError(fmt::format("{}: no /{} group (not a greenfleet output?)", path, group_name));
  }
  Summary s;
  std::vector<h5::AttrValue> attrs;
  try {
    attrs = h5::read_attrs(group.get());
  } catch (const std::exception& e) {  // a file another program wrote or changed: bad input, not a bug
    throw core::InputError(
        fmt::format("{}: /{}: not a readable greenfleet output ({})", path, group_name, e.what()));
  }
  for (const auto& a : attrs) {
    if (a.name == "title")
      s.title = a.text;
    else if (!a.is_string)
      s.items.push_back({a.name, a.number, a.name});
  }
  // Labels, when present, replace the bare keys: one fixed-length string per item (other shapes, from files
  // another program changed, would overrun the buffer: left out).
  const hid_t ds = H5Dopen2(group.get(), "labels", H5P_DEFAULT);
  if (ds >= 0) {
    h5::Handle d(ds, H5Dclose);
    h5::Handle type(H5Dget_type(ds), H5Tclose);
    h5::Handle space(H5Dget_space(ds), H5Sclose);
    const std::size_t width = H5Tget_size(type.get());
    std::vector<char> buf(width * s.items.size());
    if (!buf.empty() && H5Tget_class(type.get()) == H5T_STRING && H5Tis_variable_str(type.get()) == 0 &&
        H5Sget_simple_extent_npoints(space.get()) == static_cast<hssize_t>(s.items.size()) &&
        H5Dread(ds, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0) {
      for (std::size_t i = 0; i < s.items.size(); ++i) {
        std::string l(buf.data() + i * width, width);
        l.resize(l.find('\0') == std::string::npos ? width : l.find('\0'));
        s.items[i].label = l;
      }
    }
  }
  return s;
}

}  // namespace greenfleet::output
