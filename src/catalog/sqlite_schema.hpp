#pragma once
// The SQLite schema as an ordered list of migrations. Append new versions at
// the end; never edit one that has shipped.
#include <span>

#include "catalog/migration.hpp"

namespace progimage::catalog::sqlite {

using catalog::Migration;

std::span<const Migration> migrations() noexcept;

}  // namespace progimage::catalog::sqlite
