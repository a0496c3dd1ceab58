// What is PostgreSQL's own beyond the typed tests: migrations that many
// nodes start at once, a schema from a newer program, signals between nodes
// (LISTEN/NOTIFY), touches flushed at destruction, the integrity check, and
// text that is not UTF-8.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "catalog/postgres_catalog.hpp"
#include "catalog/postgres_db.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"

namespace progimage::catalog {
namespace {

using namespace std::chrono_literals;
using test_support::make_derivative;
using test_support::make_image;
using test_support::run_together;
using test_support::TempDatabase;

/// Signals as one node's handler receives them.
class SignalLog {
 public:
  SignalHandler handler() {
    return [this](Signal s, const std::string& subject) {
      std::lock_guard lock(mu_);
      seen_.emplace_back(s, subject);
      cv_.notify_all();
    };
  }
  /// True once (s, subject) arrived, within 5 s.
  bool wait_for(Signal s, const std::string& subject) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] {
      return std::find(seen_.begin(), seen_.end(), std::pair(s, subject)) != seen_.end();
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Signal, std::string>> seen_;
};

TEST(PostgresCatalog, NodesStartingTogetherMigrateOnce) {
  TempDatabase db;
  auto applied = run_together(6, [&](int) {
    PostgresCatalog c(db.url(), false);
    return c.migrate();
  });
  int migrations = 0;
  for (const auto& a : applied) migrations += static_cast<int>(a.size());
  EXPECT_EQ(migrations, PostgresCatalog::latest_schema_version());  // each version applied by exactly one
  PostgresCatalog again(db.url());
  EXPECT_EQ(again.schema_version(), PostgresCatalog::latest_schema_version());
  EXPECT_TRUE(again.migrate().empty());
}

TEST(PostgresCatalog, WithoutMigrationsTheSchemaIsEmptyUntilMigrated) {
  TempDatabase db;
  PostgresCatalog c(db.url(), false);
  EXPECT_EQ(c.schema_version(), 0);
  EXPECT_FALSE(c.healthy());
  EXPECT_EQ(c.migrate().size(), static_cast<std::size_t>(PostgresCatalog::latest_schema_version()));
  EXPECT_TRUE(c.healthy());
}

TEST(PostgresCatalog, ASchemaFromANewerProgramIsRefused) {
  TempDatabase db;
  { PostgresCatalog c(db.url()); }
  postgres::Connection(db.url()).exec("INSERT INTO schema_version VALUES (999, 0)");
  EXPECT_THROW(PostgresCatalog c(db.url()), core::Error);
  EXPECT_THROW(PostgresCatalog c(db.url(), false), core::Error);
}

TEST(PostgresCatalog, AServerThatCannotBeReachedIsUnavailable) {
  try {
    PostgresCatalog c("postgresql://postgres@127.0.0.1:1/nothing");
    FAIL() << "opened";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable);
  }
}

TEST(PostgresCatalog, PoolSizeIsOursAndTheRestGoesToLibpq) {
  TempDatabase db;
  PostgresCatalog c(db.url() + "?pool_size=2&connect_timeout=5");
  auto ids = run_together(8, [&](int) { return c.insert_image(make_image()).image.id; });
  EXPECT_EQ(test_support::search(c, {}).size(), 8u);
  EXPECT_THROW(PostgresCatalog(db.url() + "?pool_size=0"), std::invalid_argument);
  EXPECT_THROW(PostgresCatalog(db.url() + "?no_such_parameter=1"), core::Error);
}

TEST(PostgresCatalog, ChangesOnOneNodeAreSignalledToEveryNode) {
  TempDatabase db;
  PostgresCatalog a(db.url()), b(db.url());
  SignalLog seen_by_a, seen_by_b;
  a.on_signal(seen_by_a.handler());
  b.on_signal(seen_by_b.handler());
  std::this_thread::sleep_for(200ms);  // the listeners connect

  auto img = make_image();
  img.variants["thumb"] = "pending";
  a.insert_image(img);
  EXPECT_TRUE(seen_by_b.wait_for(Signal::work_queued, ""));
  a.update_image(img.id, {.description = "new"});
  EXPECT_TRUE(seen_by_b.wait_for(Signal::image_changed, img.id));
  EXPECT_TRUE(seen_by_a.wait_for(Signal::image_changed, img.id));  // its own node too
  a.put_derivative(make_derivative("abcd", img.sha256, 10, 1));
  a.remove_derivatives(img.tenant, img.sha256);
  EXPECT_TRUE(seen_by_b.wait_for(Signal::derivatives_purged, img.sha256));
  a.delete_image(img.id);
  EXPECT_TRUE(seen_by_b.wait_for(Signal::image_changed, img.id));

  ApiKeyRecord key{.id = "k1", .tenant = "t", .role = "read", .prefix = "pik_x", .hash = "h1", .created_at = 1};
  a.insert_api_key(key);
  a.revoke_api_key("", "k1", 2);
  EXPECT_TRUE(seen_by_b.wait_for(Signal::key_revoked, "k1"));
}

TEST(PostgresCatalog, TouchesAreWrittenWhenTheCatalogCloses) {
  TempDatabase db;
  {
    PostgresCatalog c(db.url());
    c.put_derivative(make_derivative("k1", "s", 10, 100));
    c.touch_derivative("k1", 500);
  }
  PostgresCatalog reopened(db.url());
  EXPECT_EQ(reopened.get_derivative("k1")->last_used_at, 500);
}

TEST(PostgresCatalog, IntegrityCheckNamesTotalsThatDisagree) {
  TempDatabase db;
  PostgresCatalog c(db.url());
  c.insert_image(make_image());
  EXPECT_EQ(c.integrity_check(), "ok");
  postgres::Connection(db.url()).exec("UPDATE tenant_totals SET images = images + 1");
  EXPECT_NE(c.integrity_check().find("tenant totals"), std::string::npos);
}

TEST(PostgresCatalog, TextThatIsNotUtf8IsABadParameter) {
  TempDatabase db;
  PostgresCatalog c(db.url());
  auto img = make_image();
  img.description = "caf\xe9";  // Latin-1
  try {
    c.insert_image(img);
    FAIL() << "stored";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
  }
  EXPECT_TRUE(test_support::search(c, {}).empty());
}

}  // namespace
}  // namespace progimage::catalog
