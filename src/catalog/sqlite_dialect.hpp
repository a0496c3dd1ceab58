#pragma once
// SQLite's Dialect: FTS5 full-text search, json_group_array/json_group_object,
// date(…, 'unixepoch'), COLLATE NOCASE and BEGIN IMMEDIATE.
#include <string>
#include <string_view>

#include "catalog/dialect.hpp"

namespace progimage::catalog::sqlite {

const Dialect& dialect() noexcept;

/// An FTS5 query that treats user text as plain words: each blank-separated
/// word becomes a quoted string (its quotes doubled), so operators, columns
/// and syntax characters are never interpreted; the words must all match.
/// The tokenizer still stems each one, so "sunset" finds "sunsets".
std::string fts_match_expression(std::string_view text);

}  // namespace progimage::catalog::sqlite
