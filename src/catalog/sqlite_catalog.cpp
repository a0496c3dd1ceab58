#include "catalog/sqlite_catalog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <stdexcept>
#include <utility>
#include <variant>

#include <boost/json.hpp>

#include "catalog/query.hpp"
#include "catalog/sqlite_db.hpp"
#include "catalog/sqlite_schema.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"

namespace progimage::catalog {

using sqlite::Connection;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

constexpr std::size_t kMaxIdleReaders = 8;
constexpr std::size_t kTouchBatch = 256;
constexpr auto kTouchInterval = std::chrono::seconds(1);

// The columns read_image() expects, in order; tags come back as a JSON array.
const std::string kImageColumns =
    "i.id, i.sha256, i.format, i.width, i.height, i.size, i.frames, i.has_alpha, i.created_at, "
    "i.name, i.description, i.camera_make, i.camera_model, i.focus_x, i.focus_y, i.metadata_json, "
    "(SELECT json_group_array(t.tag) FROM image_tags t WHERE t.image_id = i.id), "
    "(SELECT json_group_object(v.name, v.status) FROM image_variants v WHERE v.image_id = i.id)";
const std::string kSelectImageById = "SELECT " + kImageColumns + " FROM images i WHERE i.id = ?1";
const std::string kSelectImageBySha = "SELECT " + kImageColumns + " FROM images i WHERE i.sha256 = ?1";

const std::string kDerivativeColumns =
    "key, sha256, params, format, width, height, size, created_at, last_used_at";

core::ImageRecord read_image(const Statement& s) {
  core::ImageRecord r;
  r.id = s.text(0);
  r.sha256 = s.text(1);
  r.format = s.text(2);
  r.width = s.integer(3);
  r.height = s.integer(4);
  r.size = s.int64(5);
  r.frames = s.integer(6);
  r.has_alpha = s.int64(7) != 0;
  r.created_at = s.int64(8);
  r.name = s.text(9);
  r.description = s.text(10);
  r.camera_make = s.text(11);
  r.camera_model = s.text(12);
  if (!s.is_null(13) && !s.is_null(14)) r.focus = core::FocusPoint{s.real(13), s.real(14)};
  r.metadata_json = s.text(15);
  const auto tags = boost::json::parse(s.text(16)).as_array();
  for (const auto& t : tags) r.tags.emplace_back(t.as_string());
  std::sort(r.tags.begin(), r.tags.end());
  if (!s.is_null(17)) {
    const auto variants = boost::json::parse(s.text(17));
    if (variants.is_object())
      for (const auto& [name, status] : variants.as_object())
        if (status.is_string()) r.variants[std::string(name)] = std::string(status.as_string());
  }
  return r;
}

DerivativeRecord read_derivative(const Statement& s) {
  DerivativeRecord d;
  d.key = s.text(0);
  d.sha256 = s.text(1);
  d.params = s.text(2);
  d.format = s.text(3);
  d.width = s.integer(4);
  d.height = s.integer(5);
  d.size = s.int64(6);
  d.created_at = s.int64(7);
  d.last_used_at = s.int64(8);
  return d;
}

std::optional<core::ImageRecord> load_image(Connection& c, const std::string& sql, const std::string& arg) {
  auto s = c.cached(sql);
  s->bind(1, arg);
  if (!s->step()) return std::nullopt;
  return read_image(*s);
}

void insert_tags(Connection& c, const std::string& id, const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    auto s = c.cached("INSERT INTO image_tags (image_id, tag) VALUES (?1, ?2)");
    s->bind(1, id).bind(2, tag).run();
  }
}

constexpr int kVariantAttempts = 3;

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

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

/// An FTS5 query that treats user text as plain words: each blank-separated
/// word becomes a quoted string (its quotes doubled), so operators, columns
/// and syntax characters are never interpreted; the words must all match.
/// The tokenizer still stems each one, so "sunset" finds "sunsets".
std::string fts_match_expression(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < text.size()) {
    while (i < text.size() && blank(text[i])) ++i;
    if (i == text.size()) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (; i < text.size() && !blank(text[i]); ++i) {
      if (text[i] == '"') out += '"';
      out += text[i];
    }
    out += '"';
  }
  return out;
}

/// SQLite syncs the directory for its journals but not for a new database
/// file's own entry: do it once at start, so a new catalog survives power loss.
void sync_parent_directory(const std::filesystem::path& file) {
  const auto dir = std::filesystem::absolute(file).parent_path();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the commits themselves are already synced
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

// ---- reader pool -----------------------------------------------------------

/// A read-only connection borrowed from the pool; returned on destruction.
class SqliteCatalog::ReaderLease {
 public:
  ReaderLease(SqliteCatalog& owner, std::unique_ptr<Connection> c) : owner_(owner), c_(std::move(c)) {}
  ~ReaderLease() {
    std::lock_guard lock(owner_.pool_mu_);
    if (owner_.idle_readers_.size() < kMaxIdleReaders) owner_.idle_readers_.push_back(std::move(c_));
  }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  Connection* operator->() const { return c_.get(); }
  Connection& operator*() const { return *c_; }

 private:
  SqliteCatalog& owner_;
  std::unique_ptr<Connection> c_;
};

SqliteCatalog::ReaderLease SqliteCatalog::reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(*this, std::move(c));
    }
  }
  return ReaderLease(*this, std::make_unique<Connection>(file_, true));
}

