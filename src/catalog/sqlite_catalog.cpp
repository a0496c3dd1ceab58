#include "catalog/sqlite_catalog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "catalog/cursor.hpp"
#include "catalog/image_sql.hpp"
#include "catalog/job_rules.hpp"
#include "catalog/records.hpp"
#include "catalog/sqlite_access.hpp"
#include "catalog/sqlite_db.hpp"
#include "catalog/sqlite_dialect.hpp"
#include "catalog/sqlite_schema.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/unique_fd.hpp"
#include "core/tags.hpp"
#include "core/time.hpp"

namespace progimage::catalog {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

/// The statements that read one image, made once (their text comes partly
/// from the dialect).
struct ImageSelects {
  std::string by_id, by_tenant_and_sha256;
};

const ImageSelects& image_selects() {
  static const ImageSelects selects = [] {
    const std::string select = "SELECT " + image_columns(sqlite::dialect()) + " FROM images i WHERE ";
    return ImageSelects{select + "i.id = ?1", select + "i.tenant = ?1 AND i.sha256 = ?2"};
  }();
  return selects;
}

void bind_all(Statement& s, const SqlArgs& args) {
  const auto& values = args.values();
  for (std::size_t k = 0; k < values.size(); ++k) {
    std::visit([&](const auto& v) { s.bind(static_cast<int>(k + 1), v); }, values[k]);
  }
}

std::optional<core::ImageRecord> load_image(Connection& c, const std::string& sql, const std::string& arg,
                                            const std::string& second = {}) {
  auto s = c.cached(sql);
  s->bind(1, arg);
  if (!second.empty()) s->bind(2, second);
  if (!s->step()) return std::nullopt;
  return read_image(*s);
}

bool image_exists(Connection& c, const std::string& id) {
  auto s = c.cached("SELECT 1 FROM images WHERE id = ?1");
  s->bind(1, id);
  return s->step();
}

void insert_image_row(Connection& c, const core::ImageRecord& rec) {
  auto s = c.cached(
      "INSERT INTO images (id, sha256, format, width, height, size, frames, has_alpha, created_at,"
      " name, description, camera_make, camera_model, focus_x, focus_y, metadata_json, tenant, phash)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
  s->bind(1, rec.id).bind(2, rec.sha256).bind(3, rec.format).bind(4, rec.width).bind(5, rec.height);
  s->bind(6, rec.size).bind(7, rec.frames).bind(8, rec.has_alpha ? 1 : 0).bind(9, rec.created_at);
  s->bind(10, rec.name).bind(11, rec.description).bind(12, rec.camera_make).bind(13, rec.camera_model);
  if (rec.focus) {
    s->bind(14, rec.focus->x).bind(15, rec.focus->y);
  }
  s->bind(16, rec.metadata_json).bind(17, rec.tenant);
  if (rec.phash) s->bind(18, static_cast<std::int64_t>(*rec.phash));
  s->run();
}

void add_to_totals(Connection& w, const std::string& tenant, std::int64_t images, std::int64_t bytes) {
  auto s = w.cached(
      "INSERT INTO tenant_totals (tenant, images, bytes) VALUES (?1, ?2, ?3)"
      " ON CONFLICT (tenant) DO UPDATE SET images = images + excluded.images, bytes = bytes + excluded.bytes");
  s->bind(1, tenant).bind(2, images).bind(3, bytes).run();
}

/// Throws quota_exceeded when storing `rec` would take its tenant over its quota.
void check_quota(Connection& w, const core::ImageRecord& rec) {
  auto s = w.cached(
      "SELECT q.max_bytes, q.max_images, COALESCE(t.bytes, 0), COALESCE(t.images, 0)"
      " FROM tenant_quotas q LEFT JOIN tenant_totals t ON t.tenant = q.tenant WHERE q.tenant = ?1");
  s->bind(1, rec.tenant);
  if (!s->step()) return;
  const TenantQuota quota{s->int64(0), s->int64(1)};
  const TenantUse use{s->int64(2), s->int64(3)};
  if (auto refusal = quota_refusal(quota, use, rec.size)) throw core::Error(core::ErrorCode::quota_exceeded, *refusal);
}

void insert_tags(Connection& c, const std::string& id, const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    auto s = c.cached("INSERT INTO image_tags (image_id, tag) VALUES (?1, ?2)");
    s->bind(1, id).bind(2, tag).run();
  }
}

void insert_variant(Connection& c, const std::string& image_id, const std::string& name, std::int64_t now_ms) {
  {
    auto s = c.cached("INSERT INTO image_variants (image_id, name) VALUES (?1, ?2)");
    s->bind(1, image_id).bind(2, name).run();
  }
  auto s = c.cached(
      "INSERT INTO job_items (kind, source, variant, max_attempts, next_attempt_at)"
      " VALUES ('variant', ?1, ?2, ?3, ?4)");
  s->bind(1, image_id).bind(2, name).bind(3, kVariantAttempts).bind(4, now_ms).run();
}

/// Removes the derivative index rows of one tenant's image of these bytes;
/// their keys, sorted.
std::vector<std::string> delete_derivatives_of(Connection& c, const std::string& tenant, const std::string& sha256) {
  std::vector<std::string> keys;
  auto s = c.cached("DELETE FROM derivatives WHERE tenant = ?1 AND sha256 = ?2 RETURNING key");
  s->bind(1, tenant).bind(2, sha256);
  while (s->step()) keys.push_back(s->text(0));
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::int64_t total_derivative_bytes(Connection& c) {
  auto s = c.cached("SELECT COALESCE(SUM(size), 0) FROM derivatives");
  s->step();
  return s->int64(0);
}

std::optional<JobRecord> load_job(Connection& c, const std::string& id) {
  auto s = c.cached("SELECT " + kJobColumns + " FROM jobs WHERE id = ?1");
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  return read_job(*s);
}

/// Counts `count` items ended in `final_status` into their job and finishes
/// the job when none is left.
void roll_up(Connection& c, const std::string& job_id, ItemStatus final_status, std::int64_t count,
             std::int64_t now_ms) {
  const std::string column(job_counter_column(final_status));
  JobCounts counts;
  std::optional<JobStatus> finished;
  {
    auto s = c.cached("UPDATE jobs SET " + column + " = " + column +
                      " + ?2 WHERE id = ?1 RETURNING total, done, failed, cancelled, status, finished_at");
    s->bind(1, job_id).bind(2, count);
    if (!s->step()) return;
    if (!s->is_null(5)) return;  // ended already
    counts = {s->int64(0), s->int64(1), s->int64(2), s->int64(3)};
    finished = finished_job_status(parse_job_status(s->text(4)).value_or(JobStatus::queued), counts);
  }
  if (!finished) return;
  auto s = c.cached(
      "UPDATE jobs SET status = ?2, finished_at = ?3,"
      " callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END, callback_next_at = ?4"
      " WHERE id = ?1");
  s->bind(1, job_id).bind(2, job_status_name(*finished)).bind(3, now_ms / 1000).bind(4, now_ms).run();
}

/// What an item that ended well changes beyond its own row.
void settle_success(Connection& c, const FinishedItem& item, const std::string& derivative_key,
                    std::int64_t now_ms) {
  if (item.kind == ItemKind::variant) {
    auto s = c.cached(
        "UPDATE image_variants SET status = 'ready', derivative_key = ?3, error_code = NULL, error_message = NULL"
        " WHERE image_id = ?1 AND name = ?2");
    s->bind(1, item.source).bind(2, item.variant).bind(3, derivative_key).run();
  } else if (!item.job_id.empty()) {
    roll_up(c, item.job_id, ItemStatus::done, 1, now_ms);
  }
}

/// What an item that failed for good changes beyond its own row.
void settle_failure(Connection& c, const FinishedItem& item, const JobError& error, std::int64_t now_ms) {
  if (item.kind == ItemKind::variant) {
    auto s = c.cached(
        "UPDATE image_variants SET status = 'failed', error_code = ?3, error_message = ?4"
        " WHERE image_id = ?1 AND name = ?2");
    s->bind(1, item.source).bind(2, item.variant).bind(3, error.code).bind(4, error.message).run();
  } else if (!item.job_id.empty()) {
    roll_up(c, item.job_id, ItemStatus::failed, 1, now_ms);
  }
}

/// Ends the item just updated by `s` (an UPDATE ... RETURNING
/// kFinishedItemColumns); nullopt when it matched no row (someone else ended
/// it, or the lease moved on).
std::optional<FinishedItem> finished_by(Statement& s) {
  if (!s.step()) return std::nullopt;
  return read_finished_item(s);
}

/// Items whose lease ran out by `now_ms` (their workers died or stalled), at
/// most `max`: the ids of those with attempts left; the others fail here.
std::vector<std::int64_t> take_expired_leases(Connection& c, int max, std::int64_t now_ms) {
  std::vector<ClaimedItem> expired;
  {
    auto s = c.cached("SELECT " + kClaimedItemColumns +
                      " FROM job_items WHERE status = 'running' AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2");
    s->bind(1, now_ms).bind(2, max);
    while (s->step()) expired.push_back(read_claimed_item(*s));
  }
  std::vector<std::int64_t> runnable;
  for (const auto& item : expired) {
    if (item.attempts < item.max_attempts) {
      runnable.push_back(item.id);
      continue;
    }
    const JobError error = lease_expired_error(item.attempts);
    auto s = c.cached(
        "UPDATE job_items SET status = 'failed', finished_at = ?2, lease_owner = NULL,"
        " error_code = ?3, error_message = ?4 WHERE id = ?1");
    s->bind(1, item.id).bind(2, now_ms).bind(3, error.code).bind(4, error.message).run();
    settle_failure(c, finished_item(item), error, now_ms);
  }
  return runnable;
}

bool tenant_has_image(Connection& c, const std::string& tenant, const std::string& id) {
  auto s = c.cached("SELECT 1 FROM images WHERE id = ?1 AND tenant = ?2");
  s->bind(1, id).bind(2, tenant);
  return s->step();
}

/// One item per source of a new job; throws core::Error(bad_parameter)
/// naming the image ids that the job's tenant does not have. Returns how many.
std::int64_t insert_listed_items(Connection& c, const JobSpec& job, const std::vector<JobSource>& sources,
                                 std::int64_t now_ms) {
  MissingImages missing;
  for (const auto& src : sources) {
    if (src.kind == ItemKind::image && !tenant_has_image(c, job.tenant, src.source)) missing.add(src.source);
  }
  if (!missing.empty()) throw missing.error();
  std::int64_t position = 0;
  for (const auto& src : sources) {
    auto s = c.cached(
        "INSERT INTO job_items (job_id, position, kind, source, max_attempts, next_attempt_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    s->bind(1, job.id).bind(2, position).bind(3, item_kind_name(src.kind)).bind(4, src.source);
    s->bind(5, job.max_attempts).bind(6, now_ms).run();
    ++position;
  }
  return position;
}

/// One item per image that `selector` finds; returns how many.
std::int64_t insert_found_items(Connection& c, const JobSpec& job, ImageQuery selector, std::int64_t now_ms) {
  selector.tenant = job.tenant;  // a job selects its own tenant's images only
  SqlArgs args(sqlite::dialect());
  Statement s = c.prepare(insert_found_items_sql(selector, job.id, job.max_attempts, now_ms, args));
  bind_all(s, args);
  s.run();
  return c.changes();
}

/// SQLite syncs the directory for its journals but not for a new database
/// file's own entry: do it once at start, so a new catalog survives power loss.
void sync_parent_directory(const std::filesystem::path& file) {
  const auto dir = std::filesystem::absolute(file).parent_path();
  core::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return;  // best effort: the commits themselves are already synced
  ::fsync(fd.get());
}

/// claim_items() inside the caller's transaction.
std::vector<ClaimedItem> claim_in(Connection& w, const std::string& worker, int max, std::int64_t lease_ms,
                                std::int64_t now_ms) {
  if (max <= 0) return {};
  // Expired leases first: their workers died or stalled.
  std::vector<std::int64_t> ids = take_expired_leases(w, max, now_ms);
  if (static_cast<int>(ids.size()) < max) {
    auto s = w.cached(
        "SELECT id FROM job_items WHERE status = 'queued' AND next_attempt_at <= ?1"
        " ORDER BY next_attempt_at, id LIMIT ?2");
    s->bind(1, now_ms).bind(2, max - static_cast<int>(ids.size()));
    while (s->step()) ids.push_back(s->int64(0));
  }
  std::vector<ClaimedItem> out;
  for (auto id : ids) {
    ClaimedItem item;
    {
      auto s = w.cached(
          "UPDATE job_items SET status = 'running', attempts = attempts + 1, lease_owner = ?2,"
          " lease_until = ?3, lease_token = lease_token + 1 WHERE id = ?1 RETURNING " + kClaimedItemColumns);
      s->bind(1, id).bind(2, worker).bind(3, now_ms + lease_ms);
      if (!s->step()) continue;
      item = read_claimed_item(*s);
    }
    if (!item.job_id.empty()) {
      if (auto job = load_job(w, item.job_id)) item.spec = job->spec;
      auto s = w.cached("UPDATE jobs SET status = 'running' WHERE id = ?1 AND status = 'queued'");
      s->bind(1, item.job_id).run();
    }
    out.push_back(std::move(item));
  }
  return out;
}

/// Records the item's result (its row only), unless it has one already.
std::optional<FinishedItem> record_completion(Connection& w, std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  std::optional<FinishedItem> item;
  {
    // Only the first completion counts, whoever holds the lease now.
    auto s = w.cached(
        "UPDATE job_items SET status = 'done', result_image_id = ?2, result_key = ?3, finished_at = ?4,"
        " lease_owner = NULL, error_code = NULL, error_message = NULL, result_output_key = ?5,"
        " result_format = ?6, result_expires_at = ?7"
        " WHERE id = ?1 AND status IN ('queued', 'running') RETURNING " + kFinishedItemColumns);
    s->bind(1, item_id).bind(2, output.image_id).bind(3, output.derivative_key).bind(4, now_ms);
    s->bind(5, output.output.key).bind(6, output.output.format);
    if (!output.output.key.empty()) s->bind(7, output.output.expires_at_ms);
    item = finished_by(*s);
  }
  return item;
}

/// complete_item() inside the caller's transaction.
bool complete_in(Connection& w, std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  auto item = record_completion(w, item_id, output, now_ms);
  if (!item) return false;
  settle_success(w, *item, output.derivative_key, now_ms);
  return true;
}

}  // namespace

// ---- setup -----------------------------------------------------------------

SqliteCatalog::SqliteCatalog(std::filesystem::path db_file, bool apply_migrations) : file_(std::move(db_file)) {
  if (file_.empty()) throw std::invalid_argument("catalog: empty database path");
  if (file_.has_parent_path()) std::filesystem::create_directories(file_.parent_path());
  writer_ = std::make_unique<Connection>(file_, false);
  if (apply_migrations) migrate();
  sync_parent_directory(file_);
}

SqliteCatalog::~SqliteCatalog() {
  try {
    flush_touches();
  } catch (...) {
    // Touches are hints for eviction; losing some at shutdown is harmless.
  }
}

// ---- group commit ------------------------------------------------------------

void SqliteCatalog::commit_grouped(const std::function<void(Connection&)>& body) {
  GroupedWrite mine{body};
  std::unique_lock lock(group_mu_);
  waiting_.push_back(&mine);
  while (!mine.done) {
    if (committing_) {
      group_done_.wait(lock);
      continue;
    }
    // No commit under way: this caller commits every write waiting, its own
    // included; those arriving meanwhile form the next group.
    committing_ = true;
    std::vector<GroupedWrite*> group;
    group.swap(waiting_);
    lock.unlock();
    run_group(group);
    lock.lock();
    committing_ = false;
    for (auto* w : group) w->done = true;
    group_done_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
}

void SqliteCatalog::run_group(const std::vector<GroupedWrite*>& group) {
  std::lock_guard lock(write_mu_);  // relaxed writes take turns with groups
  try {
    sqlite::Transaction tx(*writer_, sqlite::dialect().begin_write);
    for (auto* w : group) {
      if (group.size() == 1) {
        w->body(*writer_);  // alone: its error undoes the transaction
        continue;
      }
      writer_->exec("SAVEPOINT grouped_write");
      try {
        w->body(*writer_);
      } catch (...) {
        w->error = std::current_exception();
        // Throws when SQLite ended the whole transaction itself (a full or
        // failing disk): then every member fails below.
        writer_->exec("ROLLBACK TO grouped_write");
      }
      writer_->exec("RELEASE grouped_write");
    }
    tx.commit();
    commits_.fetch_add(1);
    grouped_writes_.fetch_add(static_cast<std::uint64_t>(
        std::count_if(group.begin(), group.end(), [](const GroupedWrite* w) { return !w->error; })));
  } catch (...) {
    // Begin, a savepoint or the commit failed: nothing of the group is stored.
    for (auto* w : group)
      if (!w->error) w->error = std::current_exception();
  }
}

int SqliteCatalog::latest_schema_version() noexcept { return sqlite::migrations().back().version; }

std::vector<int> SqliteCatalog::migrate() {
  // A migration may rebuild a table (SQLite's way to change a constraint),
  // which needs foreign keys off outside the transaction; they are checked
  // before it commits and switched on again whatever happens.
  writer_->exec("PRAGMA foreign_keys = OFF");
  struct ForeignKeysOn {
    Connection& c;
    ~ForeignKeysOn() {
      try {
        c.exec("PRAGMA foreign_keys = ON");
      } catch (...) {
      }
    }
  } restore{*writer_};
  // In one write transaction: two processes starting on one file migrate one
  // after the other.
  return write(Durability::full, [](Connection& w) {
    w.exec(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    int current = 0;
    {
      auto s = w.cached("SELECT COALESCE(MAX(version), 0) FROM schema_version");
      s->step();
      current = s->integer(0);
    }
    if (current > latest_schema_version()) {
      throw core::Error(core::ErrorCode::internal,
                        "catalog: database schema version " + std::to_string(current) +
                            " is newer than this program's " + std::to_string(latest_schema_version()));
    }
    std::vector<int> applied;
    for (const auto& m : sqlite::migrations()) {
      if (m.version <= current) continue;
      applied.push_back(m.version);
      w.exec(m.sql);
      auto s = w.cached("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)");
      s->bind(1, m.version).bind(2, core::unix_now()).run();
    }
    if (applied.empty()) return applied;
    Statement check = w.prepare("PRAGMA foreign_key_check");
    if (check.step())
      throw core::Error(core::ErrorCode::internal,
                        "catalog: a migration left a row of " + check.text(0) + " without its " + check.text(2));
    return applied;
  });
}

int SqliteCatalog::schema_version() {
  auto r = reader();
  if (!r->cached("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'")->step()) return 0;
  auto s = r->cached("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  s->step();
  return s->integer(0);
}

// ---- images ----------------------------------------------------------------

InsertResult SqliteCatalog::insert_image(const core::ImageRecord& image) {
  core::ImageRecord rec = image_for_insert(image);
  return write(Durability::full, [&](Connection& w) -> InsertResult {
    // Inside the write transaction, so two uploads of the same bytes cannot
    // both miss here: the second sees the first's row.
    if (auto existing = load_image(w, image_selects().by_tenant_and_sha256, rec.tenant, rec.sha256)) {
      auto saved = w.cached(
          "INSERT INTO dedupe_savings (tenant, uploads, bytes) VALUES (?1, 1, ?2)"
          " ON CONFLICT (tenant) DO UPDATE SET uploads = uploads + 1, bytes = bytes + excluded.bytes");
      saved->bind(1, rec.tenant).bind(2, rec.size).run();
      return {std::move(*existing), true};
    }
    check_quota(w, rec);
    insert_image_row(w, rec);
    insert_tags(w, rec.id, rec.tags);
    add_to_totals(w, rec.tenant, 1, rec.size);
    // Variants are queued in the transaction that acknowledges the upload, so
    // a crash right after it still produces them.
    const auto now_ms = core::unix_now_ms();
    if (rec.wants_working_copies) {
      // First in the queue: the variants claimed after it can decode the copies.
      auto s = w.cached(
          "INSERT INTO job_items (kind, source, max_attempts, next_attempt_at) VALUES ('working_copies', ?1, ?2, ?3)");
      s->bind(1, rec.id).bind(2, kVariantAttempts).bind(3, now_ms).run();
    }
    for (const auto& [name, status] : rec.variants) insert_variant(w, rec.id, name, now_ms);
    return {std::move(rec), false};
  });
}

std::optional<core::ImageRecord> SqliteCatalog::get_image(const std::string& id) {
  auto r = reader();
  return load_image(*r, image_selects().by_id, id);
}

std::optional<core::ImageRecord> SqliteCatalog::update_image(const std::string& id, const ImagePatch& patch) {
  return write(Durability::full, [&](Connection& w) -> std::optional<core::ImageRecord> {
    if (!image_exists(w, id)) return std::nullopt;
    if (patch.description) {
      auto s = w.cached("UPDATE images SET description = ?2 WHERE id = ?1");
      s->bind(1, id).bind(2, *patch.description).run();
    }
    if (patch.tags) {
      auto s = w.cached("DELETE FROM image_tags WHERE image_id = ?1");
      s->bind(1, id).run();
      insert_tags(w, id, core::normalize_tags(*patch.tags));
    }
    if (patch.focus) {
      auto s = w.cached("UPDATE images SET focus_x = ?2, focus_y = ?3 WHERE id = ?1");
      s->bind(1, id);
      if (*patch.focus) s->bind(2, (*patch.focus)->x).bind(3, (*patch.focus)->y);
      s->run();
    }
    return load_image(w, image_selects().by_id, id);
  });
}

DeleteResult SqliteCatalog::delete_image(const std::string& id) {
  return write(Durability::full, [&](Connection& w) {
    DeleteResult result;
    std::string tenant;
    std::int64_t size = 0;
    {
      auto s = w.cached("SELECT sha256, tenant, size FROM images WHERE id = ?1");
      s->bind(1, id);
      if (!s->step()) return result;
      result.sha256 = s->text(0);
      tenant = s->text(1);
      size = s->int64(2);
    }
    result.found = true;
    add_to_totals(w, tenant, -1, -size);
    {
      auto s = w.cached("DELETE FROM image_tags WHERE image_id = ?1");
      s->bind(1, id).run();
    }
    {
      auto s = w.cached("DELETE FROM images WHERE id = ?1");
      s->bind(1, id).run();
    }
    {
      auto s = w.cached("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = ?1)");
      s->bind(1, result.sha256);
      s->step();
      result.blob_unreferenced = s->int64(0) == 0;
    }
    if (result.blob_unreferenced) {
      auto s = w.cached("DELETE FROM working_copies WHERE sha256 = ?1 RETURNING key");
      s->bind(1, result.sha256);
      while (s->step()) result.working_copy_keys.push_back(s->text(0));
    }
    // Derivatives were made for this tenant's image of the bytes, the only
    // one it has ((tenant, sha256) is unique): they go with it.
    result.derivative_keys = delete_derivatives_of(w, tenant, result.sha256);
    return result;
  });
}

ImagePage SqliteCatalog::list_images(const ImageQuery& query) {
  const int limit = clamp_limit(query.limit);
  SqlArgs args(sqlite::dialect());
  const std::string sql = list_images_sql(query, limit, args);
  auto r = reader();
  Statement s = r->prepare(sql);
  bind_all(s, args);
  ImagePage page;
  while (s.step()) {
    if (page.images.size() == static_cast<std::size_t>(limit)) {
      const auto& last = page.images.back();
      page.next_cursor = encode_cursor({last.created_at, last.id});
      break;
    }
    page.images.push_back(read_image(s));
  }
  return page;
}

void SqliteCatalog::scan_image_hashes(std::int64_t since, const std::function<void(ImageHash&&)>& each) {
  auto r = reader();
  // Rows stored before the phash column existed have the hash in their metadata only.
  auto s = r->cached(
      "SELECT id, tenant, phash, CASE WHEN phash IS NULL THEN json_extract(metadata_json, '$.phash') END"
      " FROM images WHERE created_at >= ?1");
  s->bind(1, since);
  while (s->step()) {
    auto phash = s->is_null(2) ? core::parse_hex64(s->is_null(3) ? std::string() : s->text(3))
                               : std::optional<std::uint64_t>(static_cast<std::uint64_t>(s->int64(2)));
    if (phash) each(ImageHash{s->text(0), s->text(1), *phash});
  }
}

// ---- derivatives -----------------------------------------------------------

std::optional<DerivativeRecord> SqliteCatalog::get_derivative(const std::string& key) {
  std::optional<DerivativeRecord> d;
  {
    auto r = reader();
    auto s = r->cached("SELECT " + kDerivativeColumns + " FROM derivatives WHERE key = ?1");
    s->bind(1, key);
    if (!s->step()) return std::nullopt;
    d = read_derivative(*s);
  }
  d->last_used_at = std::max(d->last_used_at, touches_.pending(key));
  return d;
}

void SqliteCatalog::put_derivative(const DerivativeRecord& d) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached(
        "INSERT INTO derivatives (" + kDerivativeColumns +
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, tenant = excluded.tenant, params = excluded.params,"
        " format = excluded.format, width = excluded.width, height = excluded.height, size = excluded.size,"
        " created_at = excluded.created_at, last_used_at = excluded.last_used_at");
    s->bind(1, d.key).bind(2, d.sha256).bind(3, d.params).bind(4, d.format).bind(5, d.width);
    s->bind(6, d.height).bind(7, d.size).bind(8, d.created_at).bind(9, d.last_used_at).bind(10, d.tenant);
    s->run();
  });
}

void SqliteCatalog::touch_derivative(const std::string& key, std::int64_t now) {
  if (touches_.record(key, now)) flush_touches(false);
}

void SqliteCatalog::flush_touches(bool wait) {
  // A hit calls this on an I/O thread: it must not queue behind an upload's
  // fsynced commit, so it gives up when the writer is busy (the touches stay
  // buffered for the next try).
  std::unique_lock write_lock(write_mu_, std::defer_lock);
  if (wait) write_lock.lock();
  else if (!write_lock.try_lock()) return;
  const auto batch = touches_.take();
  if (batch.empty()) return;
  try {
    // "Last used" times are hints: no fsync for them.
    write_locked(Durability::relaxed, [&](Connection& w) {
      for (const auto& [key, when] : batch) {
        auto s = w.cached("UPDATE derivatives SET last_used_at = MAX(last_used_at, ?2) WHERE key = ?1");
        s->bind(1, key).bind(2, when).run();
      }
    });
  } catch (...) {
    touches_.restore(batch);
    throw;
  }
}

std::vector<DerivativeRecord> SqliteCatalog::list_derivatives(const std::string& tenant, const std::string& sha256) {
  std::vector<DerivativeRecord> out;
  {
    auto r = reader();
    auto s = r->cached("SELECT " + kDerivativeColumns +
                       " FROM derivatives WHERE tenant = ?1 AND sha256 = ?2 ORDER BY params, key");
    s->bind(1, tenant).bind(2, sha256);
    while (s->step()) out.push_back(read_derivative(*s));
  }
  for (auto& d : out) d.last_used_at = std::max(d.last_used_at, touches_.pending(d.key));
  return out;
}

std::vector<std::string> SqliteCatalog::remove_derivatives(const std::string& tenant, const std::string& sha256) {
  return write(Durability::full, [&](Connection& w) { return delete_derivatives_of(w, tenant, sha256); });
}

std::int64_t SqliteCatalog::derivative_bytes() {
  auto r = reader();
  return total_derivative_bytes(*r);
}

std::vector<std::string> SqliteCatalog::evict_derivatives(std::int64_t budget) {
  flush_touches();  // so that recent hits count
  budget = std::max<std::int64_t>(budget, 0);
  return write(Durability::full, [&](Connection& w) {
    std::vector<std::string> evicted;
    std::int64_t total = total_derivative_bytes(w);
    if (total > budget) {
      auto s = w.cached("SELECT key, size FROM derivatives ORDER BY last_used_at, created_at, key");
      while (total > budget && s->step()) {
        evicted.push_back(s->text(0));
        total -= s->int64(1);
      }
    }
    for (const auto& key : evicted) {
      auto s = w.cached("DELETE FROM derivatives WHERE key = ?1");
      s->bind(1, key).run();
    }
    return evicted;
  });
}

// ---- working copies --------------------------------------------------------

std::vector<WorkingCopyRecord> SqliteCatalog::working_copies(const std::string& sha256) {
  auto r = reader();
  auto s = r->cached("SELECT " + kWorkingCopyColumns + " FROM working_copies WHERE sha256 = ?1 ORDER BY level");
  s->bind(1, sha256);
  std::vector<WorkingCopyRecord> out;
  while (s->step()) out.push_back(read_working_copy(*s));
  return out;
}

bool SqliteCatalog::put_working_copy(const WorkingCopyRecord& c) {
  return write(Durability::full, [&](Connection& w) {
    // In the transaction that would see a delete of the last image of the
    // bytes: a copy finished after it is refused, not left behind.
    auto s = w.cached("INSERT OR REPLACE INTO working_copies (" + kWorkingCopyColumns +
                      ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM images WHERE sha256 = ?1)");
    s->bind(1, c.sha256).bind(2, c.level).bind(3, c.key).bind(4, c.format).bind(5, c.width).bind(6, c.height)
        .bind(7, c.size).bind(8, c.created_at).run();
    return w.changes() > 0;
  });
}

// ---- variants --------------------------------------------------------------

std::optional<VariantState> SqliteCatalog::get_variant(const std::string& image_id, const std::string& name) {
  auto r = reader();
  auto s = r->cached("SELECT " + kVariantColumns + " FROM image_variants WHERE image_id = ?1 AND name = ?2");
  s->bind(1, image_id).bind(2, name);
  if (!s->step()) return std::nullopt;
  return read_variant(*s);
}

bool SqliteCatalog::queue_variant(const std::string& image_id, const std::string& name) {
  return write(Durability::full, [&](Connection& w) {
    if (!image_exists(w, image_id)) return false;
    {
      auto s = w.cached("SELECT 1 FROM image_variants WHERE image_id = ?1 AND name = ?2");
      s->bind(1, image_id).bind(2, name);
      if (s->step()) return true;
    }
    insert_variant(w, image_id, name, core::unix_now_ms());
    return true;
  });
}

// ---- job queue -------------------------------------------------------------

JobRecord SqliteCatalog::create_job(const JobSpec& spec, const std::vector<JobSource>& sources,
                                    const std::optional<ImageQuery>& selector) {
  const auto now_ms = core::unix_now_ms();
  const JobSpec js = job_spec_for_insert(spec, now_ms);
  return write(Durability::full, [&](Connection& w) {
    {
      auto s = w.cached(
          "INSERT INTO jobs (id, params, format, store, max_attempts, created_at, callback_url, tenant)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      s->bind(1, js.id).bind(2, js.params).bind(3, js.format).bind(4, js.store ? 1 : 0).bind(5, js.max_attempts);
      s->bind(6, js.created_at).bind(7, js.callback_url).bind(8, js.tenant).run();
    }
    // A search runs inside the transaction: the job gets exactly the images
    // that existed when it was created, newest first like the list.
    const std::int64_t total =
        selector ? insert_found_items(w, js, *selector, now_ms) : insert_listed_items(w, js, sources, now_ms);
    {
      auto s = w.cached("UPDATE jobs SET total = ?2 WHERE id = ?1");
      s->bind(1, js.id).bind(2, total).run();
    }
    if (total == 0) roll_up(w, js.id, ItemStatus::done, 0, now_ms);  // nothing to do: finished at once
    return std::move(*load_job(w, js.id));
  });
}

std::optional<JobRecord> SqliteCatalog::get_job(const std::string& id) {
  auto r = reader();
  return load_job(*r, id);
}

ResultPage SqliteCatalog::job_results(const std::string& job_id, const std::string& cursor, int limit) {
  const std::int64_t after = result_cursor_position(cursor);
  limit = clamp_limit(limit);
  ResultPage page;
  auto r = reader();
  auto s = r->cached("SELECT " + kItemResultColumns +
                     " FROM job_items WHERE job_id = ?1 AND position > ?2 ORDER BY position LIMIT ?3");
  s->bind(1, job_id).bind(2, after).bind(3, std::int64_t{limit} + 1);
  while (s->step()) {
    if (page.results.size() == static_cast<std::size_t>(limit)) {
      page.next_cursor = encode_result_cursor(page.results.back().position);
      break;
    }
    page.results.push_back(read_item_result(*s));
  }
  return page;
}

std::optional<ItemResult> SqliteCatalog::job_result(const std::string& job_id, std::int64_t position) {
  auto r = reader();
  auto s = r->cached("SELECT " + kItemResultColumns + " FROM job_items WHERE job_id = ?1 AND position = ?2");
  s->bind(1, job_id).bind(2, position);
  if (!s->step()) return std::nullopt;
  return read_item_result(*s);
}

std::vector<ExpiredOutput> SqliteCatalog::expired_outputs(std::int64_t now_ms, int max) {
  std::vector<ExpiredOutput> out;
  auto r = reader();
  auto s = r->cached(
      "SELECT id, result_output_key FROM job_items WHERE result_output_key != '' AND result_expires_at <= ?1"
      " ORDER BY result_expires_at LIMIT ?2");
  s->bind(1, now_ms).bind(2, max);
  while (s->step()) out.push_back({s->int64(0), s->text(1)});
  return out;
}

void SqliteCatalog::forget_outputs(const std::vector<std::int64_t>& item_ids) {
  if (item_ids.empty()) return;
  write(Durability::relaxed, [&](Connection& w) {
    for (auto id : item_ids) {
      auto s = w.cached("UPDATE job_items SET result_output_key = '' WHERE id = ?1");
      s->bind(1, id).run();
    }
  });
}

std::optional<JobRecord> SqliteCatalog::cancel_job(const std::string& id, std::int64_t now) {
  return write(Durability::full, [&](Connection& w) -> std::optional<JobRecord> {
    auto job = load_job(w, id);
    if (!job) return std::nullopt;
    if (job->finished_at) return job;
    std::int64_t dropped = 0;
    {
      auto s = w.cached(
          "UPDATE job_items SET status = 'cancelled', finished_at = ?2, lease_owner = NULL"
          " WHERE job_id = ?1 AND status = 'queued'");
      s->bind(1, id).bind(2, now * 1000).run();
      dropped = w.changes();
    }
    {
      auto s = w.cached("UPDATE jobs SET status = 'cancelled' WHERE id = ?1");
      s->bind(1, id).run();
    }
    roll_up(w, id, ItemStatus::cancelled, dropped, now * 1000);
    return load_job(w, id);
  });
}

std::vector<ClaimedItem> SqliteCatalog::claim_items(const std::string& worker, int max, std::int64_t lease_ms,
                                       std::int64_t now_ms) {
  if (max <= 0) return {};
  return write(Durability::relaxed, [&](Connection& w) { return claim_in(w, worker, max, lease_ms, now_ms); });
}

bool SqliteCatalog::complete_item(std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& w) { return complete_in(w, item_id, output, now_ms); });
}

Completion SqliteCatalog::complete_and_claim(std::int64_t item_id, const ItemOutput& output, const ClaimRequest& next,
                                          std::int64_t now_ms) {
  // One transaction, one commit: the worker's next item comes back with the
  // acknowledgement of its last.
  return write(Durability::relaxed, [&](Connection& w) {
    Completion done;
    // Rows in the order every transaction takes them, the job's last (see
    // cancel_job): the job's row lock, which each completion of the job
    // waits for, is then held only to the commit.
    auto finished = record_completion(w, item_id, output, now_ms);
    done.next = claim_in(w, next.worker, next.max, next.lease_ms, now_ms);
    if (finished) settle_success(w, *finished, output.derivative_key, now_ms);
    done.recorded = finished.has_value();
    return done;
  });
}

bool SqliteCatalog::fail_item(std::int64_t item_id, std::int64_t lease_token, const JobError& error,
                              std::optional<std::int64_t> retry_at_ms, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& w) {
    if (retry_at_ms) {
      auto s = w.cached(
          "UPDATE job_items SET status = 'queued', next_attempt_at = ?3, lease_owner = NULL, lease_until = 0,"
          " error_code = ?4, error_message = ?5 WHERE id = ?1 AND lease_token = ?2 AND status = 'running'");
      s->bind(1, item_id).bind(2, lease_token).bind(3, *retry_at_ms).bind(4, error.code).bind(5, error.message).run();
      return w.changes() > 0;
    }
    std::optional<FinishedItem> item;
    {
      auto s = w.cached(
          "UPDATE job_items SET status = 'failed', finished_at = ?3, lease_owner = NULL, error_code = ?4,"
          " error_message = ?5 WHERE id = ?1 AND lease_token = ?2 AND status = 'running' RETURNING " +
          kFinishedItemColumns);
      s->bind(1, item_id).bind(2, lease_token).bind(3, now_ms).bind(4, error.code).bind(5, error.message);
      item = finished_by(*s);
    }
    if (!item) return false;
    settle_failure(w, *item, error, now_ms);
    return true;
  });
}

