#pragma once
// A thin RAII layer over libpq: connections with statements prepared once,
// results read as catalog::Row, transactions, a bounded connection pool and a
// listening connection for NOTIFY. Every failure becomes a core::Error;
// nothing of libpq leaks past the catalog module.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "catalog/dialect.hpp"
#include "catalog/image_sql.hpp"
#include "catalog/row.hpp"
#include "core/error.hpp"

struct pg_conn;
struct pg_result;

namespace progimage::catalog::postgres {

/// A failed statement, with its SQLSTATE. The code is `unavailable` for what
/// is worth retrying later (connection lost, server shutting down, too many
/// connections, disk full), `bad_parameter` for text that is not UTF-8, and
/// `internal` otherwise.
class SqlError : public core::Error {
 public:
  SqlError(std::string sqlstate, std::string message);
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  /// A serialization failure or deadlock: the transaction may simply run again.
  bool retryable() const noexcept { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
};

/// One statement argument in text form (NULL when empty), with its type.
struct Param {
  std::optional<std::string> text;
  unsigned type = 0;  // an Oid; 0 lets the server infer it
};
Param param(std::int64_t v);
inline Param param(int v) { return param(static_cast<std::int64_t>(v)); }
inline Param param(bool v) { return param(static_cast<std::int64_t>(v ? 1 : 0)); }
Param param(double v);
Param param(std::string_view v);
inline Param param(const std::string& v) { return param(std::string_view(v)); }
inline Param param(const char* v) { return param(std::string_view(v)); }
template <class T>
Param param(const std::optional<T>& v) {
  if (v) return param(*v);
  return Param{std::nullopt, param(T{}).type};
}
Param param(const SqlValue& v);

/// The rows of one statement. step() moves to the next row (the first on the
/// first call), as sqlite::Statement does; columns count from 0.
class Result final : public Row {
 public:
  explicit Result(pg_result* r) noexcept : r_(r) {}
  ~Result();
  Result(Result&& o) noexcept : r_(o.r_), row_(o.row_) { o.r_ = nullptr; }
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;

  bool step() noexcept;
  int rows() const noexcept;
  /// Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t changes() const noexcept;

  bool is_null(int col) const override;
  std::int64_t int64(int col) const override;
  double real(int col) const override;
  std::string text(int col) const override;

 private:
  pg_result* r_;
  int row_ = -1;
};

/// One server connection, used by one thread at a time.
class Connection {
 public:
  /// Connects with a libpq connection string or URI; throws SqlError
  /// (unavailable) when the server cannot be reached.
  explicit Connection(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs fixed SQL, prepared on this connection the first time it is used.
  template <class... Args>
  Result query(const std::string& sql, const Args&... args) {
    return run_prepared(sql, {param(args)...});
  }
  Result run_prepared(const std::string& sql, const std::vector<Param>& params);
  /// Runs SQL built at run time, unprepared.
  Result run_once(const std::string& sql, const std::vector<Param>& params);
  /// Runs SQL without arguments (may hold several statements).
  void exec(const std::string& sql);

  /// False once the connection is lost: the pool then drops it.
  bool usable() const noexcept;
  /// Reads what the server sent and returns the notifications received,
  /// as (channel, payload).
  std::vector<std::pair<std::string, std::string>> take_notifications();
  int socket() const noexcept;

 private:
  Result checked(pg_result* r, std::string_view sql);

  pg_conn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
};

/// BEGIN … COMMIT; rolls back when destroyed without commit(). A relaxed
/// one commits with synchronous_commit off: it survives a crash of this
/// process, while a crash of the server may forget it.
class Transaction {
 public:
  Transaction(Connection& c, Durability durability);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& c_;
  bool done_ = false;
};

/// Up to `max` connections to one database, made when first needed and
/// reused; a lost connection is replaced by a new one.
class Pool {
 public:
  Pool(std::string conninfo, std::size_t max, std::chrono::milliseconds wait = std::chrono::seconds(10));

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> c) : pool_(&pool), c_(std::move(c)) {}
    ~Lease();
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    Connection* operator->() const { return c_.get(); }
    Connection& operator*() const { return *c_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  /// A connection for this thread; waits while all are in use and throws
  /// core::Error(unavailable) when none frees up in time.
  Lease acquire();
  const std::string& conninfo() const noexcept { return conninfo_; }

 private:
  void give_back(std::unique_ptr<Connection> c);

  std::string conninfo_;
  std::size_t max_;
  std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // idle and leased
};

/// A thread that LISTENs on channels over a connection of its own and calls
/// `on_notify(channel, payload)` for each notification; it reconnects after a
/// lost connection, then calls `on_notify(channel, "")` for every channel,
/// since notifications sent meanwhile are lost.
class Listener {
 public:
  using Handler = std::function<void(const std::string& channel, const std::string& payload)>;
  Listener(std::string conninfo, std::vector<std::string> channels, Handler on_notify);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  void run();
  bool listen_once(bool reconnected);

  std::string conninfo_;
  std::vector<std::string> channels_;
  Handler on_notify_;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace progimage::catalog::postgres
