#pragma once
// The two ways into the database that every SqliteCatalog source file uses:
// write transactions on the one writer and reads on pooled connections.
// Private to the catalog module.
#include <optional>
#include <type_traits>
#include <utility>

#include "catalog/sqlite_catalog.hpp"
#include "catalog/sqlite_db.hpp"
#include "catalog/sqlite_dialect.hpp"

namespace progimage::catalog {

/// Idle read connections kept for reuse.
inline constexpr std::size_t kMaxIdleReaders = 8;

// ---- writes ----------------------------------------------------------------
//
// One write transaction at a time, on writer_, under write_mu_. Durable
// writes share commits (commit_grouped). Relaxed commits (queue bookkeeping,
// derivative touches) do not wait for the disk: see sqlite::RelaxedSync,
// held with write_mu_, so no other transaction runs relaxed.

template <class F>
auto SqliteCatalog::write(Durability durability, F&& body) {
  if (durability == Durability::relaxed) {
    std::lock_guard lock(write_mu_);
    return write_locked(durability, std::forward<F>(body));
  }
  using Result = std::invoke_result_t<F&, sqlite::Connection&>;
  if constexpr (std::is_void_v<Result>) {
    commit_grouped([&](sqlite::Connection& w) { body(w); });
  } else {
    std::optional<Result> result;
    commit_grouped([&](sqlite::Connection& w) { result.emplace(body(w)); });
    return std::move(*result);
  }
}

template <class F>
auto SqliteCatalog::write_locked(Durability durability, F&& body) {
  std::optional<sqlite::RelaxedSync> relaxed;
  if (durability == Durability::relaxed) relaxed.emplace(*writer_);
  sqlite::Transaction tx(*writer_, sqlite::dialect().begin_write);
  if constexpr (std::is_void_v<std::invoke_result_t<F&, sqlite::Connection&>>) {
    body(*writer_);
    tx.commit();
  } else {
    auto result = body(*writer_);
    tx.commit();
    return result;
  }
}

// ---- reader pool -----------------------------------------------------------

/// A read-only connection borrowed from the pool; returned on destruction.
class SqliteCatalog::ReaderLease {
 public:
  ReaderLease(SqliteCatalog& owner, std::unique_ptr<sqlite::Connection> c) : owner_(owner), c_(std::move(c)) {}
  ~ReaderLease() {
    std::lock_guard lock(owner_.pool_mu_);
    if (owner_.idle_readers_.size() < kMaxIdleReaders) owner_.idle_readers_.push_back(std::move(c_));
  }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  sqlite::Connection* operator->() const { return c_.get(); }
  sqlite::Connection& operator*() const { return *c_; }

 private:
  SqliteCatalog& owner_;
  std::unique_ptr<sqlite::Connection> c_;
};

inline SqliteCatalog::ReaderLease SqliteCatalog::reader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_readers_.empty()) {
      auto c = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(*this, std::move(c));
    }
  }
  return ReaderLease(*this, std::make_unique<sqlite::Connection>(file_, true));
}

}  // namespace progimage::catalog