int SqliteCatalog::release_leases(const std::string& worker) {
  return write(Durability::relaxed, [&](Connection& w) {
    auto s = w.cached(
        "UPDATE job_items SET status = 'queued', lease_owner = NULL, lease_until = 0,"
        " attempts = MAX(attempts - 1, 0) WHERE lease_owner = ?1 AND status = 'running'");
    s->bind(1, worker).run();
    return static_cast<int>(w.changes());
  });
}

QueueDepth SqliteCatalog::queue_depth() {
  QueueDepth d;
  auto r = reader();
  auto s = r->cached(
      "SELECT status, COUNT(*) FROM job_items WHERE status IN ('queued', 'running') GROUP BY status");
  while (s->step()) {
    if (s->text(0) == "queued") d.queued = s->int64(1);
    else d.running = s->int64(1);
  }
  return d;
}

std::vector<CallbackDue> SqliteCatalog::claim_callbacks(int max, std::int64_t lease_ms, std::int64_t now_ms) {
  return write(Durability::relaxed, [&](Connection& w) {
    std::vector<std::pair<std::string, int>> due;
    {
      auto s = w.cached(
          "SELECT id, callback_attempts FROM jobs WHERE callback_state = 'pending' AND callback_next_at <= ?1"
          " ORDER BY callback_next_at LIMIT ?2");
      s->bind(1, now_ms).bind(2, max);
      while (s->step()) due.emplace_back(s->text(0), s->integer(1));
    }
    std::vector<CallbackDue> out;
    for (const auto& [id, attempts] : due) {
      auto s = w.cached("UPDATE jobs SET callback_next_at = ?2 WHERE id = ?1");
      s->bind(1, id).bind(2, now_ms + lease_ms).run();
      if (auto job = load_job(w, id)) out.push_back({std::move(*job), attempts});
    }
    return out;
  });
}

