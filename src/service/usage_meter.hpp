#pragma once
// Usage by day, tenant and client, counted in memory on every request and
// written to the catalog in batches (flush()): no write per request. A crash
// loses at most what was counted since the last flush.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/tenant.hpp"

namespace progimage::service {

struct UsageReport {
  std::string from_day, to_day;
  std::vector<catalog::UsageRow> rows;       // by day, tenant and client
  std::vector<catalog::StoredDay> stored;    // by day and tenant
};

class UsageMeter {
 public:
  explicit UsageMeter(catalog::Catalog& catalog) : catalog_(catalog) {}

  /// Adds one request's counts (any thread). `client` is "" for requests
  /// without a key (upload links). A managed key's last use is remembered too.
  void record(const std::string& tenant, const std::string& client, const catalog::UsageCounts& counts);
  /// Writes what was counted since the last flush (and the keys' last use);
  /// what fails to be written is counted again at the next flush.
  void flush();

  /// Usage of the scope (one tenant, or every tenant for operators, or one
  /// client with `client`) over [from_day, to_day] (YYYY-MM-DD, UTC; "" for
  /// the last 30 days up to today). Flushes first, so this node's counts
  /// are in it. Throws bad_parameter for a malformed day or a range over 366 days.
  UsageReport report(const core::Scope& scope, const std::string& client, std::string from_day, std::string to_day);

 private:
  struct Key {
    std::int64_t day;  // days since the epoch
    std::string tenant;
    std::string client;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };

  catalog::Catalog& catalog_;
  std::mutex mutex_;
  std::unordered_map<Key, catalog::UsageCounts, KeyHash> pending_;
  std::unordered_map<std::string, std::int64_t> keys_used_;  // managed key id -> unix seconds
  std::mutex flush_mutex_;  // one flush at a time, so a failed batch is merged back in order
};

/// YYYY-MM-DD of a day number (days since 1970-01-01, UTC).
std::string day_text(std::int64_t day);

}  // namespace progimage::service
