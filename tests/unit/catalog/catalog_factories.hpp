#pragma once
// The catalog backends that the behaviour tests (catalog_test.cpp,
// jobs_test.cpp) run against, and what those tests share. Each factory makes
// one fresh, empty catalog and removes it afterwards: SQLite in a file of
// its own, PostgreSQL in a database of its own on the server of the tests'
// "postgres" fixture (tests/postgres), whose URI is in the file that
// PROGIMAGE_TEST_POSTGRES_URL_FILE names. Every typed test runs on both.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/postgres_catalog.hpp"
#include "catalog/postgres_db.hpp"
#include "catalog/sqlite_catalog.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

namespace progimage::catalog::test_support {

/// A directory under the system's temporary one, removed with its contents.
class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("progimage-catalog-" + core::new_id())) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  /// In a subdirectory that does not exist yet: the catalog makes it.
  std::filesystem::path db() const { return path_ / "sub" / "catalog.db"; }

 private:
  std::filesystem::path path_;
};

/// SQLite in a file of its own temporary directory.
struct SqliteFactory {
  static constexpr const char* kName = "sqlite";
  std::unique_ptr<Catalog> make() { return std::make_unique<SqliteCatalog>(dir.db()); }
  TempDir dir;
};

/// The URI of the tests' PostgreSQL server's admin database; fails the test
/// when there is none.
inline std::string postgres_admin_url() {
  const char* file = std::getenv("PROGIMAGE_TEST_POSTGRES_URL_FILE");
  if (!file) throw std::runtime_error("PROGIMAGE_TEST_POSTGRES_URL_FILE is not set: run the tests with ctest");
  std::ifstream in(file);
  std::string url;
  if (!(in >> url)) throw std::runtime_error(std::string("no PostgreSQL server: ") + file + " is missing");
  return url;
}

/// A database of its own on the tests' PostgreSQL server, dropped afterwards.
class TempDatabase {
 public:
  TempDatabase() : admin_(postgres_admin_url()), name_("t_" + core::new_id()) {
    for (auto& ch : name_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    postgres::Connection(admin_).exec("CREATE DATABASE " + name_);
  }
  ~TempDatabase() {
    try {
      postgres::Connection(admin_).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  /// The URI of this database.
  std::string url() const { return admin_.substr(0, admin_.rfind('/') + 1) + name_; }

 private:
  std::string admin_;
  std::string name_;
};

/// PostgreSQL in a database of its own.
struct PostgresFactory {
  static constexpr const char* kName = "postgres";
  std::unique_ptr<Catalog> make() { return std::make_unique<PostgresCatalog>(db.url()); }
  TempDatabase db;
};

using CatalogFactories = ::testing::Types<SqliteFactory, PostgresFactory>;

/// Names the typed tests after their backend: CatalogTest/sqlite.Name.
struct FactoryName {
  template <class Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};

/// A fresh catalog from `Factory` for each test, seen only as a Catalog.
template <class Factory>
class CatalogFixture : public ::testing::Test {
 protected:
  Catalog& catalog() { return *catalog_; }

 private:
  Factory factory_;
  std::unique_ptr<Catalog> catalog_ = factory_.make();
};

/// An image with unique bytes (sha256) and id.
inline core::ImageRecord make_image(std::int64_t created_at = 1700000000, std::string name = "photo.jpg") {
  static std::atomic<int> counter{0};
  core::ImageRecord r;
  r.id = core::new_id();
  r.sha256 = core::sha256_hex("image " + std::to_string(++counter) + " " + r.id);
  r.format = "jpeg";
  r.width = 640;
  r.height = 480;
  r.size = 12345;
  r.created_at = created_at;
  r.name = std::move(name);
  return r;
}

inline DerivativeRecord make_derivative(std::string key, std::string sha, std::int64_t size, std::int64_t used) {
  DerivativeRecord d;
  d.key = std::move(key);
  d.sha256 = std::move(sha);
  d.params = "w=" + std::to_string(size);
  d.format = "webp";
  d.width = 100;
  d.height = 50;
  d.size = size;
  d.created_at = 1000;
  d.last_used_at = used;
  return d;
}

/// The ids of every image `q` finds, in list order.
inline std::vector<std::string> search(Catalog& c, ImageQuery q) {
  q.limit = 1000;
  std::vector<std::string> ids;
  for (const auto& i : c.list_images(q).images) ids.push_back(i.id);
  return ids;
}

/// Calls `f(k)` for each k in 0..n-1, each on its own thread, all released at
/// one moment; returns what each call returned. A call that throws fails the
/// test (and leaves its result default).
template <class F>
auto run_together(int n, F f) {
  std::vector<decltype(f(0))> results(n);
  std::latch start(n);
  std::vector<std::thread> threads;
  for (int k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      start.arrive_and_wait();
      try {
        results[k] = f(k);
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace progimage::catalog::test_support
