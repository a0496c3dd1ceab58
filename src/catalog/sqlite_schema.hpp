#pragma once
// The SQLite schema as an ordered list of migrations. Append new versions at
// the end; never edit one that has shipped.
#include <span>

namespace progimage::catalog::sqlite {

struct Migration {
  int version;      // 1, 2, 3... in order
  const char* sql;  // run in the migration's transaction
};

std::span<const Migration> migrations() noexcept;

}  // namespace progimage::catalog::sqlite
