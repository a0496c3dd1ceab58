// PostgresCatalog: managed API keys, tenant quotas and totals, usage by day, tag counts.
#include <algorithm>
#include <tuple>

#include "catalog/postgres_access.hpp"
#include "catalog/records.hpp"

namespace progimage::catalog {

using postgres::Connection;
using postgres::Result;

void PostgresCatalog::insert_api_key(const ApiKeyRecord& key) {
  write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO api_keys (" + kApiKeyColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)", key.id,
            key.tenant, key.role, key.name, key.prefix, key.hash, key.rate_per_second, key.rate_burst,
            key.created_at);
  });
}

std::optional<ApiKeyRecord> PostgresCatalog::find_api_key(const std::string& hash) {
  return read([&](Connection& c) -> std::optional<ApiKeyRecord> {
    auto r = c.query("SELECT " + kApiKeyColumns + " FROM api_keys WHERE hash = $1 AND revoked_at IS NULL", hash);
    if (!r.step()) return std::nullopt;
    return read_api_key(r);
  });
}

std::vector<ApiKeyRecord> PostgresCatalog::list_api_keys(const std::string& tenant) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT " + kApiKeyColumns +
                         " FROM api_keys WHERE revoked_at IS NULL AND ($1 = '' OR tenant = $1) ORDER BY created_at, id",
                     tenant);
    std::vector<ApiKeyRecord> out;
    while (r.step()) out.push_back(read_api_key(r));
    return out;
  });
}

std::optional<ApiKeyRecord> PostgresCatalog::revoke_api_key(const std::string& tenant, const std::string& id,
                                                            std::int64_t now) {
  auto fence = fences_.open();
  auto revoked = write(Durability::full, [&](Connection& c) -> std::optional<ApiKeyRecord> {
    auto r = c.query("UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND ($2 = '' OR tenant = $2)"
                     " AND revoked_at IS NULL RETURNING " + kApiKeyColumns,
                     id, tenant, now);
    if (!r.step()) return std::nullopt;
    // Every node forgets the key when this commits.
    postgres::notify(c, Signal::key_revoked, id);
    fence.raise(c);
    return read_api_key(r);
  });
  await_fence(fence);
  return revoked;
}

bool PostgresCatalog::has_api_keys() {
  return read([](Connection& c) {
    auto r = c.query("SELECT EXISTS (SELECT 1 FROM api_keys)");
    r.step();
    return r.int64(0) != 0;
  });
}

void PostgresCatalog::mark_keys_used(const std::vector<std::pair<std::string, std::int64_t>>& last_used) {
  if (last_used.empty()) return;
  auto ordered = last_used;  // one lock order for every node
  std::sort(ordered.begin(), ordered.end());
  write(Durability::relaxed, [&](Connection& c) {
    for (const auto& [id, when] : ordered)
      c.query("UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $2) WHERE id = $1", id, when);
  });
}

std::optional<TenantQuota> PostgresCatalog::tenant_quota(const std::string& tenant) {
  return read([&](Connection& c) -> std::optional<TenantQuota> {
    auto r = c.query("SELECT max_bytes, max_images FROM tenant_quotas WHERE tenant = $1", tenant);
    if (!r.step()) return std::nullopt;
    return TenantQuota{r.int64(0), r.int64(1)};
  });
}

void PostgresCatalog::set_tenant_quota(const std::string& tenant, const TenantQuota& quota, bool only_if_absent) {
  write(Durability::full, [&](Connection& c) {
    c.query(only_if_absent ? "INSERT INTO tenant_quotas (tenant, max_bytes, max_images) VALUES ($1, $2, $3)"
                             " ON CONFLICT (tenant) DO NOTHING"
                           : "INSERT INTO tenant_quotas (tenant, max_bytes, max_images) VALUES ($1, $2, $3)"
                             " ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes,"
                             " max_images = excluded.max_images",
            tenant, quota.max_bytes, quota.max_images);
  });
}

