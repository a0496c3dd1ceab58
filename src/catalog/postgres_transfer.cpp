// PostgresCatalog: rows moved to or from another catalog as they are (transfer.hpp).
#include "catalog/postgres_access.hpp"

namespace progimage::catalog {

using postgres::Connection;
using postgres::Param;

namespace {

Param value_param(const Value& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) return postgres::param(*n);
  if (const auto* r = std::get_if<double>(&v)) return postgres::param(*r);
  if (const auto* t = std::get_if<std::string>(&v)) return postgres::param(*t);
  return Param{};  // NULL, of the column's type
}

/// After rows came with their own numbers, new rows are numbered after the
/// highest (an identity column does not look at what was inserted).
void move_counter_past(Connection& c, const TransferTable& table) {
  const std::string name(table.name), key(table.columns[0].name);
  c.run_once("SELECT setval(pg_get_serial_sequence('" + name + "', '" + key + "'), (SELECT COALESCE(max(" + key +
                 "), 0) + 1 FROM " + name + "), false)",
             {});
}

}  // namespace

std::vector<TableRow> PostgresCatalog::export_rows(const TransferTable& table, const TableRow& after, int limit) {
  return read([&](Connection& c) {
    std::vector<Param> params;
    for (std::size_t i = 0; i < after.size() && i < table.key_columns; ++i) params.push_back(value_param(after[i]));
    params.push_back(postgres::param(limit));
    auto r = c.run_prepared(export_sql(table, postgres::dialect(), !after.empty()), params);
    std::vector<TableRow> rows;
    while (r.step()) rows.push_back(read_table_row(r, table));
    return rows;
  });
}

std::int64_t PostgresCatalog::import_rows(const TransferTable& table, const std::vector<TableRow>& rows) {
  return write(Durability::full, [&](Connection& c) {
    const std::string sql = import_sql(table, postgres::dialect());
    std::int64_t inserted = 0;
    for (const auto& row : rows) {
      std::vector<Param> params;
      params.reserve(row.size());
      for (const auto& v : row) params.push_back(value_param(v));
      inserted += c.run_prepared(sql, params).changes();
    }
    if (table.numbered && inserted > 0) move_counter_past(c, table);
    return inserted;
  });
}

std::int64_t PostgresCatalog::count_rows(const TransferTable& table) {
  return read([&](Connection& c) {
    auto r = c.run_prepared(count_sql(table), {});
    r.step();
    return r.int64(0);
  });
}

}  // namespace progimage::catalog
