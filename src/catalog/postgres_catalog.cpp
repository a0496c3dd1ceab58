#include "catalog/postgres_catalog.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include "catalog/cursor.hpp"
#include "catalog/image_sql.hpp"
#include "catalog/job_rules.hpp"
#include "catalog/postgres_access.hpp"
#include "core/id.hpp"
#include "catalog/postgres_schema.hpp"
#include "catalog/records.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/tags.hpp"
#include "core/time.hpp"

namespace progimage::catalog {

using postgres::Connection;
using postgres::Result;

namespace {

/// Serialises migrations of every node on one database.
constexpr std::int64_t kMigrationLock = 0x70726f67696d67;  // "progimg"
/// Serialises derivative evictions (each node runs its own sweep).
constexpr std::int64_t kEvictionLock = 0x70726f67657663;  // "progevc"

struct ImageSelects {
  std::string by_id, by_tenant_and_sha256;
};

const ImageSelects& image_selects() {
  static const ImageSelects selects = [] {
    const std::string select = "SELECT " + image_columns(postgres::dialect()) + " FROM images i WHERE ";
    return ImageSelects{select + "i.id = $1", select + "i.tenant = $1 AND i.sha256 = $2"};
  }();
  return selects;
}

std::vector<postgres::Param> params_of(const SqlArgs& args) {
  std::vector<postgres::Param> out;
  for (const auto& v : args.values()) out.push_back(postgres::param(v));
  return out;
}

std::optional<core::ImageRecord> first_image(Result r) {
  if (!r.step()) return std::nullopt;
  return read_image(r);
}

std::optional<core::ImageRecord> load_image(Connection& c, const std::string& id) {
  return first_image(c.query(image_selects().by_id, id));
}

/// Holds, until the transaction ends, the lock that orders every insert and
/// delete of images of these bytes: whether a delete took away the last
/// reference to a blob is then exact across nodes.
void lock_blob(Connection& c, const std::string& sha256) {
  c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", sha256);
}

void insert_image_row(Connection& c, const core::ImageRecord& rec) {
  std::optional<double> fx, fy;
  if (rec.focus) fx = rec.focus->x, fy = rec.focus->y;
  std::optional<std::int64_t> phash;
  if (rec.phash) phash = static_cast<std::int64_t>(*rec.phash);
  c.query("INSERT INTO images (id, sha256, format, width, height, size, frames, has_alpha, created_at,"
          " name, description, camera_make, camera_model, focus_x, focus_y, metadata_json, tenant, phash)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
          rec.id, rec.sha256, rec.format, rec.width, rec.height, rec.size, rec.frames, rec.has_alpha, rec.created_at,
          rec.name, rec.description, rec.camera_make, rec.camera_model, fx, fy, rec.metadata_json, rec.tenant, phash);
}

/// Adds to the tenant's totals and returns them: the row stays locked until
/// the transaction ends, so uploads of one tenant check its quota in turn.
TenantUse add_to_totals(Connection& c, const std::string& tenant, std::int64_t images, std::int64_t bytes) {
  auto r = c.query(
      "INSERT INTO tenant_totals (tenant, images, bytes) VALUES ($1, $2, $3)"
      " ON CONFLICT (tenant) DO UPDATE SET images = tenant_totals.images + excluded.images,"
      " bytes = tenant_totals.bytes + excluded.bytes RETURNING bytes, images",
      tenant, images, bytes);
  r.step();
  return TenantUse{r.int64(0), r.int64(1)};
}

/// Throws quota_exceeded when `rec` (already counted in `after`) takes its
/// tenant over its quota.
void check_quota(Connection& c, const core::ImageRecord& rec, const TenantUse& after) {
  auto r = c.query("SELECT max_bytes, max_images FROM tenant_quotas WHERE tenant = $1", rec.tenant);
  if (!r.step()) return;
  const TenantQuota quota{r.int64(0), r.int64(1)};
  const TenantUse before{after.bytes - rec.size, after.images - 1};
  if (auto refusal = quota_refusal(quota, before, rec.size)) throw core::Error(core::ErrorCode::quota_exceeded, *refusal);
}

void insert_tags(Connection& c, const std::string& id, const std::vector<std::string>& tags) {
  for (const auto& tag : tags) c.query("INSERT INTO image_tags (image_id, tag) VALUES ($1, $2)", id, tag);
}

/// Adds the variant and queues its item; false (and nothing queued) when the
/// image has it already.
bool insert_variant(Connection& c, const std::string& image_id, const std::string& name, std::int64_t now_ms) {
  if (c.query("INSERT INTO image_variants (image_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", image_id, name)
          .changes() == 0)
    return false;
  c.query("INSERT INTO job_items (kind, source, variant, max_attempts, next_attempt_at)"
          " VALUES ('variant', $1, $2, $3, $4)",
          image_id, name, kVariantAttempts, now_ms);
  return true;
}

std::vector<std::string> delete_derivatives_of(Connection& c, const std::string& tenant, const std::string& sha256) {
  std::vector<std::string> keys;
  auto r = c.query("DELETE FROM derivatives WHERE tenant = $1 AND sha256 = $2 RETURNING key", tenant, sha256);
  while (r.step()) keys.push_back(r.text(0));
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::int64_t total_derivative_bytes(Connection& c) {
  auto r = c.query("SELECT COALESCE(SUM(size), 0) FROM derivatives");
  r.step();
  return r.int64(0);
}

std::optional<JobRecord> load_job(Connection& c, const std::string& id) {
  auto r = c.query("SELECT " + kJobColumns + " FROM jobs WHERE id = $1", id);
  if (!r.step()) return std::nullopt;
  return read_job(r);
}

/// Counts `count` items ended in `final_status` into their job and finishes
/// the job when none is left. The UPDATE locks the job's row: completions of
/// one job on several nodes count in turn.
void roll_up(Connection& c, const std::string& job_id, ItemStatus final_status, std::int64_t count,
             std::int64_t now_ms) {
  const std::string column(job_counter_column(final_status));
  auto r = c.query("UPDATE jobs SET " + column + " = " + column +
                       " + $2 WHERE id = $1 RETURNING total, done, failed, cancelled, status, finished_at",
                   job_id, count);
  if (!r.step() || !r.is_null(5)) return;  // no such job, or ended already
  const JobCounts counts{r.int64(0), r.int64(1), r.int64(2), r.int64(3)};
  const auto finished = finished_job_status(parse_job_status(r.text(4)).value_or(JobStatus::queued), counts);
  if (!finished) return;
  c.query("UPDATE jobs SET status = $2, finished_at = $3,"
          " callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END, callback_next_at = $4"
          " WHERE id = $1",
          job_id, std::string(job_status_name(*finished)), now_ms / 1000, now_ms);
}

void settle_success(Connection& c, const FinishedItem& item, const std::string& derivative_key, std::int64_t now_ms) {
  if (item.kind == ItemKind::variant) {
    c.query("UPDATE image_variants SET status = 'ready', derivative_key = $3, error_code = NULL, error_message = NULL"
            " WHERE image_id = $1 AND name = $2",
            item.source, item.variant, derivative_key);
  } else if (!item.job_id.empty()) {
    roll_up(c, item.job_id, ItemStatus::done, 1, now_ms);
  }
}

void settle_failure(Connection& c, const FinishedItem& item, const JobError& error, std::int64_t now_ms) {
  if (item.kind == ItemKind::variant) {
    c.query("UPDATE image_variants SET status = 'failed', error_code = $3, error_message = $4"
            " WHERE image_id = $1 AND name = $2",
            item.source, item.variant, error.code, error.message);
  } else if (!item.job_id.empty()) {
    roll_up(c, item.job_id, ItemStatus::failed, 1, now_ms);
  }
}

std::optional<FinishedItem> finished_by(Result r) {
  if (!r.step()) return std::nullopt;
  return read_finished_item(r);
}

/// "{1,2,3}": a bigint[] argument.
std::string id_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (std::size_t k = 0; k < ids.size(); ++k) out += (k ? "," : "") + std::to_string(ids[k]);
  return out + "}";
}

/// Items whose lease ran out by `now_ms`, at most `max`, locked for this
/// transaction (others' locked ones skipped): the ids of those with attempts
/// left; the others fail here.
std::vector<std::int64_t> take_expired_leases(Connection& c, int max, std::int64_t now_ms) {
  std::vector<ClaimedItem> expired;
  {
    auto r = c.query("SELECT " + kClaimedItemColumns +
                         " FROM job_items WHERE status = 'running' AND lease_until <= $1 ORDER BY lease_until"
                         " LIMIT $2 FOR UPDATE SKIP LOCKED",
                     now_ms, max);
    while (r.step()) expired.push_back(read_claimed_item(r));
  }
  std::vector<std::int64_t> runnable;
  for (const auto& item : expired) {
    if (item.attempts < item.max_attempts) {
      runnable.push_back(item.id);
      continue;
    }
    const JobError error = lease_expired_error(item.attempts);
    c.query("UPDATE job_items SET status = 'failed', finished_at = $2, lease_owner = NULL,"
            " error_code = $3, error_message = $4 WHERE id = $1",
            item.id, now_ms, error.code, error.message);
    settle_failure(c, finished_item(item), error, now_ms);
  }
  return runnable;
}

/// Leases the items of `sql` (an UPDATE … RETURNING kClaimedItemColumns, then
/// the item's place in the queue) to `worker`; in queue order.
std::vector<ClaimedItem> leased_by(Result r) {
  std::vector<std::pair<std::int64_t, ClaimedItem>> items;
  while (r.step()) items.emplace_back(r.int64(8), read_claimed_item(r));
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first, a.second.id) < std::pair(b.first, b.second.id);
  });
  std::vector<ClaimedItem> out;
  for (auto& [order, item] : items) out.push_back(std::move(item));
  return out;
}

