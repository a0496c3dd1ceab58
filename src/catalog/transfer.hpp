#pragma once
// Rows that move from one catalog to another as they are (`progimage copy`):
// the tables an installation's data lives in, their columns, and their rows
// as values that every engine reads and writes alike. Ids, secrets' hashes
// and times move unchanged, so that keys, links and signed URLs handed out
// before a move keep working after it.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "catalog/dialect.hpp"
#include "catalog/row.hpp"

namespace progimage::catalog {

enum class ColumnType { integer, real, text };

struct Column {
  std::string_view name;
  ColumnType type;
};

/// A column's value: NULL, an integer, a real or text.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;
/// One row of a TransferTable, its columns in the table's order.
using TableRow = std::vector<Value>;

/// A table whose rows move as they are. Its first `key_columns` columns are
/// its primary key, which orders its rows alike in every engine (integers,
/// or text compared bytewise).
struct TransferTable {
  std::string_view name;
  std::span<const Column> columns;
  std::size_t key_columns = 1;
  /// The rows that move ("" for all): a condition on the table's columns.
  std::string_view only;
  /// The key is a number the engine assigns to new rows (job items): an
  /// import gives it explicitly and moves the engine's counter past it.
  bool numbered = false;
  /// Rows that can be made again (the derivative index): moved on request.
  bool cache = false;
  /// Brings a row read from any engine to one form, so that rows of two
  /// catalogs compare equal when they mean the same; nullptr for none.
  void (*normalize)(TableRow& row) = nullptr;
};

/// Every table that moves, each after the tables its rows refer to. What
/// stays behind: the node list (nodes beat again where they run) and
/// unfinished resumable uploads (their bytes are in one node's data
/// directory: their clients start again).
std::span<const TransferTable> transfer_tables() noexcept;

/// Orders rows by their first `n` columns; <0, 0 or >0.
int compare_keys(const TableRow& a, const TableRow& b, std::size_t n);
/// The column's index in the table; throws std::invalid_argument when it has none.
std::size_t column_index(const TransferTable& table, std::string_view column);

/// The current row of a result over the table's columns, normalized.
TableRow read_table_row(const Row& row, const TransferTable& table);

// The SQL each engine runs for an export, a count and an import, in its dialect.

/// The table's rows in key order, `limit` at a time: with `after`, the key
/// columns' values are the first arguments and the limit the last one.
std::string export_sql(const TransferTable& table, const Dialect& dialect, bool after);
std::string count_sql(const TransferTable& table);
/// Inserts one row (every column an argument, in order) unless a row with the
/// same key, or the same value of another unique column, is there already.
std::string import_sql(const TransferTable& table, const Dialect& dialect);

/// One line for messages: the table and the row's key, e.g. "api_keys id=4Jb1m…".
std::string describe_key(const TransferTable& table, const TableRow& row);

}  // namespace progimage::catalog
