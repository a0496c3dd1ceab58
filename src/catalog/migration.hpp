#pragma once
// One version of a catalog schema. Each engine lists its own in order;
// append new versions at the end, never edit one that has shipped.

namespace progimage::catalog {

struct Migration {
  int version;      // 1, 2, 3... in order
  const char* sql;  // run in the migration's transaction
};

}  // namespace progimage::catalog