std::int64_t insert_listed_items(Connection& c, const JobSpec& job, const std::vector<JobSource>& sources,
                                 std::int64_t now_ms) {
  MissingImages missing;
  for (const auto& src : sources) {
    if (src.kind == ItemKind::image &&
        c.query("SELECT 1 FROM images WHERE id = $1 AND tenant = $2", src.source, job.tenant).rows() == 0)
      missing.add(src.source);
  }
  if (!missing.empty()) throw missing.error();
  std::int64_t position = 0;
  for (const auto& src : sources) {
    c.query("INSERT INTO job_items (job_id, position, kind, source, max_attempts, next_attempt_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            job.id, position, std::string(item_kind_name(src.kind)), src.source, job.max_attempts, now_ms);
    ++position;
  }
  return position;
}

std::int64_t insert_found_items(Connection& c, const JobSpec& job, ImageQuery selector, std::int64_t now_ms) {
  selector.tenant = job.tenant;
  SqlArgs args(postgres::dialect());
  const std::string sql = insert_found_items_sql(selector, job.id, job.max_attempts, now_ms, args);
  return c.run_once(sql, params_of(args)).changes();
}

/// The libpq URI of `url` without our own parameters, and the pool size.
std::pair<std::string, std::size_t> split_url(const std::string& url) {
  std::size_t pool_size = 8;
  const auto q = url.find('?');
  if (q == std::string::npos) return {url, pool_size};
  std::string kept;
  std::size_t start = q + 1;
  while (start <= url.size()) {
    auto end = url.find('&', start);
    if (end == std::string::npos) end = url.size();
    const std::string item = url.substr(start, end - start);
    if (item.starts_with("pool_size=")) {
      try {
        pool_size = static_cast<std::size_t>(std::stoul(item.substr(10)));
      } catch (const std::exception&) {
        throw std::invalid_argument("--catalog: pool_size must be a number");
      }
      if (pool_size < 1 || pool_size > 1000) throw std::invalid_argument("--catalog: pool_size must be 1 to 1000");
    } else if (!item.empty()) {
      kept += (kept.empty() ? "" : "&") + item;
    }
    start = end + 1;
  }
  return {url.substr(0, q) + (kept.empty() ? "" : "?" + kept), pool_size};
}


/// claim_items() inside the caller's transaction.
std::vector<ClaimedItem> claim_in(Connection& c, const std::string& worker, int max, std::int64_t lease_ms,
                                std::int64_t now_ms) {
  if (max <= 0) return {};
  static const std::string lease =
      "UPDATE job_items SET status = 'running', attempts = attempts + 1, lease_owner = $2, lease_until = $3,"
      " lease_token = lease_token + 1 WHERE ";
  static const std::string returning = " RETURNING " + kClaimedItemColumns + ", next_attempt_at";
  // Expired leases first: their workers died or stalled.
  const auto expired = take_expired_leases(c, max, now_ms);
  std::vector<ClaimedItem> out;
  if (!expired.empty()) {
    out = leased_by(c.query(lease + "id = ANY($4::bigint[])" + returning, now_ms, worker, now_ms + lease_ms,
                            id_array(expired)));
  }
  if (static_cast<int>(out.size()) < max) {
    // Items another transaction is claiming are skipped, not waited for:
    // any number of workers on any number of nodes claim at once.
    auto queued = leased_by(c.query(lease +
                                        "id IN (SELECT id FROM job_items WHERE status = 'queued'"
                                        " AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $4"
                                        " FOR UPDATE SKIP LOCKED)" +
                                        returning,
                                    now_ms, worker, now_ms + lease_ms,
                                    static_cast<std::int64_t>(max - static_cast<int>(out.size()))));
    for (auto& item : queued) out.push_back(std::move(item));
  }
  std::map<std::string, JobSpec> specs;
  for (auto& item : out) {
    if (item.job_id.empty()) continue;
    auto it = specs.find(item.job_id);
    if (it == specs.end()) {
      // Read first: an UPDATE would wait for the job's row lock, which every
      // completion of the job takes, even when the job runs already.
      auto job = load_job(c, item.job_id);
      if (job && job->status == JobStatus::queued)
        c.query("UPDATE jobs SET status = 'running' WHERE id = $1 AND status = 'queued'", item.job_id);
      it = specs.emplace(item.job_id, job ? job->spec : JobSpec{}).first;
    }
    item.spec = it->second;
  }
  return out;
}

/// Records the item's result (its row only), unless it has one already.
std::optional<FinishedItem> record_completion(Connection& c, std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  std::optional<std::int64_t> expires;
  if (!output.output.key.empty()) expires = output.output.expires_at_ms;
  // Only the first completion counts, whoever holds the lease now.
  auto item = finished_by(c.query(
      "UPDATE job_items SET status = 'done', result_image_id = $2, result_key = $3, finished_at = $4,"
      " lease_owner = NULL, error_code = NULL, error_message = NULL, result_output_key = $5,"
      " result_format = $6, result_expires_at = $7"
      " WHERE id = $1 AND status IN ('queued', 'running') RETURNING " + kFinishedItemColumns,
      item_id, output.image_id, output.derivative_key, now_ms, output.output.key, output.output.format, expires));
  return item;
}

/// complete_item() inside the caller's transaction.
bool complete_in(Connection& c, std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  auto item = record_completion(c, item_id, output, now_ms);
  if (!item) return false;
  settle_success(c, *item, output.derivative_key, now_ms);
  return true;
}

}  // namespace

