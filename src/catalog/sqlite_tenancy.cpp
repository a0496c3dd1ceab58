// SqliteCatalog: managed API keys, tenant quotas and totals, usage by day, tag counts.
#include "catalog/records.hpp"
#include "catalog/sqlite_access.hpp"

namespace progimage::catalog {

using sqlite::Connection;
using sqlite::Statement;

namespace {


/// ?1 tenant ("" all), ?2 client ("" all), ?3 from day, ?4 to day ("" open).
void bind_usage_query(Statement& s, const UsageQuery& q) {
  s.bind(1, q.tenant).bind(2, q.client).bind(3, q.from_day).bind(4, q.to_day);
}

}  // namespace

void SqliteCatalog::insert_api_key(const ApiKeyRecord& key) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached("INSERT INTO api_keys (" + kApiKeyColumns + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)");
    s->bind(1, key.id).bind(2, key.tenant).bind(3, key.role).bind(4, key.name).bind(5, key.prefix).bind(6, key.hash);
    if (key.rate_per_second) s->bind(7, *key.rate_per_second);
    if (key.rate_burst) s->bind(8, *key.rate_burst);
    s->bind(9, key.created_at).run();
  });
}

std::optional<ApiKeyRecord> SqliteCatalog::find_api_key(const std::string& hash) {
  auto r = reader();
  auto s = r->cached("SELECT " + kApiKeyColumns + " FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL");
  s->bind(1, hash);
  if (!s->step()) return std::nullopt;
  return read_api_key(*s);
}

std::vector<ApiKeyRecord> SqliteCatalog::list_api_keys(const std::string& tenant) {
  auto r = reader();
  auto s = r->cached("SELECT " + kApiKeyColumns +
                     " FROM api_keys WHERE revoked_at IS NULL AND (?1 = '' OR tenant = ?1) ORDER BY created_at, id");
  s->bind(1, tenant);
  std::vector<ApiKeyRecord> out;
  while (s->step()) out.push_back(read_api_key(*s));
  return out;
}

std::optional<ApiKeyRecord> SqliteCatalog::revoke_api_key(const std::string& tenant, const std::string& id,
                                                          std::int64_t now) {
  return write(Durability::full, [&](Connection& w) -> std::optional<ApiKeyRecord> {
    auto s = w.cached("UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND (?2 = '' OR tenant = ?2)"
                      " AND revoked_at IS NULL RETURNING " + kApiKeyColumns);
    s->bind(1, id).bind(2, tenant).bind(3, now);
    if (!s->step()) return std::nullopt;
    auto key = read_api_key(*s);
    while (s->step()) {
    }
    return key;
  });
}

bool SqliteCatalog::has_api_keys() {
  auto r = reader();
  auto s = r->cached("SELECT EXISTS (SELECT 1 FROM api_keys)");
  s->step();
  return s->int64(0) != 0;
}

void SqliteCatalog::mark_keys_used(const std::vector<std::pair<std::string, std::int64_t>>& last_used) {
  if (last_used.empty()) return;
  write(Durability::relaxed, [&](Connection& w) {
    for (const auto& [id, when] : last_used) {
      auto s = w.cached("UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?2) WHERE id = ?1");
      s->bind(1, id).bind(2, when).run();
    }
  });
}

std::optional<TenantQuota> SqliteCatalog::tenant_quota(const std::string& tenant) {
  auto r = reader();
  auto s = r->cached("SELECT max_bytes, max_images FROM tenant_quotas WHERE tenant = ?1");
  s->bind(1, tenant);
  if (!s->step()) return std::nullopt;
  return TenantQuota{s->int64(0), s->int64(1)};
}

void SqliteCatalog::set_tenant_quota(const std::string& tenant, const TenantQuota& quota, bool only_if_absent) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached(only_if_absent ? "INSERT INTO tenant_quotas (tenant, max_bytes, max_images) VALUES (?1, ?2, ?3)"
                                       " ON CONFLICT (tenant) DO NOTHING"
                                     : "INSERT INTO tenant_quotas (tenant, max_bytes, max_images) VALUES (?1, ?2, ?3)"
                                       " ON CONFLICT (tenant) DO UPDATE SET max_bytes = excluded.max_bytes,"
                                       " max_images = excluded.max_images");
    s->bind(1, tenant).bind(2, quota.max_bytes).bind(3, quota.max_images).run();
  });
}