void SqliteCatalog::record_callback(const std::string& job_id, bool delivered,
                                    std::optional<std::int64_t> retry_at_ms) {
  write(Durability::relaxed, [&](Connection& w) {
    auto s = w.cached(
        "UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_state = ?2, callback_next_at = ?3"
        " WHERE id = ?1 AND callback_state = 'pending'");
    s->bind(1, job_id).bind(2, callback_state_after(delivered, retry_at_ms.has_value()));
    s->bind(3, retry_at_ms.value_or(0)).run();
  });
}

// ---- settings --------------------------------------------------------------

// ---- nodes -----------------------------------------------------------------

int SqliteCatalog::beat_node(const std::string& id, bool serves_api, std::int64_t now, std::int64_t alive_since) {
  // Relaxed: a beat lost in a crash is made again a few seconds later.
  return write(Durability::relaxed, [&](Connection& w) {
    {
      auto s = w.cached(
          "INSERT INTO nodes (id, serves_api, started_at, seen_at) VALUES (?1, ?2, ?3, ?3)"
          " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, serves_api = excluded.serves_api");
      s->bind(1, id).bind(2, serves_api ? 1 : 0).bind(3, now).run();
    }
    w.cached("DELETE FROM nodes WHERE seen_at < ?1")->bind(1, alive_since).run();
    auto s = w.cached("SELECT COUNT(*) FROM nodes WHERE serves_api = 1");
    s->step();
    return static_cast<int>(s->int64(0));
  });
}