// ---- setup -------------------------------------------------------------------

PostgresCatalog::PostgresCatalog(const std::string& url, bool apply_migrations) {
  auto [conninfo, pool_size] = split_url(url);
  pool_ = std::make_unique<postgres::Pool>(std::move(conninfo), pool_size);
  { auto c = pool_->acquire(); }  // fails now when the server cannot be reached
  if (apply_migrations) {
    migrate();
  } else if (schema_version() > latest_schema_version()) {
    throw core::Error(core::ErrorCode::internal, "catalog: the database schema is newer than this program's");
  }
}

PostgresCatalog::~PostgresCatalog() {
  listener_.reset();
  try {
    flush_touches();
  } catch (...) {
    // Touches are hints for eviction; losing some at shutdown is harmless.
  }
}

int PostgresCatalog::latest_schema_version() noexcept { return postgres::migrations().back().version; }

std::vector<int> PostgresCatalog::migrate() {
  // DDL is transactional in PostgreSQL: each node takes the lock, sees what
  // the first one applied, and applies nothing more.
  return write(Durability::full, [](Connection& c) {
    c.query("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)");
    auto r = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    r.step();
    const auto current = r.int64(0);
    if (current > latest_schema_version()) {
      throw core::Error(core::ErrorCode::internal,
                        "catalog: database schema version " + std::to_string(current) +
                            " is newer than this program's " + std::to_string(latest_schema_version()));
    }
    std::vector<int> applied;
    for (const auto& m : postgres::migrations()) {
      if (m.version <= current) continue;
      c.exec(m.sql);
      c.query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", m.version, core::unix_now());
      applied.push_back(m.version);
    }
    return applied;
  });
}

int PostgresCatalog::schema_version() {
  return read([](Connection& c) {
    auto r = c.query("SELECT to_regclass('schema_version') IS NOT NULL");
    r.step();
    if (r.int64(0) == 0) return 0;
    auto v = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    v.step();
    return v.integer(0);
  });
}

// ---- images --------------------------------------------------------------------

