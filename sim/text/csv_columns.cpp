#include "sim/text/csv_columns.hpp"

#include "sim/core/error.hpp"

namespace greenfleet::text {

CsvColumns read_csv_header(LineReader& rows) {
  if (!rows.next_line()) throw core::InputError(fmt::format("{}:1: empty file", rows.path()));
  std::vector<std::string_view> f;
  split_csv(rows.line(), f);
  CsvColumns col;
  for (std::size_t i = 0; i < f.size(); ++i)
    if (!col.emplace(std::string(f[i]), i).second)
      throw core::InputError(fmt::format("{}:1: column '{}' appears twice (columns {} and {})", rows.path(), f[i],
                                         col.at(std::string(f[i])) + 1, i + 1));
  return col;
}

void require_column(const LineReader& rows, const CsvColumns& col, const std::string& name) {
  if (!col.count(name)) throw core::InputError(fmt::format("{}:1: missing column '{}'", rows.path(), name));
}

void split_csv_row(LineReader& rows, const CsvColumns& col, std::vector<std::string_view>& f) {
  split_csv(rows.line(), f);
  if (f.size() != col.size()) rows.bad_row(fmt::format("expected {} columns, found {}", col.size(), f.size()));
}

}  // namespace greenfleet::text
