#include "catalog/postgres_db.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace progimage::catalog::postgres {

namespace {

// Type Oids of pg_type.h (not installed by libpq-dev).
constexpr unsigned kInt8Oid = 20;
constexpr unsigned kTextOid = 25;
constexpr unsigned kFloat8Oid = 701;

core::ErrorCode code_for_sqlstate(std::string_view state) {
  // 08: connection exceptions; 57P: the server is shutting down; 53: out of
  // resources (disk full, too many connections). All pass with time.
  if (state.starts_with("08") || state.starts_with("57P") || state.starts_with("53")) return core::ErrorCode::unavailable;
  // Not UTF-8, or a NUL byte: the input's fault.
  if (state == "22021" || state == "22P05") return core::ErrorCode::bad_parameter;
  return core::ErrorCode::internal;
}

std::string first_line(std::string_view text) {
  auto end = text.find('\n');
  return std::string(text.substr(0, end));
}

}  // namespace

SqlError::SqlError(std::string sqlstate, std::string message)
    : core::Error(code_for_sqlstate(sqlstate),
                  code_for_sqlstate(sqlstate) == core::ErrorCode::bad_parameter ? "text must be valid UTF-8 without NUL"
                                                                               : "catalog: " + message),
      sqlstate_(std::move(sqlstate)) {}

Param param(std::int64_t v) { return Param{std::to_string(v), kInt8Oid}; }

Param param(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return Param{std::string(buf), kFloat8Oid};
}

Param param(std::string_view v) { return Param{std::string(v), kTextOid}; }

Param param(const SqlValue& v) {
  return std::visit([](const auto& x) { return param(x); }, v);
}

// ---- results ------------------------------------------------------------------

Result::~Result() {
  if (r_) PQclear(r_);
}

bool Result::step() noexcept { return ++row_ < PQntuples(r_); }

int Result::rows() const noexcept { return PQntuples(r_); }

std::int64_t Result::changes() const noexcept {
  const char* n = PQcmdTuples(r_);
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

bool Result::is_null(int col) const { return PQgetisnull(r_, row_, col) != 0; }

std::int64_t Result::int64(int col) const {
  if (is_null(col)) return 0;
  const char* v = PQgetvalue(r_, row_, col);
  if (v[0] == 't' && v[1] == '\0') return 1;  // booleans
  if (v[0] == 'f' && v[1] == '\0') return 0;
  return std::strtoll(v, nullptr, 10);
}

double Result::real(int col) const { return is_null(col) ? 0.0 : std::strtod(PQgetvalue(r_, row_, col), nullptr); }

std::string Result::text(int col) const {
  if (is_null(col)) return {};
  return std::string(PQgetvalue(r_, row_, col), static_cast<std::size_t>(PQgetlength(r_, row_, col)));
}

// ---- connections ------------------------------------------------------------

Connection::Connection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ ? first_line(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw SqlError("08001", "cannot connect to PostgreSQL: " + why);
  }
  // Times are unix numbers and text is compared bytewise: nothing depends
  // on the session, but keep warnings out of the server log's way.
  exec("SET client_min_messages = warning");
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

bool Connection::usable() const noexcept { return PQstatus(conn_) == CONNECTION_OK; }

int Connection::socket() const noexcept { return PQsocket(conn_); }

Result Connection::checked(pg_result* r, std::string_view sql) {
  Result result(r);
  const auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (!usable()) throw SqlError("08006", "connection lost: " + message);
  throw SqlError(state ? state : "XX000", message + " in: " + first_line(sql).substr(0, 120));
}

namespace {

struct ParamArrays {
  std::vector<const char*> values;
  std::vector<Oid> types;
  explicit ParamArrays(const std::vector<Param>& params) {
    for (const auto& p : params) {
      values.push_back(p.text ? p.text->c_str() : nullptr);
      types.push_back(p.type);
    }
  }
};

}  // namespace

Result Connection::run_prepared(const std::string& sql, const std::vector<Param>& params) {
  ParamArrays a(params);
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size() + 1);
    checked(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), a.types.data()), sql);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return checked(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), a.values.data(),
                                nullptr, nullptr, 0),
                 sql);
}