// ---- setup -----------------------------------------------------------------

SqliteCatalog::SqliteCatalog(std::filesystem::path db_file)
    : file_(std::move(db_file)), last_flush_(std::chrono::steady_clock::now()) {
  if (file_.empty()) throw std::invalid_argument("catalog: empty database path");
  if (file_.has_parent_path()) std::filesystem::create_directories(file_.parent_path());
  writer_ = std::make_unique<Connection>(file_, false);
  migrate();
  sync_parent_directory(file_);
}

SqliteCatalog::~SqliteCatalog() {
  try {
    flush_touches();
  } catch (...) {
    // Touches are hints for eviction; losing some at shutdown is harmless.
  }
}

int SqliteCatalog::latest_schema_version() noexcept { return sqlite::migrations().back().version; }

void SqliteCatalog::migrate() {
  std::lock_guard lock(write_mu_);
  // IMMEDIATE: two processes starting on one file migrate one after the other.
  Transaction tx(*writer_);
  writer_->exec(
      "CREATE TABLE IF NOT EXISTS schema_version ("
      " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  int current = 0;
  {
    auto s = writer_->cached("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    s->step();
    current = s->integer(0);
  }
  if (current > latest_schema_version()) {
    throw core::Error(core::ErrorCode::internal,
                      "catalog: database schema version " + std::to_string(current) +
                          " is newer than this program's " + std::to_string(latest_schema_version()));
  }
  for (const auto& m : sqlite::migrations()) {
    if (m.version <= current) continue;
    writer_->exec(m.sql);
    auto s = writer_->cached("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)");
    s->bind(1, m.version).bind(2, core::unix_now()).run();
  }
  tx.commit();
}

int SqliteCatalog::schema_version() {
  auto r = reader();
  auto s = r->cached("SELECT COALESCE(MAX(version), 0) FROM schema_version");
  s->step();
  return s->integer(0);
}

// ---- images ----------------------------------------------------------------

InsertResult SqliteCatalog::insert_image(const core::ImageRecord& image) {
  core::ImageRecord rec = image;
  if (rec.sha256.empty()) throw std::invalid_argument("catalog: image without sha256");
  if (rec.id.empty()) rec.id = core::new_id();
  if (rec.created_at == 0) rec.created_at = core::unix_now();
  if (rec.metadata_json.empty()) rec.metadata_json = "{}";
  boost::system::error_code ec;
  auto meta = boost::json::parse(rec.metadata_json, ec);
  if (ec || !meta.is_object()) throw std::invalid_argument("catalog: metadata_json is not a JSON object");
  rec.tags = normalize_tags(rec.tags);

  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  // Inside the write transaction, so two uploads of the same bytes cannot
  // both miss here: the second sees the first's row.
  if (auto existing = load_image(*writer_, kSelectImageBySha, rec.sha256)) {
    auto saved = writer_->cached("UPDATE dedupe_savings SET uploads = uploads + 1, bytes = bytes + ?1 WHERE id = 1");
    saved->bind(1, rec.size).run();
    tx.commit();
    return {std::move(*existing), true};
  }
  {
    auto s = writer_->cached(
        "INSERT INTO images (id, sha256, format, width, height, size, frames, has_alpha, created_at,"
        " name, description, camera_make, camera_model, focus_x, focus_y, metadata_json)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    s->bind(1, rec.id).bind(2, rec.sha256).bind(3, rec.format).bind(4, rec.width).bind(5, rec.height);
    s->bind(6, rec.size).bind(7, rec.frames).bind(8, rec.has_alpha ? 1 : 0).bind(9, rec.created_at);
    s->bind(10, rec.name).bind(11, rec.description).bind(12, rec.camera_make).bind(13, rec.camera_model);
    if (rec.focus) {
      s->bind(14, rec.focus->x).bind(15, rec.focus->y);
    }
    s->bind(16, rec.metadata_json);
    s->run();
  }
  insert_tags(*writer_, rec.id, rec.tags);
  // Variants are queued in the transaction that acknowledges the upload, so
  // a crash right after it still produces them.
  const auto now_ms = core::unix_now_ms();
  for (auto& [name, status] : rec.variants) {
    status = "pending";
    insert_variant(*writer_, rec.id, name, now_ms);
  }
  tx.commit();
  return {std::move(rec), false};
}

std::optional<core::ImageRecord> SqliteCatalog::get_image(const std::string& id) {
  auto r = reader();
  return load_image(*r, kSelectImageById, id);
}

std::optional<core::ImageRecord> SqliteCatalog::update_image(const std::string& id, const ImagePatch& patch) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  {
    auto s = writer_->cached("SELECT 1 FROM images WHERE id = ?1");
    s->bind(1, id);
    if (!s->step()) return std::nullopt;
  }
  if (patch.description) {
    auto s = writer_->cached("UPDATE images SET description = ?2 WHERE id = ?1");
    s->bind(1, id).bind(2, *patch.description).run();
  }
  if (patch.tags) {
    auto s = writer_->cached("DELETE FROM image_tags WHERE image_id = ?1");
    s->bind(1, id).run();
    insert_tags(*writer_, id, normalize_tags(*patch.tags));
  }
  if (patch.focus) {
    auto s = writer_->cached("UPDATE images SET focus_x = ?2, focus_y = ?3 WHERE id = ?1");
    s->bind(1, id);
    if (*patch.focus) s->bind(2, (*patch.focus)->x).bind(3, (*patch.focus)->y);
    s->run();
  }
  auto updated = load_image(*writer_, kSelectImageById, id);
  tx.commit();
  return updated;
}

DeleteResult SqliteCatalog::delete_image(const std::string& id) {
  DeleteResult result;
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  {
    auto s = writer_->cached("SELECT sha256 FROM images WHERE id = ?1");
    s->bind(1, id);
    if (!s->step()) return result;
    result.sha256 = s->text(0);
  }
  result.found = true;
  {
    auto s = writer_->cached("DELETE FROM image_tags WHERE image_id = ?1");
    s->bind(1, id).run();
  }
  {
    auto s = writer_->cached("DELETE FROM images WHERE id = ?1");
    s->bind(1, id).run();
  }
  {
    auto s = writer_->cached("SELECT EXISTS (SELECT 1 FROM images WHERE sha256 = ?1)");
    s->bind(1, result.sha256);
    s->step();
    result.blob_unreferenced = s->int64(0) == 0;
  }
  // Derivatives belong to the source bytes: they go with the last image that
  // uses them (sha256 is unique today, so that is always this one).
  if (result.blob_unreferenced) {
    auto s = writer_->cached("DELETE FROM derivatives WHERE sha256 = ?1 RETURNING key");
    s->bind(1, result.sha256);
    while (s->step()) result.derivative_keys.push_back(s->text(0));
    std::sort(result.derivative_keys.begin(), result.derivative_keys.end());
  }
  tx.commit();
  return result;
}

namespace {

using SqlValue = std::variant<std::int64_t, std::string>;

/// Appends `v` to the arguments and returns its placeholder.
std::string add_arg(std::vector<SqlValue>& args, SqlValue v) {
  args.push_back(std::move(v));
  return "?" + std::to_string(args.size());
}

void bind_all(Statement& s, const std::vector<SqlValue>& args) {
  for (std::size_t k = 0; k < args.size(); ++k) {
    std::visit([&](const auto& v) { s.bind(static_cast<int>(k + 1), v); }, args[k]);
  }
}

}  // namespace

/// The search conditions of `query` on images `i`, as " AND ..." clauses
/// (the cursor and the limit are left to the caller).
std::string SqliteCatalog::image_filter(const ImageQuery& query, std::vector<SqlValue>& args) {
  auto arg = [&args](SqlValue v) { return add_arg(args, std::move(v)); };
  std::string sql;
  if (auto match = fts_match_expression(query.text); !match.empty()) {
    sql += " AND i.seq IN (SELECT rowid FROM images_fts WHERE images_fts MATCH " + arg(match) + ")";
  }
  if (auto tags = normalize_tags(query.tags); !tags.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.tag IN (";
    for (std::size_t k = 0; k < tags.size(); ++k) sql += (k ? ", " : "") + arg(tags[k]);
    sql += "))";
  }
  if (!query.format.empty()) sql += " AND i.format = " + arg(lower_ascii(query.format));
  if (!query.camera.empty()) sql += " AND i.camera_model = " + arg(query.camera) + " COLLATE NOCASE";
  if (query.from) sql += " AND i.created_at >= " + arg(*query.from);
  if (query.to) sql += " AND i.created_at <= " + arg(*query.to);
  return sql;
}

ImagePage SqliteCatalog::list_images(const ImageQuery& query) {
  std::vector<SqlValue> args;
  auto arg = [&args](SqlValue v) { return add_arg(args, std::move(v)); };
  std::string sql = "SELECT " + kImageColumns + " FROM images i WHERE 1" + image_filter(query, args);
  if (!query.cursor.empty()) {
    auto pos = decode_cursor(query.cursor);
    if (!pos) throw core::Error(core::ErrorCode::bad_parameter, "invalid cursor");
    // Keyset paging: rows inserted meanwhile land before the cursor (they are
    // newer) or keep their place, so pages neither repeat nor skip a row.
    sql += " AND (i.created_at, i.id) < (" + arg(pos->created_at) + ", " + arg(pos->id) + ")";
  }
  const int limit = clamp_limit(query.limit);
  sql += " ORDER BY i.created_at DESC, i.id DESC LIMIT " + arg(std::int64_t{limit} + 1);

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

// ---- derivatives -----------------------------------------------------------

std::int64_t SqliteCatalog::pending_touch(const std::string& key) {
  std::lock_guard lock(touch_mu_);
  auto it = touches_.find(key);
  return it == touches_.end() ? 0 : it->second;
}

std::optional<DerivativeRecord> SqliteCatalog::get_derivative(const std::string& key) {
  std::optional<DerivativeRecord> d;
  {
    auto r = reader();
    auto s = r->cached("SELECT " + kDerivativeColumns + " FROM derivatives WHERE key = ?1");
    s->bind(1, key);
    if (!s->step()) return std::nullopt;
    d = read_derivative(*s);
  }
  d->last_used_at = std::max(d->last_used_at, pending_touch(key));
  return d;
}

void SqliteCatalog::put_derivative(const DerivativeRecord& d) {
  std::lock_guard lock(write_mu_);
  auto s = writer_->cached(
      "INSERT INTO derivatives (" + kDerivativeColumns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
      " ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, params = excluded.params,"
      " format = excluded.format, width = excluded.width, height = excluded.height, size = excluded.size,"
      " created_at = excluded.created_at, last_used_at = excluded.last_used_at");
  s->bind(1, d.key).bind(2, d.sha256).bind(3, d.params).bind(4, d.format).bind(5, d.width);
  s->bind(6, d.height).bind(7, d.size).bind(8, d.created_at).bind(9, d.last_used_at);
  s->run();
}

namespace {

/// Commits of queue bookkeeping (claims, completions, failures, callback
/// state) and of derivative touches do not wait for the disk: in WAL mode `synchronous=NORMAL` survives
/// a process crash and, after a power loss, can only forget the latest of
/// them, which makes some items run again (their results are idempotent). The
/// next fully synced commit (an upload, a job) syncs them too, in order.
/// Held with write_mu_, so no other transaction runs relaxed.
class RelaxedSync {
 public:
  explicit RelaxedSync(Connection& c) : c_(c) { c_.exec("PRAGMA synchronous=NORMAL"); }
  ~RelaxedSync() {
    try {
      c_.exec("PRAGMA synchronous=FULL");
    } catch (...) {
      // Cannot fail outside a transaction; nothing more to do if it did.
    }
  }
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;

 private:
  Connection& c_;
};

}  // namespace

void SqliteCatalog::touch_derivative(const std::string& key, std::int64_t now) {
  // A cache hit must not cost an fsync'ed commit: touches are merged in
  // memory and written together.
  bool flush = false;
  {
    std::lock_guard lock(touch_mu_);
    auto& t = touches_[key];
    t = std::max(t, now);
    flush = touches_.size() >= kTouchBatch || std::chrono::steady_clock::now() - last_flush_ >= kTouchInterval;
  }
  if (flush) flush_touches(false);
}

void SqliteCatalog::flush_touches(bool wait) {
  // A hit calls this on an I/O thread: it must not queue behind an upload's
  // fsynced commit, so it gives up when the writer is busy (the touches stay
  // buffered for the next try).
  std::unique_lock write(write_mu_, std::defer_lock);
  if (wait) write.lock();
  else if (!write.try_lock()) return;
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(touch_mu_);
    batch.swap(touches_);
    last_flush_ = std::chrono::steady_clock::now();
  }
  if (batch.empty()) return;
  try {
    RelaxedSync relaxed(*writer_);  // "last used" times are hints: no fsync for them
    Transaction tx(*writer_);
    for (const auto& [key, when] : batch) {
      auto s = writer_->cached("UPDATE derivatives SET last_used_at = MAX(last_used_at, ?2) WHERE key = ?1");
      s->bind(1, key).bind(2, when).run();
    }
    tx.commit();
  } catch (...) {
    std::lock_guard lock(touch_mu_);
    for (const auto& [key, when] : batch) {
      auto& t = touches_[key];
      t = std::max(t, when);
    }
    throw;
  }
}

std::vector<DerivativeRecord> SqliteCatalog::list_derivatives(const std::string& sha256) {
  std::vector<DerivativeRecord> out;
  {
    auto r = reader();
    auto s = r->cached("SELECT " + kDerivativeColumns + " FROM derivatives WHERE sha256 = ?1 ORDER BY params, key");
    s->bind(1, sha256);
    while (s->step()) out.push_back(read_derivative(*s));
  }
  for (auto& d : out) d.last_used_at = std::max(d.last_used_at, pending_touch(d.key));
  return out;
}

std::vector<std::string> SqliteCatalog::remove_derivatives(const std::string& sha256) {
  std::vector<std::string> keys;
  std::lock_guard lock(write_mu_);
  auto s = writer_->cached("DELETE FROM derivatives WHERE sha256 = ?1 RETURNING key");
  s->bind(1, sha256);
  while (s->step()) keys.push_back(s->text(0));
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::int64_t SqliteCatalog::derivative_bytes() {
  auto r = reader();
  auto s = r->cached("SELECT COALESCE(SUM(size), 0) FROM derivatives");
  s->step();
  return s->int64(0);
}

std::vector<std::string> SqliteCatalog::evict_derivatives(std::int64_t budget) {
  flush_touches();  // so that recent hits count
  budget = std::max<std::int64_t>(budget, 0);
  std::vector<std::string> evicted;
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  std::int64_t total = 0;
  {
    auto s = writer_->cached("SELECT COALESCE(SUM(size), 0) FROM derivatives");
    s->step();
    total = s->int64(0);
  }
  if (total > budget) {
    auto s = writer_->cached("SELECT key, size FROM derivatives ORDER BY last_used_at, created_at, key");
    while (total > budget && s->step()) {
      evicted.push_back(s->text(0));
      total -= s->int64(1);
    }
  }
  for (const auto& key : evicted) {
    auto s = writer_->cached("DELETE FROM derivatives WHERE key = ?1");
    s->bind(1, key).run();
  }
  tx.commit();
  return evicted;
}

// ---- variants --------------------------------------------------------------

std::optional<VariantState> SqliteCatalog::get_variant(const std::string& image_id, const std::string& name) {
  auto r = reader();
  auto s = r->cached(
      "SELECT status, derivative_key, error_code, error_message FROM image_variants"
      " WHERE image_id = ?1 AND name = ?2");
  s->bind(1, image_id).bind(2, name);
  if (!s->step()) return std::nullopt;
  VariantState v{s->text(0), s->text(1), std::nullopt};
  if (!s->is_null(2)) v.error = JobError{s->text(2), s->text(3)};
  return v;
}

bool SqliteCatalog::queue_variant(const std::string& image_id, const std::string& name) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  {
    auto s = writer_->cached("SELECT 1 FROM images WHERE id = ?1");
    s->bind(1, image_id);
    if (!s->step()) return false;
  }
  {
    auto s = writer_->cached("SELECT 1 FROM image_variants WHERE image_id = ?1 AND name = ?2");
    s->bind(1, image_id).bind(2, name);
    if (s->step()) return true;
  }
  insert_variant(*writer_, image_id, name, core::unix_now_ms());
  tx.commit();
  return true;
}

// ---- job queue -------------------------------------------------------------

namespace {

/// What an item-finishing `UPDATE ... RETURNING COALESCE(job_id, ''), kind,
/// source, variant` returns: where the outcome must be rolled up.
struct FinishedItem {
  std::string job_id, kind, source, variant;
};

/// The finished item, or nullopt when the UPDATE matched no row (someone
/// else finished it, or the lease moved on).
std::optional<FinishedItem> finished_item(Statement& s) {
  if (!s.step()) return std::nullopt;
  return FinishedItem{s.text(0), s.text(1), s.text(2), s.text(3)};
}

const std::string kJobColumns =
    "id, status, params, format, store, max_attempts, total, done, failed, cancelled, created_at, finished_at,"
    " callback_url, callback_state, callback_attempts";

JobRecord read_job(const Statement& s) {
  JobRecord j;
  j.id = s.text(0);
  j.spec.id = j.id;
  j.status = parse_job_status(s.text(1)).value_or(JobStatus::queued);
  j.spec.params = s.text(2);
  j.spec.format = s.text(3);
  j.spec.store = s.int64(4) != 0;
  j.spec.max_attempts = s.integer(5);
  j.total = s.int64(6);
  j.done = s.int64(7);
  j.failed = s.int64(8);
  j.cancelled = s.int64(9);
  j.created_at = s.int64(10);
  j.spec.created_at = j.created_at;
  if (!s.is_null(11)) j.finished_at = s.int64(11);
  j.spec.callback_url = s.text(12);
  j.callback_state = s.text(13);
  return j;
}

std::string_view kind_name(ItemKind k) {
  switch (k) {
    case ItemKind::image: return "image";
    case ItemKind::url: return "url";
    case ItemKind::variant: return "variant";
  }
  return "image";
}

ItemKind parse_kind(std::string_view k) {
  if (k == "url") return ItemKind::url;
  if (k == "variant") return ItemKind::variant;
  return ItemKind::image;
}

ItemStatus parse_item_status(std::string_view s) {
  for (auto st : {ItemStatus::queued, ItemStatus::running, ItemStatus::done, ItemStatus::failed,
                  ItemStatus::cancelled})
    if (item_status_name(st) == s) return st;
  return ItemStatus::queued;
}

std::optional<JobRecord> load_job(Connection& c, const std::string& id) {
  auto s = c.cached("SELECT " + kJobColumns + " FROM jobs WHERE id = ?1");
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  return read_job(*s);
}

/// Result cursors are the position of the last item shown.
std::string encode_position(std::int64_t position) {
  return core::base64_encode("p" + std::to_string(position), true, false);
}

std::optional<std::int64_t> decode_position(std::string_view cursor) {
  auto text = core::base64_decode(cursor);
  if (!text || text->size() < 2 || text->size() > 20 || (*text)[0] != 'p') return std::nullopt;
  std::int64_t v = 0;
  for (std::size_t i = 1; i < text->size(); ++i) {
    char ch = (*text)[i];
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

}  // namespace

void SqliteCatalog::roll_up(const std::string& job_id, ItemStatus final_status, std::int64_t count,
                            std::int64_t now_ms) {
  const char* column = final_status == ItemStatus::done     ? "done"
                       : final_status == ItemStatus::failed ? "failed"
                                                            : "cancelled";
  std::int64_t total = 0, done = 0, failed = 0, cancelled = 0;
  std::string status;
  bool finished = false;
  {
    auto s = writer_->cached(std::string("UPDATE jobs SET ") + column + " = " + column +
                             " + ?2 WHERE id = ?1 RETURNING total, done, failed, cancelled, status, finished_at");
    s->bind(1, job_id).bind(2, count);
    if (!s->step()) return;
    total = s->int64(0);
    done = s->int64(1);
    failed = s->int64(2);
    cancelled = s->int64(3);
    status = s->text(4);
    finished = !s->is_null(5);
  }
  if (finished || done + failed + cancelled < total) return;
  JobStatus final_job = status == "cancelled" ? JobStatus::cancelled
                        : failed == 0         ? JobStatus::completed
                        : done == 0           ? JobStatus::failed
                                              : JobStatus::partial;
  auto s = writer_->cached(
      "UPDATE jobs SET status = ?2, finished_at = ?3,"
      " callback_state = CASE WHEN callback_url <> '' THEN 'pending' ELSE '' END, callback_next_at = ?4"
      " WHERE id = ?1");
  s->bind(1, job_id).bind(2, job_status_name(final_job)).bind(3, now_ms / 1000).bind(4, now_ms).run();
}

JobRecord SqliteCatalog::create_job(const JobSpec& spec, const std::vector<JobSource>& sources,
                                    const std::optional<ImageQuery>& selector) {
  JobSpec js = spec;
  if (js.id.empty()) js.id = core::new_id();
  const auto now_ms = core::unix_now_ms();
  if (js.created_at == 0) js.created_at = now_ms / 1000;
  if (js.max_attempts < 1) js.max_attempts = 1;

  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  {
    auto s = writer_->cached(
        "INSERT INTO jobs (id, params, format, store, max_attempts, created_at, callback_url)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    s->bind(1, js.id).bind(2, js.params).bind(3, js.format).bind(4, js.store ? 1 : 0).bind(5, js.max_attempts);
    s->bind(6, js.created_at).bind(7, js.callback_url).run();
  }
  std::int64_t total = 0;
  if (selector) {
    // The search runs inside the transaction: the job gets exactly the images
    // that existed when it was created, newest first like the list.
    std::vector<SqlValue> args;
    std::string filter = image_filter(*selector, args);
    const auto job = add_arg(args, js.id);
    const auto attempts = add_arg(args, std::int64_t{js.max_attempts});
    const auto due = add_arg(args, now_ms);
    Statement s = writer_->prepare(
        "INSERT INTO job_items (job_id, position, kind, source, max_attempts, next_attempt_at)"
        " SELECT " + job + ", ROW_NUMBER() OVER (ORDER BY i.created_at DESC, i.id DESC) - 1, 'image', i.id, " +
        attempts + ", " + due + " FROM images i WHERE 1" + filter);
    bind_all(s, args);
    s.run();
    total = writer_->changes();
  } else {
    std::vector<std::string> missing;
    std::size_t missing_count = 0;
    for (const auto& src : sources) {
      if (src.kind != ItemKind::image) continue;
      auto s = writer_->cached("SELECT 1 FROM images WHERE id = ?1");
      s->bind(1, src.source);
      if (!s->step()) {
        if (missing.size() < 10) missing.push_back(src.source);
        ++missing_count;
      }
    }
    if (!missing.empty()) {
      std::string msg = "unknown image id";
      msg += missing_count > 1 ? "s: " : ": ";
      for (std::size_t k = 0; k < missing.size(); ++k) msg += (k ? ", " : "") + missing[k];
      if (missing_count > missing.size()) msg += " (and " + std::to_string(missing_count - missing.size()) + " more)";
      throw core::Error(core::ErrorCode::bad_parameter, msg);
    }
    for (const auto& src : sources) {
      auto s = writer_->cached(
          "INSERT INTO job_items (job_id, position, kind, source, max_attempts, next_attempt_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      s->bind(1, js.id).bind(2, total).bind(3, kind_name(src.kind)).bind(4, src.source).bind(5, js.max_attempts);
      s->bind(6, now_ms).run();
      ++total;
    }
  }
  {
    auto s = writer_->cached("UPDATE jobs SET total = ?2 WHERE id = ?1");
    s->bind(1, js.id).bind(2, total).run();
  }
  if (total == 0) roll_up(js.id, ItemStatus::done, 0, now_ms);  // nothing to do: finished at once
  auto job = load_job(*writer_, js.id);
  tx.commit();
  return std::move(*job);
}

std::optional<JobRecord> SqliteCatalog::get_job(const std::string& id) {
  auto r = reader();
  return load_job(*r, id);
}

ResultPage SqliteCatalog::job_results(const std::string& job_id, const std::string& cursor, int limit) {
  std::int64_t after = -1;
  if (!cursor.empty()) {
    auto p = decode_position(cursor);
    if (!p) throw core::Error(core::ErrorCode::bad_parameter, "invalid cursor");
    after = *p;
  }
  limit = clamp_limit(limit);
  ResultPage page;
  auto r = reader();
  auto s = r->cached(
      "SELECT position, kind, source, status, attempts, result_image_id, result_key, error_code, error_message"
      " FROM job_items WHERE job_id = ?1 AND position > ?2 ORDER BY position LIMIT ?3");
  s->bind(1, job_id).bind(2, after).bind(3, std::int64_t{limit} + 1);
  while (s->step()) {
    if (page.results.size() == static_cast<std::size_t>(limit)) {
      page.next_cursor = encode_position(page.results.back().position);
      break;
    }
    ItemResult item;
    item.position = s->int64(0);
    item.kind = parse_kind(s->text(1));
    item.source = s->text(2);
    item.status = parse_item_status(s->text(3));
    item.attempts = s->integer(4);
    item.image_id = s->text(5);
    item.derivative_key = s->text(6);
    if (item.status == ItemStatus::failed && !s->is_null(7)) item.error = JobError{s->text(7), s->text(8)};
    page.results.push_back(std::move(item));
  }
  return page;
}

std::optional<JobRecord> SqliteCatalog::cancel_job(const std::string& id, std::int64_t now) {
  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  auto job = load_job(*writer_, id);
  if (!job) return std::nullopt;
  if (job->finished_at) return job;
  std::int64_t dropped = 0;
  {
    auto s = writer_->cached(
        "UPDATE job_items SET status = 'cancelled', finished_at = ?2, lease_owner = NULL"
        " WHERE job_id = ?1 AND status = 'queued'");
    s->bind(1, id).bind(2, now * 1000).run();
    dropped = writer_->changes();
  }
  {
    auto s = writer_->cached("UPDATE jobs SET status = 'cancelled' WHERE id = ?1");
    s->bind(1, id).run();
  }
  roll_up(id, ItemStatus::cancelled, dropped, now * 1000);
  job = load_job(*writer_, id);
  tx.commit();
  return job;
}

std::vector<ClaimedItem> SqliteCatalog::claim_items(const std::string& worker, int max, std::int64_t lease_ms,
                                                    std::int64_t now_ms) {
  std::vector<ClaimedItem> out;
  if (max <= 0) return out;
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  Transaction tx(*writer_);
  std::vector<std::int64_t> ids;
  {
    // Expired leases first: their workers died or stalled.
    std::vector<std::tuple<std::int64_t, int, int, std::string, std::string, std::string>> expired;
    {
      auto s = writer_->cached(
          "SELECT id, attempts, max_attempts, COALESCE(job_id, ''), kind, source || char(10) || variant"
          " FROM job_items WHERE status = 'running' AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2");
      s->bind(1, now_ms).bind(2, max);
      while (s->step())
        expired.emplace_back(s->int64(0), s->integer(1), s->integer(2), s->text(3), s->text(4), s->text(5));
    }
    for (const auto& [id, attempts, max_attempts, job_id, kind, key] : expired) {
      if (attempts < max_attempts) {
        ids.push_back(id);
        continue;
      }
      const JobError error{"internal", "processing stopped without a result " + std::to_string(attempts) +
                                           " times (the worker died or its lease expired)"};
      auto s = writer_->cached(
          "UPDATE job_items SET status = 'failed', finished_at = ?2, lease_owner = NULL,"
          " error_code = ?3, error_message = ?4 WHERE id = ?1");
      s->bind(1, id).bind(2, now_ms).bind(3, error.code).bind(4, error.message).run();
      if (kind == "variant") {
        auto nl = key.find('\n');
        auto v = writer_->cached(
            "UPDATE image_variants SET status = 'failed', error_code = ?3, error_message = ?4"
            " WHERE image_id = ?1 AND name = ?2");
        v->bind(1, key.substr(0, nl)).bind(2, key.substr(nl + 1)).bind(3, error.code).bind(4, error.message).run();
      } else if (!job_id.empty()) {
        roll_up(job_id, ItemStatus::failed, 1, now_ms);
      }
    }
  }
  if (static_cast<int>(ids.size()) < max) {
    auto s = writer_->cached(
        "SELECT id FROM job_items WHERE status = 'queued' AND next_attempt_at <= ?1"
        " ORDER BY next_attempt_at, id LIMIT ?2");
    s->bind(1, now_ms).bind(2, max - static_cast<int>(ids.size()));
    while (s->step()) ids.push_back(s->int64(0));
  }
  for (auto id : ids) {
    ClaimedItem item;
    {
      auto s = writer_->cached(
          "UPDATE job_items SET status = 'running', attempts = attempts + 1, lease_owner = ?2,"
          " lease_until = ?3, lease_token = lease_token + 1 WHERE id = ?1"
          " RETURNING id, COALESCE(job_id, ''), kind, source, variant, attempts, max_attempts, lease_token");
      s->bind(1, id).bind(2, worker).bind(3, now_ms + lease_ms);
      if (!s->step()) continue;
      item.id = s->int64(0);
      item.job_id = s->text(1);
      item.kind = parse_kind(s->text(2));
      item.source = s->text(3);
      item.variant = s->text(4);
      item.attempts = s->integer(5);
      item.max_attempts = s->integer(6);
      item.lease_token = s->int64(7);
    }
    if (!item.job_id.empty()) {
      if (auto job = load_job(*writer_, item.job_id)) item.spec = job->spec;
      auto s = writer_->cached("UPDATE jobs SET status = 'running' WHERE id = ?1 AND status = 'queued'");
      s->bind(1, item.job_id).run();
    }
    out.push_back(std::move(item));
  }
  tx.commit();
  return out;
}

bool SqliteCatalog::complete_item(std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  Transaction tx(*writer_);
  std::optional<FinishedItem> item;
  {
    // Only the first completion counts, whoever holds the lease now.
    auto s = writer_->cached(
        "UPDATE job_items SET status = 'done', result_image_id = ?2, result_key = ?3, finished_at = ?4,"
        " lease_owner = NULL, error_code = NULL, error_message = NULL"
        " WHERE id = ?1 AND status IN ('queued', 'running')"
        " RETURNING COALESCE(job_id, ''), kind, source, variant");
    s->bind(1, item_id).bind(2, output.image_id).bind(3, output.derivative_key).bind(4, now_ms);
    item = finished_item(*s);
  }
  if (!item) return false;
  if (item->kind == "variant") {
    auto s = writer_->cached(
        "UPDATE image_variants SET status = 'ready', derivative_key = ?3, error_code = NULL, error_message = NULL"
        " WHERE image_id = ?1 AND name = ?2");
    s->bind(1, item->source).bind(2, item->variant).bind(3, output.derivative_key).run();
  } else if (!item->job_id.empty()) {
    roll_up(item->job_id, ItemStatus::done, 1, now_ms);
  }
  tx.commit();
  return true;
}

bool SqliteCatalog::fail_item(std::int64_t item_id, std::int64_t lease_token, const JobError& error,
                              std::optional<std::int64_t> retry_at_ms, std::int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  Transaction tx(*writer_);
  if (retry_at_ms) {
    auto s = writer_->cached(
        "UPDATE job_items SET status = 'queued', next_attempt_at = ?3, lease_owner = NULL, lease_until = 0,"
        " error_code = ?4, error_message = ?5 WHERE id = ?1 AND lease_token = ?2 AND status = 'running'");
    s->bind(1, item_id).bind(2, lease_token).bind(3, *retry_at_ms).bind(4, error.code).bind(5, error.message).run();
    const bool changed = writer_->changes() > 0;
    tx.commit();
    return changed;
  }
  std::optional<FinishedItem> item;
  {
    auto s = writer_->cached(
        "UPDATE job_items SET status = 'failed', finished_at = ?3, lease_owner = NULL, error_code = ?4,"
        " error_message = ?5 WHERE id = ?1 AND lease_token = ?2 AND status = 'running'"
        " RETURNING COALESCE(job_id, ''), kind, source, variant");
    s->bind(1, item_id).bind(2, lease_token).bind(3, now_ms).bind(4, error.code).bind(5, error.message);
    item = finished_item(*s);
  }
  if (!item) return false;
  if (item->kind == "variant") {
    auto s = writer_->cached(
        "UPDATE image_variants SET status = 'failed', error_code = ?3, error_message = ?4"
        " WHERE image_id = ?1 AND name = ?2");
    s->bind(1, item->source).bind(2, item->variant).bind(3, error.code).bind(4, error.message).run();
  } else if (!item->job_id.empty()) {
    roll_up(item->job_id, ItemStatus::failed, 1, now_ms);
  }
  tx.commit();
  return true;
}

int SqliteCatalog::release_leases(const std::string& worker) {
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  auto s = writer_->cached(
      "UPDATE job_items SET status = 'queued', lease_owner = NULL, lease_until = 0,"
      " attempts = MAX(attempts - 1, 0) WHERE lease_owner = ?1 AND status = 'running'");
  s->bind(1, worker).run();
  return static_cast<int>(writer_->changes());
}

CatalogStats SqliteCatalog::stats(std::int64_t since_day) {
  CatalogStats out;
  auto r = reader();
  {
    auto s = r->cached("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM images");
    if (s->step()) {
      out.images = s->int64(0);
      out.bytes_stored = s->int64(1);
    }
  }
  {
    auto s = r->cached("SELECT bytes FROM dedupe_savings WHERE id = 1");
    if (s->step()) out.bytes_saved_by_dedupe = s->int64(0);
  }
  {
    auto s = r->cached("SELECT format, COUNT(*) AS n FROM images GROUP BY format ORDER BY n DESC, format");
    while (s->step()) out.formats.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(
        "SELECT CASE WHEN camera_model = '' THEN 'unknown' ELSE camera_model END AS m, COUNT(*) AS n"
        " FROM images GROUP BY m ORDER BY n DESC, m LIMIT 10");
    while (s->step()) out.camera_models.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(
        "SELECT date(created_at, 'unixepoch') AS d, COUNT(*) FROM images WHERE created_at >= ?1"
        " GROUP BY d ORDER BY d");
    s->bind(1, since_day);
    while (s->step()) out.uploads_per_day.emplace_back(s->text(0), s->int64(1));
  }
  {
    auto s = r->cached(
        "SELECT COALESCE(SUM(status = 'queued'), 0), COALESCE(SUM(status = 'running'), 0),"
        " COALESCE(SUM(status IN ('failed', 'partial')), 0) FROM jobs");
    if (s->step()) {
      out.jobs_queued = s->int64(0);
      out.jobs_running = s->int64(1);
      out.jobs_failed = s->int64(2);
    }
  }
  return out;
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
  std::vector<CallbackDue> out;
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  Transaction tx(*writer_);
  std::vector<std::pair<std::string, int>> due;
  {
    auto s = writer_->cached(
        "SELECT id, callback_attempts FROM jobs WHERE callback_state = 'pending' AND callback_next_at <= ?1"
        " ORDER BY callback_next_at LIMIT ?2");
    s->bind(1, now_ms).bind(2, max);
    while (s->step()) due.emplace_back(s->text(0), s->integer(1));
  }
  for (const auto& [id, attempts] : due) {
    auto s = writer_->cached("UPDATE jobs SET callback_next_at = ?2 WHERE id = ?1");
    s->bind(1, id).bind(2, now_ms + lease_ms).run();
    if (auto job = load_job(*writer_, id)) out.push_back({std::move(*job), attempts});
  }
  tx.commit();
  return out;
}

void SqliteCatalog::record_callback(const std::string& job_id, bool delivered,
                                    std::optional<std::int64_t> retry_at_ms) {
  std::lock_guard lock(write_mu_);
  RelaxedSync relaxed(*writer_);
  auto s = writer_->cached(
      "UPDATE jobs SET callback_attempts = callback_attempts + 1, callback_state = ?2, callback_next_at = ?3"
      " WHERE id = ?1 AND callback_state = 'pending'");
  const char* state = delivered ? "delivered" : retry_at_ms ? "pending" : "failed";
  s->bind(1, job_id).bind(2, state).bind(3, retry_at_ms.value_or(0)).run();
}

// ---- health ----------------------------------------------------------------

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
  } catch (const std::exception& e) {
    problems.push_back(e.what());
  }
  try {
    // Compares the full-text index with the images table (rank 1).
    std::lock_guard lock(write_mu_);
    writer_->exec("INSERT INTO images_fts (images_fts, rank) VALUES ('integrity-check', 1)");
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
