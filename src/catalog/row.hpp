#pragma once
// One row of a query result, as the engine-neutral row mapping reads it.
#include <cstdint>
#include <string>

namespace progimage::catalog {

/// The columns of the current row, counted from 0. An engine's statement or
/// result row implements it (sqlite::Statement; a PostgreSQL result row), so
/// that records.hpp maps the rows of every engine.
class Row {
 public:
  virtual bool is_null(int col) const = 0;
  /// 0 for NULL.
  virtual std::int64_t int64(int col) const = 0;
  /// 0 for NULL.
  virtual double real(int col) const = 0;
  /// "" for NULL.
  virtual std::string text(int col) const = 0;
  int integer(int col) const { return static_cast<int>(int64(col)); }

 protected:
  Row() = default;
  Row(const Row&) = default;
  Row& operator=(const Row&) = default;
  ~Row() = default;
};

}  // namespace progimage::catalog