TenantUse SqliteCatalog::tenant_use(const std::string& tenant) {
  auto r = reader();
  auto s = r->cached("SELECT bytes, images FROM tenant_totals WHERE tenant = ?1");
  s->bind(1, tenant);
  if (!s->step()) return {};
  return TenantUse{s->int64(0), s->int64(1)};
}

void SqliteCatalog::add_usage(const std::vector<UsageRow>& rows, const std::string& today) {
  // Relaxed: usage is counted in memory and flushed in batches already; a
  // power loss may lose this batch as a crash loses the unflushed one.
  write(Durability::relaxed, [&](Connection& w) {
    for (const auto& row : rows) {
      auto s = w.cached(
          "INSERT INTO usage (day, tenant, client, requests, bytes_in, bytes_out, transforms, cache_hits,"
          " cache_misses, uploads) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
          " ON CONFLICT (day, tenant, client) DO UPDATE SET requests = requests + excluded.requests,"
          " bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out,"
          " transforms = transforms + excluded.transforms, cache_hits = cache_hits + excluded.cache_hits,"
          " cache_misses = cache_misses + excluded.cache_misses, uploads = uploads + excluded.uploads");
      const auto& c = row.counts;
      s->bind(1, row.day).bind(2, row.tenant).bind(3, row.client).bind(4, c.requests).bind(5, c.bytes_in);
      s->bind(6, c.bytes_out).bind(7, c.transforms).bind(8, c.cache_hits).bind(9, c.cache_misses);
      s->bind(10, c.uploads).run();
    }
    auto s = w.cached(
        "INSERT INTO stored_by_day (day, tenant, bytes, images) SELECT ?1, tenant, bytes, images FROM tenant_totals"
        " WHERE true ON CONFLICT (day, tenant) DO UPDATE SET bytes = excluded.bytes, images = excluded.images");
    s->bind(1, today).run();
  });
}

std::vector<UsageRow> SqliteCatalog::usage(const UsageQuery& query) {
  auto r = reader();
  auto s = r->cached(
      "SELECT day, tenant, client, requests, bytes_in, bytes_out, transforms, cache_hits, cache_misses, uploads"
      " FROM usage WHERE (?1 = '' OR tenant = ?1) AND (?2 = '' OR client = ?2) AND day >= ?3"
      " AND (?4 = '' OR day <= ?4) ORDER BY day, tenant, client");
  bind_usage_query(*s, query);
  std::vector<UsageRow> out;
  while (s->step()) out.push_back(UsageRow{s->text(0), s->text(1), s->text(2), read_usage_counts(*s, 3)});
  return out;
}

std::vector<StoredDay> SqliteCatalog::stored_by_day(const UsageQuery& query) {
  auto r = reader();
  auto s = r->cached(
      "SELECT day, tenant, bytes, images FROM stored_by_day WHERE (?1 = '' OR tenant = ?1) AND ?2 = ?2"
      " AND day >= ?3 AND (?4 = '' OR day <= ?4) ORDER BY day, tenant");
  bind_usage_query(*s, query);
  std::vector<StoredDay> out;
  while (s->step()) out.push_back(StoredDay{s->text(0), s->text(1), TenantUse{s->int64(2), s->int64(3)}});
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> SqliteCatalog::tag_counts(const std::string& tenant, int limit) {
  auto r = reader();
  auto s = r->cached(
      "SELECT t.tag, COUNT(*) AS n FROM image_tags t JOIN images i ON i.id = t.image_id"
      " WHERE (?1 = '' OR i.tenant = ?1) GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT ?2");
  s->bind(1, tenant).bind(2, limit);
  std::vector<std::pair<std::string, std::int64_t>> out;
  while (s->step()) out.emplace_back(s->text(0), s->int64(1));
  return out;
}

}  // namespace progimage::catalog
