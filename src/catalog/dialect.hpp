#pragma once
// What differs between the SQL of two database engines. Everything else the
// catalogs write is SQL that SQLite (3.35+) and PostgreSQL both run: RETURNING,
// ON CONFLICT, row values, window functions. Each engine fills one Dialect
// (sqlite_dialect.hpp); the shared SQL (image_sql.hpp) takes it.
#include <cstddef>
#include <string>
#include <string_view>

namespace progimage::catalog {

/// Whether the commit of a write waits for the disk.
enum class Durability {
  full,     // survives power loss once the call returns: uploads, edits, deletes, new jobs
  relaxed,  // survives a crash of the process; a power loss may forget the latest ones
};

struct Dialect {
  /// The placeholder of the n-th argument, from 1: "?1" in SQLite, "$1" in PostgreSQL.
  std::string (*placeholder)(std::size_t n);
  /// Starts a write transaction that takes the write lock at once, so that
  /// concurrent writers wait for each other instead of failing to upgrade.
  const char* begin_write;
  /// The tags of image `i` as JSON array text.
  const char* image_tags_json;
  /// The variants of image `i` as JSON object text, name -> status.
  const char* image_variants_json;
  /// What to bind for a full-text search of user text: "" when the text has
  /// no words (then there is no condition). Never interprets the text as
  /// query syntax.
  std::string (*text_search_argument)(std::string_view text);
  /// The condition that image `i`'s name or description matches the argument.
  std::string (*text_search_condition)(std::string_view placeholder);
  /// `column` equals the argument, ignoring ASCII case.
  std::string (*equals_ignoring_case)(std::string_view column, std::string_view placeholder);
  /// The UTC day, "YYYY-MM-DD", of an expression in unix seconds.
  std::string (*utc_day)(std::string_view unix_seconds);
  /// Said before VALUES in an INSERT that gives a generated key itself
  /// (rows moved from another catalog keep their numbers).
  const char* insert_given_key;
};

}  // namespace progimage::catalog
