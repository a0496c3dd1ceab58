#include "catalog/sqlite_db.hpp"

#include <sqlite3.h>

#include <climits>
#include <utility>

#include "core/error.hpp"

namespace progimage::catalog::sqlite {

namespace {
constexpr int kBusyTimeoutMs = 5000;
}

void throw_error(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  auto code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL)
                  ? core::ErrorCode::unavailable
                  : core::ErrorCode::internal;
  std::string msg = "catalog: ";
  msg += what;
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (";
  msg += std::to_string(rc);
  msg += ')';
  throw core::Error(code, std::move(msg));
}

// ---- Statement -------------------------------------------------------------

Statement::Statement(sqlite3* db, std::string_view sql, bool persistent) : db_(db) {
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw_error(db, rc, "prepare");
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Statement& Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries are safe to bind.
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Statement& Statement::bind_null(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Capture the message before reset() can replace it.
  try {
    throw_error(db_, rc, "step");
  } catch (...) {
    sqlite3_reset(stmt_);
    throw;
  }
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- Connection ------------------------------------------------------------

Connection::Connection(const std::filesystem::path& file, bool query_only) {
  // NOMUTEX: the catalog guarantees one thread per connection at a time.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = "open " + file.filename().string();
    try {
      throw_error(db_, rc, what);
    } catch (...) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw;
    }
  }
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // WAL: readers never wait for the writer. FULL: every commit is fsynced,
    // since a commit is what acknowledges an upload.
    auto mode = query_text("PRAGMA journal_mode=WAL");
    if (mode != "wal") throw core::Error(core::ErrorCode::internal, "catalog: cannot enable WAL mode");
    exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (query_only) exec("PRAGMA query_only=ON");
  } catch (...) {
    cache_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  cache_.clear();  // statements first: close_v2 would otherwise linger as a zombie
  sqlite3_close_v2(db_);
}

void Connection::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg still has it
  if (rc != SQLITE_OK) throw_error(db_, rc, "exec");
}

std::int64_t Connection::changes() const noexcept { return sqlite3_changes64(db_); }

StatementUse Connection::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<Statement>(db_, sql, true)).first;
  }
  return StatementUse(*it->second);
}

std::optional<std::string> Connection::query_text(const char* sql) {
  Statement s(db_, sql);
  if (!s.step()) return std::nullopt;
  return s.text(0);
}

// ---- Transaction -----------------------------------------------------------

Transaction::Transaction(Connection& c, const char* begin) : c_(c) { c_.exec(begin); }

Transaction::~Transaction() {
  if (done_) return;
  try {
    c_.exec("ROLLBACK");
  } catch (...) {
    // The transaction may already be gone (SQLite rolls back on some errors).
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

// ---- RelaxedSync -----------------------------------------------------------

RelaxedSync::RelaxedSync(Connection& c) : c_(c) { c_.exec("PRAGMA synchronous=NORMAL"); }

RelaxedSync::~RelaxedSync() {
  try {
    c_.exec("PRAGMA synchronous=FULL");
  } catch (...) {
    // Cannot fail outside a transaction; nothing more to do if it did.
  }
}

}  // namespace progimage::catalog::sqlite