InsertResult PostgresCatalog::insert_image(const core::ImageRecord& image) {
  core::ImageRecord rec = image_for_insert(image);
  return write(Durability::full, [&](Connection& c) -> InsertResult {
    lock_blob(c, rec.sha256);
    // Under the lock, so two uploads of the same bytes cannot both miss here.
    if (auto existing = first_image(c.query(image_selects().by_tenant_and_sha256, rec.tenant, rec.sha256))) {
      c.query("INSERT INTO dedupe_savings (tenant, uploads, bytes) VALUES ($1, 1, $2)"
              " ON CONFLICT (tenant) DO UPDATE SET uploads = dedupe_savings.uploads + 1,"
              " bytes = dedupe_savings.bytes + excluded.bytes",
              rec.tenant, rec.size);
      return {std::move(*existing), true};
    }
    check_quota(c, rec, add_to_totals(c, rec.tenant, 1, rec.size));
    insert_image_row(c, rec);
    insert_tags(c, rec.id, rec.tags);
    const auto now_ms = core::unix_now_ms();
    if (rec.wants_working_copies) {
      // First in the queue: the variants claimed after it can decode the copies.
      c.query("INSERT INTO job_items (kind, source, max_attempts, next_attempt_at) VALUES ('working_copies', $1, $2, $3)",
              rec.id, kVariantAttempts, now_ms);
    }
    for (const auto& [name, status] : rec.variants) insert_variant(c, rec.id, name, now_ms);
    if (!rec.variants.empty() || rec.wants_working_copies) {
      postgres::notify(c, Signal::work_queued, "");  // once: a round trip each
    }
    return {std::move(rec), false};
  });
}

std::optional<core::ImageRecord> PostgresCatalog::get_image(const std::string& id) {
  return read([&](Connection& c) { return load_image(c, id); });
}

std::optional<core::ImageRecord> PostgresCatalog::update_image(const std::string& id, const ImagePatch& patch) {
  auto fence = fences_.open();
  auto updated = write(Durability::full, [&](Connection& c) -> std::optional<core::ImageRecord> {
    // Locks the row first: patches of one image apply in turn.
    if (c.query("SELECT 1 FROM images WHERE id = $1 FOR UPDATE", id).rows() == 0) return std::nullopt;
    if (patch.description) c.query("UPDATE images SET description = $2 WHERE id = $1", id, *patch.description);
    if (patch.tags) {
      c.query("DELETE FROM image_tags WHERE image_id = $1", id);
      insert_tags(c, id, core::normalize_tags(*patch.tags));
    }
    if (patch.focus) {
      std::optional<double> fx, fy;
      if (*patch.focus) fx = (*patch.focus)->x, fy = (*patch.focus)->y;
      c.query("UPDATE images SET focus_x = $2, focus_y = $3 WHERE id = $1", id, fx, fy);
    }
    postgres::notify(c, Signal::image_changed, id);
    fence.raise(c);
    return load_image(c, id);
  });
  await_fence(fence);
  return updated;
}

DeleteResult PostgresCatalog::delete_image(const std::string& id) {
  auto fence = fences_.open();
  auto deleted = write(Durability::full, [&](Connection& c) {
    DeleteResult result;
    {
      auto r = c.query("SELECT sha256 FROM images WHERE id = $1", id);
      if (!r.step()) return result;
      result.sha256 = r.text(0);
    }
    lock_blob(c, result.sha256);
    std::string tenant;
    std::int64_t size = 0;
    {
      auto r = c.query("DELETE FROM images WHERE id = $1 RETURNING tenant, size", id);
      if (!r.step()) return result;  // deleted meanwhile by another node
      tenant = r.text(0);
      size = r.int64(1);
    }
    result.found = true;
    add_to_totals(c, tenant, -1, -size);
    auto r = c.query("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = $1)", result.sha256);
    r.step();
    result.blob_unreferenced = r.int64(0) == 0;
    if (result.blob_unreferenced) {
      auto gone = c.query("DELETE FROM working_copies WHERE sha256 = $1 RETURNING key", result.sha256);
      while (gone.step()) result.working_copy_keys.push_back(gone.text(0));
    }
    result.derivative_keys = delete_derivatives_of(c, tenant, result.sha256);
    postgres::notify(c, Signal::image_changed, id);
    fence.raise(c);
    return result;
  });
  await_fence(fence);
  return deleted;
}

ImagePage PostgresCatalog::list_images(const ImageQuery& query) {
  const int limit = clamp_limit(query.limit);
  SqlArgs args(postgres::dialect());
  const std::string sql = list_images_sql(query, limit, args);
  return read([&](Connection& c) {
    auto r = c.run_once(sql, params_of(args));
    ImagePage page;
    while (r.step()) {
      if (page.images.size() == static_cast<std::size_t>(limit)) {
        const auto& last = page.images.back();
        page.next_cursor = encode_cursor({last.created_at, last.id});
        break;
      }
      page.images.push_back(read_image(r));
    }
    return page;
  });
}

void PostgresCatalog::scan_image_hashes(std::int64_t since, const std::function<void(ImageHash&&)>& each) {
  read([&](Connection& c) {
    // A cursor in a read-only transaction: a million rows arrive in batches,
    // not in one result held in memory.
    postgres::Transaction tx(c, Durability::relaxed);
    // DECLARE takes no parameters; `since` is a number.
    c.exec("DECLARE hashes NO SCROLL CURSOR FOR SELECT id, tenant, phash FROM images WHERE created_at >= " +
           std::to_string(since) + " AND phash IS NOT NULL");
    while (true) {
      auto r = c.run_once("FETCH 10000 FROM hashes", {});
      if (r.rows() == 0) break;
      while (r.step()) each(ImageHash{r.text(0), r.text(1), static_cast<std::uint64_t>(r.int64(2))});
    }
    tx.commit();
  });
}

// ---- derivatives -----------------------------------------------------------------

