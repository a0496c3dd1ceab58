#pragma once
// The two ways into the database that every PostgresCatalog source file
// uses: transactions and plain reads on pooled connections. Private to the
// catalog module.
#include <type_traits>
#include <utility>

#include "catalog/postgres_catalog.hpp"
#include "catalog/postgres_db.hpp"
#include "catalog/postgres_dialect.hpp"

namespace progimage::catalog {

namespace postgres {

/// Serialization failures and deadlocks are retried this many times in all.
inline constexpr int kTransactionAttempts = 4;

inline const char* signal_name(Signal s) {
  switch (s) {
    case Signal::work_queued: return "work_queued";
    case Signal::image_changed: return "image_changed";
    case Signal::derivatives_purged: return "derivatives_purged";
    case Signal::key_revoked: return "key_revoked";
  }
  return "";
}

inline constexpr Signal kSignals[] = {Signal::work_queued, Signal::image_changed, Signal::derivatives_purged,
                                      Signal::key_revoked};

/// Sends `signal` to every node when the transaction commits (NOTIFY is
/// transactional: a change rolled back signals nothing). On channel
/// "progimage", as "kind:subject".
inline void notify(Connection& c, Signal signal, const std::string& subject) {
  c.query("SELECT pg_notify('progimage', $1)", std::string(signal_name(signal)) + ":" + subject);
}

}  // namespace postgres

template <class F>
auto PostgresCatalog::write(Durability durability, F&& body) {
  for (int attempt = 1;; ++attempt) {
    auto c = pool_->acquire();
    try {
      postgres::Transaction tx(*c, durability);
      if constexpr (std::is_void_v<std::invoke_result_t<F&, postgres::Connection&>>) {
        body(*c);
        tx.commit();
        return;
      } else {
        auto result = body(*c);
        tx.commit();
        return result;
      }
    } catch (const postgres::SqlError& e) {
      if (!e.retryable() || attempt == postgres::kTransactionAttempts) throw;
    }
  }
}

template <class F>
auto PostgresCatalog::read(F&& body) {
  auto c = pool_->acquire();
  return body(*c);
}

}  // namespace progimage::catalog