Result Connection::run_once(const std::string& sql, const std::vector<Param>& params) {
  ParamArrays a(params);
  return checked(PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), a.types.data(), a.values.data(),
                              nullptr, nullptr, 0),
                 sql);
}

void Connection::exec(const std::string& sql) { checked(PQexec(conn_, sql.c_str()), sql); }

std::vector<std::pair<std::string, std::string>> Connection::take_notifications() {
  std::vector<std::pair<std::string, std::string>> out;
  if (!PQconsumeInput(conn_)) throw SqlError("08006", "connection lost: " + first_line(PQerrorMessage(conn_)));
  while (PGnotify* n = PQnotifies(conn_)) {
    out.emplace_back(n->relname, n->extra ? n->extra : "");
    PQfreemem(n);
  }
  return out;
}

// ---- transactions -----------------------------------------------------------

Transaction::Transaction(Connection& c, Durability durability) : c_(c) {
  // One round trip for both.
  c_.exec(durability == Durability::relaxed ? "BEGIN; SET LOCAL synchronous_commit = off" : "BEGIN");
}

Transaction::~Transaction() {
  if (done_ || !c_.usable()) return;
  try {
    c_.exec("ROLLBACK");
  } catch (...) {
    // The connection is then unusable and the pool drops it.
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  done_ = true;
}

// ---- pool -------------------------------------------------------------------

Pool::Pool(std::string conninfo, std::size_t max, std::chrono::milliseconds wait)
    : conninfo_(std::move(conninfo)), max_(std::max<std::size_t>(max, 1)), wait_(wait) {}

Pool::Lease::~Lease() {
  if (c_) pool_->give_back(std::move(c_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mu_);
  if (!freed_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < max_; }))
    throw core::Error(core::ErrorCode::unavailable, "catalog: every PostgreSQL connection is busy");
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(c));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(conninfo_));
  } catch (...) {
    lock.lock();
    --open_;
    freed_.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> c) {
  {
    std::lock_guard lock(mu_);
    if (c->usable()) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
  // A lost connection is closed here, outside the lock.
}

// ---- listener ----------------------------------------------------------------

Listener::Listener(std::string conninfo, std::vector<std::string> channels, Handler on_notify)
    : conninfo_(std::move(conninfo)), channels_(std::move(channels)), on_notify_(std::move(on_notify)) {
  if (::pipe(stop_pipe_) != 0) throw std::runtime_error("catalog: cannot make a pipe for the listener");
  thread_ = std::thread([this] { run(); });
}

Listener::~Listener() {
  char b = 1;
  (void)!::write(stop_pipe_[1], &b, 1);
  if (thread_.joinable()) thread_.join();
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void Listener::run() {
  bool reconnected = false;
  while (!listen_once(reconnected)) {
    reconnected = true;
    pollfd stop{stop_pipe_[0], POLLIN, 0};
    if (::poll(&stop, 1, 1000) > 0) return;  // a second before connecting again
  }
}

bool Listener::listen_once(bool reconnected) {
  std::unique_ptr<Connection> c;
  try {
    c = std::make_unique<Connection>(conninfo_);
    for (const auto& ch : channels_) c->exec("LISTEN " + ch);
  } catch (const std::exception&) {
    return false;
  }
  if (reconnected)
    for (const auto& ch : channels_) on_notify_(ch, "");
  while (true) {
    pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {c->socket(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents) return true;
    try {
      for (auto& [channel, payload] : c->take_notifications()) on_notify_(channel, payload);
    } catch (const std::exception&) {
      return false;
    }
  }
}

}  // namespace progimage::catalog::postgres