std::optional<DerivativeRecord> PostgresCatalog::get_derivative(const std::string& key) {
  auto d = read([&](Connection& c) -> std::optional<DerivativeRecord> {
    auto r = c.query("SELECT " + kDerivativeColumns + " FROM derivatives WHERE key = $1", key);
    if (!r.step()) return std::nullopt;
    return read_derivative(r);
  });
  if (d) d->last_used_at = std::max(d->last_used_at, touches_.pending(key));
  return d;
}

void PostgresCatalog::put_derivative(const DerivativeRecord& d) {
  write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO derivatives (" + kDerivativeColumns +
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, tenant = excluded.tenant,"
                " params = excluded.params, format = excluded.format, width = excluded.width,"
                " height = excluded.height, size = excluded.size, created_at = excluded.created_at,"
                " last_used_at = excluded.last_used_at",
            d.key, d.sha256, d.params, d.format, d.width, d.height, d.size, d.created_at, d.last_used_at, d.tenant);
  });
}

void PostgresCatalog::touch_derivative(const std::string& key, std::int64_t now) {
  if (!touches_.record(key, now)) return;
  // One flush at a time; a hit that finds one under way leaves it its touch.
  std::unique_lock lock(flush_mu_, std::try_to_lock);
  if (lock.owns_lock()) write_touches();
}

void PostgresCatalog::flush_touches() {
  std::lock_guard lock(flush_mu_);
  write_touches();
}

void PostgresCatalog::write_touches() {
  const auto batch = touches_.take();
  if (batch.empty()) return;
  try {
    // Keys in order: two nodes flushing the same keys lock them in one order.
    const std::map<std::string, std::int64_t> ordered(batch.begin(), batch.end());
    write(Durability::relaxed, [&](Connection& c) {
      for (const auto& [k, when] : ordered)
        c.query("UPDATE derivatives SET last_used_at = GREATEST(last_used_at, $2) WHERE key = $1", k, when);
    });
  } catch (...) {
    touches_.restore(batch);
    throw;
  }
}

std::vector<DerivativeRecord> PostgresCatalog::list_derivatives(const std::string& tenant, const std::string& sha256) {
  auto out = read([&](Connection& c) {
    std::vector<DerivativeRecord> found;
    auto r = c.query("SELECT " + kDerivativeColumns +
                         " FROM derivatives WHERE tenant = $1 AND sha256 = $2 ORDER BY params, key",
                     tenant, sha256);
    while (r.step()) found.push_back(read_derivative(r));
    return found;
  });
  for (auto& d : out) d.last_used_at = std::max(d.last_used_at, touches_.pending(d.key));
  return out;
}

std::vector<std::string> PostgresCatalog::remove_derivatives(const std::string& tenant, const std::string& sha256) {
  auto fence = fences_.open();
  auto keys = write(Durability::full, [&](Connection& c) {
    auto keys = delete_derivatives_of(c, tenant, sha256);
    if (!keys.empty()) {
      postgres::notify(c, Signal::derivatives_purged, sha256);
      fence.raise(c);
    }
    return keys;
  });
  await_fence(fence);
  return keys;
}

std::int64_t PostgresCatalog::derivative_bytes() {
  return read([](Connection& c) { return total_derivative_bytes(c); });
}

std::vector<std::string> PostgresCatalog::evict_derivatives(std::int64_t budget) {
  flush_touches();
  budget = std::max<std::int64_t>(budget, 0);
  return write(Durability::full, [&](Connection& c) {
    c.query("SELECT pg_advisory_xact_lock($1)", kEvictionLock);
    std::vector<std::string> evicted;
    std::int64_t total = total_derivative_bytes(c);
    if (total <= budget) return evicted;
    // Oldest first, in batches, until the total fits.
    while (total > budget) {
      auto r = c.query("SELECT key, size FROM derivatives ORDER BY last_used_at, created_at, key LIMIT 1000");
      if (r.rows() == 0) break;
      std::vector<std::string> batch;
      while (total > budget && r.step()) {
        batch.push_back(r.text(0));
        total -= r.int64(1);
      }
      for (const auto& key : batch) c.query("DELETE FROM derivatives WHERE key = $1", key);
      evicted.insert(evicted.end(), batch.begin(), batch.end());
    }
    return evicted;
  });
}

// ---- working copies ------------------------------------------------------------

std::vector<WorkingCopyRecord> PostgresCatalog::working_copies(const std::string& sha256) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT " + kWorkingCopyColumns + " FROM working_copies WHERE sha256 = $1 ORDER BY level", sha256);
    std::vector<WorkingCopyRecord> out;
    while (r.step()) out.push_back(read_working_copy(r));
    return out;
  });
}

bool PostgresCatalog::put_working_copy(const WorkingCopyRecord& w) {
  return write(Durability::full, [&](Connection& c) {
    // Under the blob's lock, which a delete of the last image of the bytes
    // takes too: a copy finished after that delete is refused, not left behind.
    lock_blob(c, w.sha256);
    auto r = c.query("INSERT INTO working_copies (" + kWorkingCopyColumns +
                         ") SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM images WHERE sha256 = $1)"
                         " ON CONFLICT (sha256, level) DO UPDATE SET key = excluded.key, format = excluded.format,"
                         " width = excluded.width, height = excluded.height, size = excluded.size,"
                         " created_at = excluded.created_at RETURNING level",
                     w.sha256, w.level, w.key, w.format, w.width, w.height, w.size, w.created_at);
    return r.rows() > 0;
  });
}

// ---- variants ----------------------------------------------------------------------

std::optional<VariantState> PostgresCatalog::get_variant(const std::string& image_id, const std::string& name) {
  return read([&](Connection& c) -> std::optional<VariantState> {
    auto r = c.query("SELECT " + kVariantColumns + " FROM image_variants WHERE image_id = $1 AND name = $2",
                     image_id, name);
    if (!r.step()) return std::nullopt;
    return read_variant(r);
  });
}

