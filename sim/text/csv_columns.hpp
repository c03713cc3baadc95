#pragma once
#include <fmt/format.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/text/text_rows.hpp"

namespace greenfleet::text {

// CSV files read by column name (the calibrations' profiling data: SplitwiseSim, Vidur, ML.ENERGY), whose
// column order differs between files and releases.

// Column name -> index, from the header line.
using CsvColumns = std::map<std::string, std::size_t>;

// Reads the header line. An empty file, or a name that appears twice (which column would be meant?), is an
// error naming file:1.
CsvColumns read_csv_header(LineReader& rows);

// An error naming file:1 unless the header has column `name`.
void require_column(const LineReader& rows, const CsvColumns& col, const std::string& name);

// Splits the current line into `f`; a row with another number of fields than the header is an error naming
// file:line.
void split_csv_row(LineReader& rows, const CsvColumns& col, std::vector<std::string_view>& f);

// One field of the current row as a number, or an error naming file:line and the column.
template <class T>
T csv_number(LineReader& rows, const std::vector<std::string_view>& f, const CsvColumns& col,
             const std::string& name) {
  T v{};
  const std::string_view s = f[col.at(name)];
  if (!parse_number(s, v)) rows.bad_row(fmt::format("column '{}': '{}' is not a number", name, s));
  return v;
}

}  // namespace greenfleet::text
