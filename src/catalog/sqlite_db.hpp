#pragma once
// A thin RAII layer over the SQLite C API: connections, prepared statements
// and transactions. Every failure becomes a core::Error; nothing of SQLite
// leaks past the catalog module.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "catalog/row.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace progimage::catalog::sqlite {

/// Throws core::Error: `unavailable` for a busy/locked database or a full
/// disk (worth retrying later), `internal` for anything else.
[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what);

/// One prepared statement; its current row is a catalog::Row. Columns and
/// parameters count from 0 and 1, as in SQLite.
class Statement final : public Row {
 public:
  Statement(sqlite3* db, std::string_view sql, bool persistent = false);
  ~Statement();
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);

  /// True while a row is available; false once done.
  bool step();
  /// Steps to the end, for statements without results.
  void run();
  /// Back to the start with no bindings; ends any read it holds open.
  void reset() noexcept;

  bool is_null(int col) const override;
  std::int64_t int64(int col) const override;
  double real(int col) const override;
  std::string text(int col) const override;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Resets a cached statement when the scope ends, so that an abandoned SELECT
/// never keeps a read snapshot (and the WAL) pinned.
class StatementUse {
 public:
  explicit StatementUse(Statement& s) : s_(&s) {}
  ~StatementUse() { s_->reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  Statement* operator->() const { return s_; }
  Statement& operator*() const { return *s_; }

 private:
  Statement* s_;
};

/// One database connection, used by one thread at a time.
class Connection {
 public:
  /// Opens (creating) the file with the catalog's settings: WAL, synchronous
  /// FULL, busy timeout, foreign keys; `query_only` for reader connections.
  Connection(const std::filesystem::path& file, bool query_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs SQL without results (may hold several statements).
  void exec(const char* sql);
  /// A statement prepared once per connection and reused; `sql` must be fixed text.
  StatementUse cached(const std::string& sql);
  /// A one-off statement (for SQL built at run time).
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  /// The first column of the first row of a query as text, or nullopt.
  std::optional<std::string> query_text(const char* sql);

  /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  std::int64_t changes() const noexcept;

  sqlite3* handle() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

/// `begin` … COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  Transaction(Connection& c, const char* begin);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

/// `synchronous=NORMAL` while it lives, then FULL again: in WAL mode a commit
/// then survives a crash of the process but not always a power loss, which
/// may forget the latest such commits; the next FULL commit syncs them too,
/// in order. Set outside a transaction (SQLite refuses it inside one).
class RelaxedSync {
 public:
  explicit RelaxedSync(Connection& c);
  ~RelaxedSync();
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;

 private:
  Connection& c_;
};

}  // namespace progimage::catalog::sqlite