void SqliteCatalog::remove_node(const std::string& id) {
  write(Durability::relaxed, [&](Connection& w) { w.cached("DELETE FROM nodes WHERE id = ?1")->bind(1, id).run(); });
}

std::string SqliteCatalog::setting(const std::string& name, const std::string& value_if_absent) {
  // One write transaction: of two processes asking at once, the second waits
  // for the first's commit and then reads its value.
  return write(Durability::full, [&](Connection& w) {
    {
      auto s = w.cached("INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING");
      s->bind(1, name).bind(2, value_if_absent).run();
    }
    auto s = w.cached("SELECT value FROM settings WHERE name = ?1");
    s->bind(1, name);
    s->step();
    return s->text(0);
  });
}

// ---- stats and health ------------------------------------------------------

CatalogStats SqliteCatalog::stats(std::int64_t since_day, const std::string& tenant) {
  // ?1 is the tenant, "" for all of them.
  static const std::string uploads_per_day_sql = "SELECT " + sqlite::dialect().utc_day("created_at") +
                                                 " AS d, COUNT(*) FROM images WHERE (?1 = '' OR tenant = ?1)"
                                                 " AND created_at >= ?2 GROUP BY d ORDER BY d";
  CatalogStats out;
  auto r = reader();
  std::int64_t image_bytes = 0;
  {
    auto s = r->cached("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM images WHERE (?1 = '' OR tenant = ?1)");
    s->bind(1, tenant);
    if (s->step()) {
      out.images = s->int64(0);
      image_bytes = s->int64(1);
    }
  }
  out.bytes_stored = image_bytes;
  if (tenant.empty()) {
    // Across tenants each blob is stored once: the bytes that tenants share
    // were saved too.
    auto s = r->cached("SELECT COALESCE(SUM(size), 0) FROM (SELECT MAX(size) AS size FROM images GROUP BY sha256)");
    if (s->step()) out.bytes_stored = s->int64(0);
  }
  {
    auto s = r->cached(
        "SELECT COALESCE(SUM(size), 0) FROM working_copies WHERE ?1 = ''"
        " OR sha256 IN (SELECT sha256 FROM images WHERE tenant = ?1)");
    s->bind(1, tenant);
    if (s->step()) out.bytes_working_copies = s->int64(0);
  }
  {
    auto s = r->cached("SELECT COALESCE(SUM(bytes), 0) FROM dedupe_savings WHERE (?1 = '' OR tenant = ?1)");
    s->bind(1, tenant);
    if (s->step()) out.bytes_saved_by_dedupe = s->int64(0) + (image_bytes - out.bytes_stored);
  }
  {
    auto s = r->cached(
        "SELECT format, COUNT(*) AS n FROM images WHERE (?1 = '' OR tenant = ?1) GROUP BY format ORDER BY n DESC, format");
    s->bind(1, tenant);
    while (s->step()) out.formats.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(
        "SELECT CASE WHEN camera_model = '' THEN 'unknown' ELSE camera_model END AS m, COUNT(*) AS n"
        " FROM images WHERE (?1 = '' OR tenant = ?1) GROUP BY m ORDER BY n DESC, m LIMIT 10");
    s->bind(1, tenant);
    while (s->step()) out.camera_models.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(uploads_per_day_sql);
    s->bind(1, tenant).bind(2, since_day);
    while (s->step()) out.uploads_per_day.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(
        "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'running'), 0),"
        " COALESCE(SUM(status IN ('failed', 'partial')), 0) FROM jobs WHERE (?1 = '' OR tenant = ?1)");
    s->bind(1, tenant);
    if (s->step()) {
      out.jobs_queued = s->int64(0);
      out.jobs_running = s->int64(1);
      out.jobs_failed = s->int64(2);
    }
  }
  return out;
}