bool PostgresCatalog::queue_variant(const std::string& image_id, const std::string& name) {
  return write(Durability::full, [&](Connection& c) {
    if (c.query("SELECT 1 FROM images WHERE id = $1 FOR SHARE", image_id).rows() == 0) return false;
    if (insert_variant(c, image_id, name, core::unix_now_ms())) postgres::notify(c, Signal::work_queued, "");
    return true;
  });
}

// ---- job queue ---------------------------------------------------------------------

JobRecord PostgresCatalog::create_job(const JobSpec& spec, const std::vector<JobSource>& sources,
                                      const std::optional<ImageQuery>& selector) {
  const auto now_ms = core::unix_now_ms();
  const JobSpec js = job_spec_for_insert(spec, now_ms);
  return write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO jobs (id, params, format, store, max_attempts, created_at, callback_url, tenant)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            js.id, js.params, js.format, js.store, js.max_attempts, js.created_at, js.callback_url, js.tenant);
    const std::int64_t total =
        selector ? insert_found_items(c, js, *selector, now_ms) : insert_listed_items(c, js, sources, now_ms);
    c.query("UPDATE jobs SET total = $2 WHERE id = $1", js.id, total);
    if (total == 0) roll_up(c, js.id, ItemStatus::done, 0, now_ms);
    else postgres::notify(c, Signal::work_queued, "");
    return std::move(*load_job(c, js.id));
  });
}

std::optional<JobRecord> PostgresCatalog::get_job(const std::string& id) {
  return read([&](Connection& c) { return load_job(c, id); });
}

ResultPage PostgresCatalog::job_results(const std::string& job_id, const std::string& cursor, int limit) {
  const std::int64_t after = result_cursor_position(cursor);
  limit = clamp_limit(limit);
  return read([&](Connection& c) {
    ResultPage page;
    auto r = c.query("SELECT " + kItemResultColumns +
                         " FROM job_items WHERE job_id = $1 AND position > $2 ORDER BY position LIMIT $3",
                     job_id, after, std::int64_t{limit} + 1);
    while (r.step()) {
      if (page.results.size() == static_cast<std::size_t>(limit)) {
        page.next_cursor = encode_result_cursor(page.results.back().position);
        break;
      }
      page.results.push_back(read_item_result(r));
    }
    return page;
  });
}

std::optional<ItemResult> PostgresCatalog::job_result(const std::string& job_id, std::int64_t position) {
  return read([&](Connection& c) -> std::optional<ItemResult> {
    auto r = c.query("SELECT " + kItemResultColumns + " FROM job_items WHERE job_id = $1 AND position = $2", job_id,
                     position);
    if (!r.step()) return std::nullopt;
    return read_item_result(r);
  });
}

std::vector<ExpiredOutput> PostgresCatalog::expired_outputs(std::int64_t now_ms, int max) {
  return read([&](Connection& c) {
    std::vector<ExpiredOutput> out;
    auto r = c.query("SELECT id, result_output_key FROM job_items WHERE result_output_key <> ''"
                     " AND result_expires_at <= $1 ORDER BY result_expires_at LIMIT $2",
                     now_ms, max);
    while (r.step()) out.push_back({r.int64(0), r.text(1)});
    return out;
  });
}

void PostgresCatalog::forget_outputs(const std::vector<std::int64_t>& item_ids) {
  if (item_ids.empty()) return;
  write(Durability::relaxed, [&](Connection& c) {
    c.query("UPDATE job_items SET result_output_key = '' WHERE id = ANY($1::bigint[])", id_array(item_ids));
  });
}

std::optional<JobRecord> PostgresCatalog::cancel_job(const std::string& id, std::int64_t now) {
  return write(Durability::full, [&](Connection& c) -> std::optional<JobRecord> {
    auto job = load_job(c, id);
    if (!job || job->finished_at) return job;
    // Items before the job's row, as every transaction takes them: a worker
    // that has claimed an item and waits for the job's row to count a
    // completion must not wait for this one (a deadlock). Items claimed
    // meanwhile run and count in; the dropped ones count in below.
    const auto dropped =
        c.query("UPDATE job_items SET status = 'cancelled', finished_at = $2, lease_owner = NULL"
                " WHERE job_id = $1 AND status = 'queued'",
                id, now * 1000)
            .changes();
    // A job whose last items finished since the read above stays as it ended.
    c.query("UPDATE jobs SET status = 'cancelled' WHERE id = $1 AND finished_at IS NULL", id);
    roll_up(c, id, ItemStatus::cancelled, dropped, now * 1000);
    return load_job(c, id);
  });
}

std::vector<ClaimedItem> PostgresCatalog::claim_items(const std::string& worker, int max, std::int64_t lease_ms,
                                       std::int64_t now_ms) {
  if (max <= 0) return {};
  return write(Durability::relaxed, [&](Connection& c) { return claim_in(c, worker, max, lease_ms, now_ms); });
}

bool PostgresCatalog::complete_item(std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& c) { return complete_in(c, item_id, output, now_ms); });
}

Completion PostgresCatalog::complete_and_claim(std::int64_t item_id, const ItemOutput& output, const ClaimRequest& next,
                                          std::int64_t now_ms) {
  // One transaction, one commit: the worker's next item comes back with the
  // acknowledgement of its last.
  return write(Durability::relaxed, [&](Connection& c) {
    Completion done;
    // Rows in the order every transaction takes them, the job's last (see
    // cancel_job): the job's row lock, which each completion of the job
    // waits for, is then held only to the commit.
    auto finished = record_completion(c, item_id, output, now_ms);
    done.next = claim_in(c, next.worker, next.max, next.lease_ms, now_ms);
    if (finished) settle_success(c, *finished, output.derivative_key, now_ms);
    done.recorded = finished.has_value();
    return done;
  });
}