TenantUse PostgresCatalog::tenant_use(const std::string& tenant) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT bytes, images FROM tenant_totals WHERE tenant = $1", tenant);
    if (!r.step()) return TenantUse{};
    return TenantUse{r.int64(0), r.int64(1)};
  });
}

void PostgresCatalog::add_usage(const std::vector<UsageRow>& rows, const std::string& today) {
  // Rows in key order: nodes flushing at once lock them in one order.
  auto ordered = rows;
  std::sort(ordered.begin(), ordered.end(), [](const UsageRow& a, const UsageRow& b) {
    return std::tie(a.day, a.tenant, a.client) < std::tie(b.day, b.tenant, b.client);
  });
  write(Durability::relaxed, [&](Connection& c) {
    for (const auto& row : ordered) {
      const auto& n = row.counts;
      c.query("INSERT INTO usage (day, tenant, client, requests, bytes_in, bytes_out, transforms, cache_hits,"
              " cache_misses, uploads) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
              " ON CONFLICT (day, tenant, client) DO UPDATE SET requests = usage.requests + excluded.requests,"
              " bytes_in = usage.bytes_in + excluded.bytes_in, bytes_out = usage.bytes_out + excluded.bytes_out,"
              " transforms = usage.transforms + excluded.transforms,"
              " cache_hits = usage.cache_hits + excluded.cache_hits,"
              " cache_misses = usage.cache_misses + excluded.cache_misses, uploads = usage.uploads + excluded.uploads",
              row.day, row.tenant, row.client, n.requests, n.bytes_in, n.bytes_out, n.transforms, n.cache_hits,
              n.cache_misses, n.uploads);
    }
    c.query("INSERT INTO stored_by_day (day, tenant, bytes, images) SELECT $1, tenant, bytes, images"
            " FROM tenant_totals ORDER BY tenant"
            " ON CONFLICT (day, tenant) DO UPDATE SET bytes = excluded.bytes, images = excluded.images",
            today);
  });
}

std::vector<UsageRow> PostgresCatalog::usage(const UsageQuery& q) {
  return read([&](Connection& c) {
    auto r = c.query(
        "SELECT day, tenant, client, requests, bytes_in, bytes_out, transforms, cache_hits, cache_misses, uploads"
        " FROM usage WHERE ($1 = '' OR tenant = $1) AND ($2 = '' OR client = $2) AND day >= $3"
        " AND ($4 = '' OR day <= $4) ORDER BY day, tenant, client",
        q.tenant, q.client, q.from_day, q.to_day);
    std::vector<UsageRow> out;
    while (r.step()) out.push_back(UsageRow{r.text(0), r.text(1), r.text(2), read_usage_counts(r, 3)});
    return out;
  });
}

std::vector<StoredDay> PostgresCatalog::stored_by_day(const UsageQuery& q) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT day, tenant, bytes, images FROM stored_by_day WHERE ($1 = '' OR tenant = $1)"
                     " AND day >= $2 AND ($3 = '' OR day <= $3) ORDER BY day, tenant",
                     q.tenant, q.from_day, q.to_day);
    std::vector<StoredDay> out;
    while (r.step()) out.push_back(StoredDay{r.text(0), r.text(1), TenantUse{r.int64(2), r.int64(3)}});
    return out;
  });
}

std::vector<std::pair<std::string, std::int64_t>> PostgresCatalog::tag_counts(const std::string& tenant, int limit) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT t.tag, COUNT(*) AS n FROM image_tags t JOIN images i ON i.id = t.image_id"
                     " WHERE ($1 = '' OR i.tenant = $1) GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT $2",
                     tenant, limit);
    std::vector<std::pair<std::string, std::int64_t>> out;
    while (r.step()) out.emplace_back(r.text(0), r.int64(1));
    return out;
  });
}

}  // namespace progimage::catalog
