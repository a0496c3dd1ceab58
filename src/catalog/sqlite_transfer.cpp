// SqliteCatalog: rows moved to or from another catalog as they are (transfer.hpp).
#include "catalog/sqlite_access.hpp"

namespace progimage::catalog {

using sqlite::Connection;
using sqlite::Statement;

namespace {

void bind_value(Statement& s, int index, const Value& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) s.bind(index, *n);
  else if (const auto* r = std::get_if<double>(&v)) s.bind(index, *r);
  else if (const auto* t = std::get_if<std::string>(&v)) s.bind(index, *t);
  else s.bind_null(index);
}

}  // namespace

std::vector<TableRow> SqliteCatalog::export_rows(const TransferTable& table, const TableRow& after, int limit) {
  auto r = reader();
  auto s = r->cached(export_sql(table, sqlite::dialect(), !after.empty()));
  int index = 1;
  if (!after.empty())
    for (; index <= static_cast<int>(table.key_columns); ++index) bind_value(*s, index, after[index - 1]);
  s->bind(index, limit);
  std::vector<TableRow> rows;
  while (s->step()) rows.push_back(read_table_row(*s, table));
  return rows;
}

std::int64_t SqliteCatalog::import_rows(const TransferTable& table, const std::vector<TableRow>& rows) {
  return write(Durability::full, [&](Connection& w) {
    auto s = w.cached(import_sql(table, sqlite::dialect()));
    std::int64_t inserted = 0;
    for (const auto& row : rows) {
      s->reset();
      for (std::size_t i = 0; i < row.size(); ++i) bind_value(*s, static_cast<int>(i + 1), row[i]);
      s->run();
      inserted += w.changes();
    }
    return inserted;
  });
}

std::int64_t SqliteCatalog::count_rows(const TransferTable& table) {
  auto r = reader();
  auto s = r->cached(count_sql(table));
  s->step();
  return s->int64(0);
}

}  // namespace progimage::catalog
