#pragma once
// The PostgreSQL schema as an ordered list of migrations, applied at start
// under an advisory lock (see PostgresCatalog::migrate).
#include <span>

#include "catalog/migration.hpp"

namespace progimage::catalog::postgres {

using catalog::Migration;

std::span<const Migration> migrations() noexcept;

}  // namespace progimage::catalog::postgres
