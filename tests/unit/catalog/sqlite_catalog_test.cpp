// What only the SQLite catalog shows: its file, schema versions, WAL, the
// details of its integrity check, and what survives reopening the file or a
// kill -9. Behaviour common to every backend is in catalog_test.cpp and
// jobs_test.cpp.
#include "catalog/sqlite_catalog.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "catalog/sqlite_schema.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

namespace fs = std::filesystem;
using namespace progimage;
using catalog::SqliteCatalog;
using namespace progimage::catalog::test_support;

namespace {

/// A raw connection to the same file, to look behind the catalog's back.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      throw std::runtime_error(msg + " in " + sql);
    }
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
  }

  /// EXPLAIN QUERY PLAN's details, one per line.
  std::string plan(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr);
    std::string out;
    while (sqlite3_step(s) == SQLITE_ROW) out += reinterpret_cast<const char*>(sqlite3_column_text(s, 3)) + std::string("\n");
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST(SqliteCatalog, CreatesDatabaseAtTheLatestSchemaVersion) {
  TempDir dir;
  {
    SqliteCatalog c(dir.db());
    EXPECT_TRUE(fs::exists(dir.db()));
    EXPECT_EQ(c.schema_version(), SqliteCatalog::latest_schema_version());
    EXPECT_EQ(SqliteCatalog::latest_schema_version(), 9);
    EXPECT_TRUE(c.healthy());
    EXPECT_EQ(c.integrity_check(), "ok");
  }
  SqliteCatalog again(dir.db());  // reopening applies nothing twice
  EXPECT_EQ(again.schema_version(), 9);
  RawDb raw(dir.db());
  EXPECT_EQ(raw.text("SELECT COUNT(*) FROM schema_version"), "9");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteCatalog, RefusesADatabaseFromANewerSchema) {
  TempDir dir;
  { SqliteCatalog c(dir.db()); }
  {
    RawDb raw(dir.db());
    raw.exec("INSERT INTO schema_version VALUES (99, 0)");
  }
  EXPECT_THROW(SqliteCatalog c(dir.db()), core::Error);
}

TEST(SqliteCatalog, IntegrityCheckFindsADamagedTextIndex) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  auto img = make_image(1, "sunset.jpg");
  c.insert_image(img);
  EXPECT_EQ(c.integrity_check(), "ok");
  {
    // Drop the row's entries from the full-text index behind the catalog's back.
    RawDb raw(dir.db());
    raw.exec("INSERT INTO images_fts (images_fts, rowid, name, description) "
             "SELECT 'delete', seq, name, description FROM images");
  }
  auto report = c.integrity_check();
  EXPECT_NE(report, "ok");
  EXPECT_NE(report.find("full-text"), std::string::npos) << report;
}

TEST(SqliteCatalog, IntegrityCheckFindsDanglingTagsAndDamagedIndexes) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  for (int i = 0; i < 50; ++i) c.insert_image(make_image(i));
  {
    RawDb raw(dir.db());
    raw.exec("PRAGMA foreign_keys = OFF; INSERT INTO image_tags VALUES ('nobody', 'x')");
    // Swap two indexes' root pages: each now holds the other's entries.
    auto a = raw.text("SELECT rootpage FROM sqlite_schema WHERE name = 'images_by_time'");
    auto b = raw.text("SELECT rootpage FROM sqlite_schema WHERE name = 'images_by_camera'");
    raw.exec("PRAGMA writable_schema = ON;"
             "UPDATE sqlite_schema SET rootpage = " + b + " WHERE name = 'images_by_time';"
             "UPDATE sqlite_schema SET rootpage = " + a + " WHERE name = 'images_by_camera';");
  }
  SqliteCatalog reopened(dir.db());  // fresh connections read the changed schema
  auto report = reopened.integrity_check();
  EXPECT_NE(report.find("foreign key"), std::string::npos) << report;
  EXPECT_NE(report.find("images_by_"), std::string::npos) << report;
}

// A WAL reader never waits for a writer: reads answer while another
// connection holds the write lock with uncommitted changes.
TEST(SqliteCatalog, ReadsDoNotWaitForAWriter) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  auto img = make_image();
  c.insert_image(img);
  RawDb raw(dir.db());
  raw.exec("BEGIN IMMEDIATE; DELETE FROM images;");
  EXPECT_TRUE(c.get_image(img.id));  // the uncommitted delete is invisible
  EXPECT_EQ(search(c, {}).size(), 1u);
  EXPECT_TRUE(c.healthy());
  raw.exec("ROLLBACK");
}

