#include "catalog/sqlite_catalog.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <variant>

#include <boost/json.hpp>

#include "catalog/query.hpp"
#include "catalog/sqlite_db.hpp"
#include "catalog/sqlite_schema.hpp"
#include "core/error.hpp"
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
    "(SELECT json_group_array(t.tag) FROM image_tags t WHERE t.image_id = i.id)";
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
  rec.variants.clear();  // not stored yet (variants come with the jobs)

  std::lock_guard lock(write_mu_);
  Transaction tx(*writer_);
  // Inside the write transaction, so two uploads of the same bytes cannot
  // both miss here: the second sees the first's row.
  if (auto existing = load_image(*writer_, kSelectImageBySha, rec.sha256)) {
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

ImagePage SqliteCatalog::list_images(const ImageQuery& query) {
  using Value = std::variant<std::int64_t, std::string>;
  std::vector<Value> args;
  auto arg = [&args](Value v) {
    args.push_back(std::move(v));
    return "?" + std::to_string(args.size());
  };

  std::string sql = "SELECT " + kImageColumns + " FROM images i WHERE 1";
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
  for (std::size_t k = 0; k < args.size(); ++k) {
    std::visit([&](const auto& v) { s.bind(static_cast<int>(k + 1), v); }, args[k]);
  }
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
  if (flush) flush_touches();
}

void SqliteCatalog::flush_touches() {
  std::unordered_map<std::string, std::int64_t> batch;
  {
    std::lock_guard lock(touch_mu_);
    batch.swap(touches_);
    last_flush_ = std::chrono::steady_clock::now();
  }
  if (batch.empty()) return;
  try {
    std::lock_guard lock(write_mu_);
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
