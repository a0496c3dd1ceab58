#pragma once
// PostgreSQL's Dialect: a generated tsvector searched with plainto_tsquery,
// json_agg/json_object_agg, to_char(to_timestamp(…)), lower() = lower() and
// plain BEGIN (row locks order concurrent writers).
#include <string>
#include <string_view>

#include "catalog/dialect.hpp"

namespace progimage::catalog::postgres {

const Dialect& dialect() noexcept;

/// User text as plainto_tsquery takes it: bytes that are not UTF-8, NUL and
/// other control characters become blanks; "" when no word is left. The
/// function itself never reads operators, so any text is plain words, which
/// must all match.
std::string search_words(std::string_view text);

}  // namespace progimage::catalog::postgres