// The commit is the acknowledgement: a process killed right after
// insert_image returned has the row when the file is opened again.
TEST(SqliteCatalog, CommittedInsertSurvivesKill9) {
  TempDir dir;
  { SqliteCatalog c(dir.db()); }
  auto img = make_image();
  pid_t pid = ::fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    SqliteCatalog c(dir.db());
    c.insert_image(img);
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  SqliteCatalog c(dir.db());
  auto got = c.get_image(img.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->sha256, img.sha256);
  EXPECT_EQ(c.integrity_check(), "ok");
}

// The rest of this test runs for every backend:
// CatalogTest.DeleteRemovesRowTagsTextAndDerivatives.
TEST(SqliteCatalog, DeleteLeavesNoTagRowsBehind) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  auto img = make_image();
  img.tags = {"beach"};
  auto other = make_image();
  other.tags = {"beach"};
  c.insert_image(img);
  c.insert_image(other);
  EXPECT_TRUE(c.delete_image(img.id).found);
  RawDb raw(dir.db());
  EXPECT_EQ(raw.text("SELECT COUNT(*) FROM image_tags"), "1");
}

// Touches seen at once: CatalogTest.TouchesAreSeenAtOnce.
TEST(SqliteCatalog, TouchesArePersisted) {
  TempDir dir;
  {
    SqliteCatalog c(dir.db());
    c.put_derivative(make_derivative("k1", "s", 1, 10));
    c.touch_derivative("k1", 500);
  }
  SqliteCatalog reopened(dir.db());  // the destructor flushed
  EXPECT_EQ(reopened.get_derivative("k1")->last_used_at, 500);
  reopened.touch_derivative("k1", 700);
  reopened.flush_touches();
  RawDb raw(dir.db());
  EXPECT_EQ(raw.text("SELECT last_used_at FROM derivatives WHERE key = 'k1'"), "700");
}

TEST(SqliteCatalog, JobTablesArriveWithMigrationTwo) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  EXPECT_GE(c.schema_version(), 2);
  RawDb raw(dir.db());
  EXPECT_EQ(raw.text("SELECT version FROM schema_version WHERE version = 2"), "2");
  EXPECT_EQ(raw.text("SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('jobs', 'job_items', 'image_variants')"), "3");
}

TEST(SqliteCatalog, ClaimsFindTheirItemsByIndexNotByScanningFinishedOnes) {
  // The claims' own conditions (sqlite_catalog.cpp claim_in and
  // take_expired_leases): a scan would cost every claim the whole history.
  TempDir dir;
  SqliteCatalog c(dir.db());
  RawDb raw(dir.db());
  const auto queued = raw.plan(
      "SELECT id FROM job_items WHERE status = 'queued' AND next_attempt_at <= 1 ORDER BY next_attempt_at, id LIMIT 2");
  EXPECT_NE(queued.find("job_items_queued"), std::string::npos) << queued;
  EXPECT_EQ(queued.find("TEMP B-TREE"), std::string::npos) << queued;
  const auto leased =
      raw.plan("SELECT id FROM job_items WHERE status = 'running' AND lease_until <= 1 ORDER BY lease_until LIMIT 2");
  EXPECT_NE(leased.find("job_items_leased"), std::string::npos) << leased;
  EXPECT_EQ(leased.find("TEMP B-TREE"), std::string::npos) << leased;
}

TEST(SqliteCatalog, SettingSurvivesReopen) {
  TempDir dir;
  {
    SqliteCatalog c(dir.db());
    EXPECT_EQ(c.setting("callback_secret", "s3cret"), "s3cret");
  }
  SqliteCatalog reopened(dir.db());
  EXPECT_EQ(reopened.setting("callback_secret", "another"), "s3cret");
  RawDb raw(dir.db());
  EXPECT_EQ(raw.text("SELECT value FROM settings WHERE name = 'callback_secret'"), "s3cret");
}

// Several catalogs on one file (each with its own connections, as separate
// processes have) ask for the same setting at once: all get one value.
TEST(SqliteCatalog, SettingIsAgreedByCatalogsOnOneFile) {
  TempDir dir;
  constexpr int kCatalogs = 4;
  std::vector<std::unique_ptr<SqliteCatalog>> catalogs;
  for (int k = 0; k < kCatalogs; ++k) catalogs.push_back(std::make_unique<SqliteCatalog>(dir.db()));
  for (int round = 0; round < 10; ++round) {
    const std::string name = "secret " + std::to_string(round);
    const auto values =
        run_together(kCatalogs, [&](int k) { return catalogs[k]->setting(name, "from catalog " + std::to_string(k)); });
    EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 1u) << "round " << round;
  }
}

