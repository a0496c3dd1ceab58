#pragma once
// The image SQL that every engine runs, written once: the columns of an image
// and the statements of a search. What differs comes from the engine's Dialect.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/dialect.hpp"

namespace progimage::catalog {

using SqlValue = std::variant<std::int64_t, std::string>;

/// The arguments of a statement built at run time, in placeholder order.
class SqlArgs {
 public:
  explicit SqlArgs(const Dialect& dialect) : dialect_(&dialect) {}
  /// Appends `value` and returns its placeholder.
  std::string add(SqlValue value);
  const Dialect& dialect() const noexcept { return *dialect_; }
  const std::vector<SqlValue>& values() const noexcept { return values_; }

 private:
  const Dialect* dialect_;
  std::vector<SqlValue> values_;
};

/// The columns of image `i` that read_image() (records.hpp) maps.
std::string image_columns(const Dialect& dialect);

/// One page of `query` from images `i`: up to `limit` + 1 rows (one more
/// says that another page follows), newest first, after the query's cursor.
/// Throws core::Error(bad_parameter) for a malformed cursor.
std::string list_images_sql(const ImageQuery& query, int limit, SqlArgs& args);

/// Inserts one item into job `job_id` per image that `selector` finds (its
/// cursor and limit aside), positions from 0 in list order.
std::string insert_found_items_sql(const ImageQuery& selector, const std::string& job_id, int max_attempts,
                                   std::int64_t due_ms, SqlArgs& args);

}  // namespace progimage::catalog