bool PostgresCatalog::fail_item(std::int64_t item_id, std::int64_t lease_token, const JobError& error,
                                std::optional<std::int64_t> retry_at_ms, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& c) {
    if (retry_at_ms) {
      return c.query("UPDATE job_items SET status = 'queued', next_attempt_at = $3, lease_owner = NULL,"
                     " lease_until = 0, error_code = $4, error_message = $5"
                     " WHERE id = $1 AND lease_token = $2 AND status = 'running'",
                     item_id, lease_token, *retry_at_ms, error.code, error.message)
                 .changes() > 0;
    }
    auto item = finished_by(c.query(
        "UPDATE job_items SET status = 'failed', finished_at = $3, lease_owner = NULL, error_code = $4,"
        " error_message = $5 WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING " +
            kFinishedItemColumns,
        item_id, lease_token, now_ms, error.code, error.message));
    if (!item) return false;
    settle_failure(c, *item, error, now_ms);
    return true;
  });
}

int PostgresCatalog::release_leases(const std::string& worker) {
  return write(Durability::relaxed, [&](Connection& c) {
    const auto n = c.query("UPDATE job_items SET status = 'queued', lease_owner = NULL, lease_until = 0,"
                           " attempts = GREATEST(attempts - 1, 0) WHERE lease_owner = $1 AND status = 'running'",
                           worker)
                       .changes();
    if (n > 0) postgres::notify(c, Signal::work_queued, "");
    return static_cast<int>(n);
  });
}

QueueDepth PostgresCatalog::queue_depth() {
  return read([](Connection& c) {
    QueueDepth d;
    auto r = c.query("SELECT COUNT(*) FILTER (WHERE status = 'queued'), COUNT(*) FILTER (WHERE status = 'running')"
                     " FROM job_items WHERE status IN ('queued', 'running')");
    if (r.step()) d = {r.int64(0), r.int64(1)};
    return d;
  });
}

std::vector<CallbackDue> PostgresCatalog::claim_callbacks(int max, std::int64_t lease_ms, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& c) {
    std::vector<std::pair<std::string, int>> due;
    {
      auto r = c.query("UPDATE jobs SET callback_next_at = $3 WHERE id IN (SELECT id FROM jobs"
                       " WHERE callback_state = 'pending' AND callback_next_at <= $1 ORDER BY callback_next_at"
                       " LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, callback_attempts",
                       now_ms, max, now_ms + lease_ms);
      while (r.step()) due.emplace_back(r.text(0), r.integer(1));
    }
    std::vector<CallbackDue> out;
    for (const auto& [id, attempts] : due)
      if (auto job = load_job(c, id)) out.push_back({std::move(*job), attempts});
    return out;
  });
}

void PostgresCatalog::record_callback(const std::string& job_id, bool delivered,
                                      std::optional<std::int64_t> retry_at_ms) {
  write(Durability::relaxed, [&](Connection& c) {
    c.query("UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_state = $2, callback_next_at = $3"
            " WHERE id = $1 AND callback_state = 'pending'",
            job_id, std::string(callback_state_after(delivered, retry_at_ms.has_value())), retry_at_ms.value_or(0));
  });
}

// ---- nodes and settings ---------------------------------------------------------------

int PostgresCatalog::beat_node(const std::string& id, bool serves_api, std::int64_t now, std::int64_t alive_since) {
  return write(Durability::relaxed, [&](Connection& c) {
    c.query("INSERT INTO nodes (id, serves_api, started_at, seen_at) VALUES ($1, $2, $3, $3)"
            " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, serves_api = excluded.serves_api",
            id, serves_api, now);
    c.query("DELETE FROM nodes WHERE seen_at < $1", alive_since);
    auto r = c.query("SELECT COUNT(*) FROM nodes WHERE serves_api = 1");
    r.step();
    return r.integer(0);
  });
}

void PostgresCatalog::remove_node(const std::string& id) {
  write(Durability::relaxed, [&](Connection& c) { c.query("DELETE FROM nodes WHERE id = $1", id); });
}

std::string PostgresCatalog::setting(const std::string& name, const std::string& value_if_absent) {
  // ON CONFLICT waits for a concurrent insert of the same name to commit,
  // then the SELECT reads the first one's value.
  return write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name,
            value_if_absent);
    auto r = c.query("SELECT value FROM settings WHERE name = $1", name);
    r.step();
    return r.text(0);
  });
}

// ---- signals ---------------------------------------------------------------------------

void PostgresCatalog::on_signal(SignalHandler handler) {
  std::lock_guard lock(signal_mu_);
  listener_.reset();
  signal_handler_ = std::move(handler);
  if (!signal_handler_) return;
  listener_ = std::make_unique<postgres::Listener>(
      pool_->conninfo(), std::vector<std::string>{"progimage"},
      [this](const std::string&, const std::string& payload) { on_notification(payload); });
}

void PostgresCatalog::on_notification(const std::string& payload) {
  // "" after a reconnection: every kind, with no subject.
  if (payload.empty()) {
    for (auto s : postgres::kSignals) signal_handler_(s, "");
    return;
  }
  const auto colon = payload.find(':');
  const std::string kind = payload.substr(0, colon);
  const std::string subject = colon == std::string::npos ? "" : payload.substr(colon + 1);
  // Notifications of one transaction arrive in order, so by a fence this
  // node has handled the changes before it.
  if (kind == "fence") {
    if (!fences_.owns(subject)) answer_fence(subject);
    return;
  }
  if (kind == "fenced") {
    const auto at = subject.find(':');
    if (at != std::string::npos) fences_.acknowledged(subject.substr(0, at), subject.substr(at + 1));
    return;
  }
  for (auto s : postgres::kSignals)
    if (kind == postgres::signal_name(s)) signal_handler_(s, subject);
}