// A catalog written by the version before tenants (schema 5) opens with
// everything in the default tenant: tags, full-text search, derivatives and
// totals carried over, and dedupe now per tenant.
TEST(SqliteCatalog, MigratesAVersion5CatalogIntoTheDefaultTenant) {
  TempDir dir;
  fs::create_directories(dir.db().parent_path());
  {
    RawDb raw(dir.db());
    raw.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const auto& m : catalog::sqlite::migrations()) {
      if (m.version > 5) break;
      raw.exec(std::string("BEGIN;") + m.sql + "; INSERT INTO schema_version VALUES (" + std::to_string(m.version) +
               ", 1); COMMIT;");
    }
    raw.exec("INSERT INTO images (id, sha256, format, width, height, size, created_at, name, description,"
             " metadata_json) VALUES ('OldImageId000000000001', 'sha-old', 'png', 10, 20, 300, 1700000000, 'old.png',"
             " 'a sunset', '{\"phash\":\"ffd8a0000000000f\"}')");
    raw.exec("INSERT INTO image_tags VALUES ('OldImageId000000000001', 'beach')");
    raw.exec("INSERT INTO derivatives (key, sha256, params, format, width, height, size, created_at, last_used_at)"
             " VALUES ('dkey', 'sha-old', 'w=5', 'webp', 5, 10, 40, 1700000000, 1700000000)");
  }
  SqliteCatalog c(dir.db());
  EXPECT_EQ(c.schema_version(), SqliteCatalog::latest_schema_version());
  auto old = c.get_image("OldImageId000000000001");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->tenant, "default");
  EXPECT_EQ(old->tags, std::vector<std::string>{"beach"});
  EXPECT_FALSE(old->phash);
  // Its perceptual hash is read from its metadata, for the similar-image index.
  std::vector<catalog::ImageHash> hashes;
  c.scan_image_hashes(0, [&hashes](catalog::ImageHash&& h) { hashes.push_back(std::move(h)); });
  ASSERT_EQ(hashes.size(), 1u);
  EXPECT_EQ(hashes[0].phash, 0xffd8a0000000000fULL);
  catalog::ImageQuery text;
  text.text = "sunset";
  EXPECT_EQ(c.list_images(text).images.size(), 1u);
  EXPECT_EQ(c.list_derivatives("default", "sha-old").size(), 1u);
  EXPECT_EQ(c.tenant_use("default").images, 1);
  EXPECT_EQ(c.tenant_use("default").bytes, 300);
  // The same bytes in another tenant are a new image now.
  auto again = make_image();
  again.sha256 = "sha-old";
  again.tenant = "other";
  EXPECT_FALSE(c.insert_image(again).duplicate);
  EXPECT_EQ(c.integrity_check(), "ok");
}

// Group commit: concurrent durable writes share commits, and a write that
// fails in a shared transaction undoes only itself.
TEST(SqliteCatalog, ConcurrentWritesShareCommitsAndFailAlone) {
  TempDir dir;
  SqliteCatalog c(dir.db());
  constexpr int kThreads = 8, kEach = 25;
  const auto before = c.commit_counts();
  // Every fifth write reuses an id already stored: a constraint error of its own.
  auto taken = make_image(1700000000, "taken.jpg");
  c.insert_image(taken);
  const auto outcomes = run_together(kThreads, [&](int t) {
    int stored = 0, refused = 0;
    for (int i = 0; i < kEach; ++i) {
      auto img = make_image(1700000000 + t * 100 + i, "p.jpg");
      img.sha256 = core::sha256_hex("image " + std::to_string(t) + " " + std::to_string(i));
      if (i % 5 == 4) img.id = taken.id;
      try {
        c.insert_image(img);
        ++stored;
      } catch (const std::exception&) {
        ++refused;
      }
    }
    return std::make_pair(stored, refused);
  });
  int stored = 0, refused = 0;
  for (const auto& [s, r] : outcomes) stored += s, refused += r;
  EXPECT_EQ(refused, kThreads * kEach / 5);
  EXPECT_EQ(stored, kThreads * kEach - refused);
  catalog::ImageQuery all;
  all.limit = 1000;
  EXPECT_EQ(c.list_images(all).images.size(), static_cast<std::size_t>(stored + 1))
      << "a refused write must not undo the others of its group";
  const auto after = c.commit_counts();
  EXPECT_EQ(after.writes - before.writes, static_cast<std::uint64_t>(stored + 1));
  EXPECT_LT(after.commits - before.commits, after.writes - before.writes)
      << "eight writers at once never shared a commit";
  EXPECT_EQ(c.integrity_check(), "ok");
}