bool SqliteCatalog::healthy() {
  try {
    auto r = reader();
    auto s = r->cached("SELECT COUNT(*) FROM schema_version");
    return s->step() && s->int64(0) > 0;
  } catch (...) {
    return false;
  }
}

std::string SqliteCatalog::integrity_check() {
  std::vector<std::string> problems;
  try {
    auto r = reader();
    Statement s = r->prepare("PRAGMA integrity_check");
    while (s.step()) {
      if (auto line = s.text(0); line != "ok") problems.push_back(std::move(line));
    }
    Statement fk = r->prepare("PRAGMA foreign_key_check");
    while (fk.step()) {
      problems.push_back("foreign key: a row of " + fk.text(0) + " refers to a missing row of " + fk.text(2));
    }
    Statement orphan = r->prepare(kOrphanWorkingCopies);
    if (orphan.step()) problems.push_back("a working copy of bytes no image has: " + orphan.text(0));
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  try {
    // Compares the full-text index with the images table (rank 1); writes nothing.
    write(Durability::full,
          [](Connection& w) { w.exec("INSERT INTO images_fts (images_fts, rank) VALUES ('integrity-check', 1)"); });
  } catch (const std::exception& e) {
    problems.push_back(std::string("full-text index: ") + e.what());
  }
  if (problems.empty()) return "ok";
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}

}  // namespace progimage::catalog