void PostgresCatalog::answer_fence(const std::string& token) {
  try {
    read([&](Connection& c) {
      c.query("SELECT pg_notify('progimage', $1)", "fenced:" + token + ":" + core::this_node_id());
    });
  } catch (const std::exception&) {
    // The writer stops waiting for this node after its timeout.
  }
}

void PostgresCatalog::await_fence(const postgres::Fence& fence) {
  if (!fence.raised()) return;
  {
    std::lock_guard lock(signal_mu_);
    if (!listener_) return;  // not serving (a command): no answers can be heard
  }
  // The node list holds the nodes that beat within the last few seconds.
  const auto peers = read([](Connection& c) {
    std::vector<std::string> ids;
    auto r = c.query("SELECT id FROM nodes WHERE id <> $1", core::this_node_id());
    while (r.step()) ids.push_back(r.text(0));
    return ids;
  });
  fences_.wait(fence, peers, postgres::kFenceTimeout);
}

// ---- stats and health --------------------------------------------------------------------

CatalogStats PostgresCatalog::stats(std::int64_t since_day, const std::string& tenant) {
  static const std::string uploads_per_day_sql = "SELECT " + postgres::dialect().utc_day("created_at") +
                                                 " AS d, COUNT(*) FROM images WHERE ($1 = '' OR tenant = $1)"
                                                 " AND created_at >= $2 GROUP BY d ORDER BY d";
  return read([&](Connection& c) {
    CatalogStats out;
    std::int64_t image_bytes = 0;
    {
      auto r = c.query("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM images WHERE ($1 = '' OR tenant = $1)", tenant);
      if (r.step()) out.images = r.int64(0), image_bytes = r.int64(1);
    }
    out.bytes_stored = image_bytes;
    if (tenant.empty()) {
      auto r = c.query("SELECT COALESCE(SUM(size), 0) FROM (SELECT MAX(size) AS size FROM images GROUP BY sha256) b");
      if (r.step()) out.bytes_stored = r.int64(0);
    }
    {
      auto r = c.query("SELECT COALESCE(SUM(size), 0) FROM working_copies WHERE $1 = ''"
                       " OR sha256 IN (SELECT sha256 FROM images WHERE tenant = $1)",
                       tenant);
      if (r.step()) out.bytes_working_copies = r.int64(0);
    }
    {
      auto r = c.query("SELECT COALESCE(SUM(bytes), 0) FROM dedupe_savings WHERE ($1 = '' OR tenant = $1)", tenant);
      if (r.step()) out.bytes_saved_by_dedupe = r.int64(0) + (image_bytes - out.bytes_stored);
    }
    {
      auto r = c.query("SELECT format, COUNT(*) AS n FROM images WHERE ($1 = '' OR tenant = $1)"
                       " GROUP BY format ORDER BY n DESC, format",
                       tenant);
      while (r.step()) out.formats.emplace_back(r.text(0), r.int64(1));
    }
    {
      auto r = c.query("SELECT CASE WHEN camera_model = '' THEN 'unknown' ELSE camera_model END AS m, COUNT(*) AS n"
                       " FROM images WHERE ($1 = '' OR tenant = $1) GROUP BY m ORDER BY n DESC, m LIMIT 10",
                       tenant);
      while (r.step()) out.camera_models.emplace_back(r.text(0), r.int64(1));
    }
    {
      auto r = c.query(uploads_per_day_sql, tenant, since_day);
      while (r.step()) out.uploads_per_day.emplace_back(r.text(0), r.int64(1));
    }
    {
      auto r = c.query("SELECT COUNT(*) FILTER (WHERE status = 'queued'), COUNT(*) FILTER (WHERE status = 'running'),"
                       " COUNT(*) FILTER (WHERE status IN ('failed', 'partial')) FROM jobs"
                       " WHERE ($1 = '' OR tenant = $1)",
                       tenant);
      if (r.step()) out.jobs_queued = r.int64(0), out.jobs_running = r.int64(1), out.jobs_failed = r.int64(2);
    }
    return out;
  });
}

bool PostgresCatalog::healthy() {
  try {
    return read([](Connection& c) {
      auto r = c.query("SELECT COUNT(*) FROM schema_version");
      return r.step() && r.int64(0) > 0;
    });
  } catch (...) {
    return false;
  }
}

std::string PostgresCatalog::integrity_check() {
  // Foreign keys and uniqueness the server enforces itself; these are the
  // summaries the catalog keeps by hand.
  static const std::pair<const char*, const char*> kChecks[] = {
      {"tenant totals differ from the images they count",
       "SELECT t.tenant FROM tenant_totals t FULL JOIN (SELECT tenant, COUNT(*) AS n, SUM(size) AS b FROM images"
       " GROUP BY tenant) i ON i.tenant = t.tenant WHERE COALESCE(t.images, 0) <> COALESCE(i.n, 0)"
       " OR COALESCE(t.bytes, 0) <> COALESCE(i.b, 0)"},
      {"a pending variant has no queued item",
       "SELECT v.image_id FROM image_variants v WHERE v.status = 'pending' AND NOT EXISTS (SELECT 1 FROM job_items j"
       " WHERE j.kind = 'variant' AND j.source = v.image_id AND j.variant = v.name)"},
      {"an upload link has more uses than it allows", "SELECT id FROM upload_links WHERE uses > max_uploads"},
      {"a working copy of bytes no image has", kOrphanWorkingCopies},
      {"a job counts more items than it has",
       "SELECT id FROM jobs WHERE done + failed + cancelled > total"},
  };
  std::vector<std::string> problems;
  try {
    read([&](Connection& c) {
      for (const auto& [what, sql] : kChecks) {
        auto r = c.query(sql);
        if (r.step()) problems.push_back(std::string(what) + ": " + r.text(0));
      }
    });
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  if (problems.empty()) return "ok";
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "\n") + p;
  return out;
}

}  // namespace progimage::catalog
