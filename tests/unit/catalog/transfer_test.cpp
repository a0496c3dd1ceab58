// Rows moved between catalogs as they are (transfer.hpp), on every route
// between the engines: what one catalog exports another imports, and it then
// answers as the first did (keys by hash, links, tags, jobs, hashes).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "catalog/catalog.hpp"
#include "catalog/transfer.hpp"
#include "catalog_factories.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

using namespace progimage;
using namespace progimage::catalog;
using namespace progimage::catalog::test_support;

namespace {

template <class From, class To>
struct Route {
  using Source = From;
  using Target = To;
};

using Routes = ::testing::Types<Route<SqliteFactory, PostgresFactory>, Route<PostgresFactory, SqliteFactory>,
                                Route<SqliteFactory, SqliteFactory>, Route<PostgresFactory, PostgresFactory>>;

struct RouteName {
  template <class R>
  static std::string GetName(int) {
    return std::string(R::Source::kName) + "_to_" + R::Target::kName;
  }
};

template <class R>
class TransferTest : public ::testing::Test {
 protected:
  Catalog& source() { return *source_; }
  Catalog& target() { return *target_; }

  /// Every row of every table, from `c`.
  static std::map<std::string, std::vector<TableRow>> everything(Catalog& c) {
    std::map<std::string, std::vector<TableRow>> out;
    for (const auto& t : transfer_tables()) out[std::string(t.name)] = c.export_rows(t, {}, 100000);
    return out;
  }

  /// Moves every table, `batch` rows at a time; returns the rows inserted.
  std::int64_t move_all(int batch = 3) {
    std::int64_t inserted = 0;
    for (const auto& t : transfer_tables()) {
      TableRow after;
      while (true) {
        auto rows = source().export_rows(t, after, batch);
        if (rows.empty()) break;
        inserted += target().import_rows(t, rows);
        after = rows.back();
      }
    }
    return inserted;
  }

  /// An installation in small: two tenants, a tagged image with a variant
  /// and a focus, a key, a link, a job with a finished item, usage, a quota,
  /// a derivative and a setting.
  void fill_source() {
    Catalog& c = source();
    image_ = make_image(1'700'000'000, "sunset beach.jpg");
    image_.tenant = "acme";
    image_.tags = {"beach", "sunset"};
    image_.description = "at the #beach";
    image_.focus = core::FocusPoint{0.25, 0.75};
    image_.phash = 0x8000'0000'dead'beefULL;  // above 2^63: kept as the same 64 bits
    image_.metadata_json = R"({"phash":"8000000deadbeef0"})";
    image_.variants = {{"thumb", "pending"}};
    c.insert_image(image_);
    other_ = make_image(1'700'000'100, "other.png");
    c.insert_image(other_);

    key_.id = core::new_id();
    key_.tenant = "acme";
    key_.role = "write";
    key_.name = "app";
    key_.prefix = "pk_abc";
    key_.hash = core::sha256_hex("secret " + key_.id);
    key_.rate_per_second = 2.5;
    key_.created_at = 1'700'000'000;
    c.insert_api_key(key_);

    link_.id = core::new_id();
    link_.tenant = "acme";
    link_.hash = core::sha256_hex("link " + link_.id);
    link_.created_at = 1'700'000'000;
    link_.expires_at = 1'900'000'000;
    link_.max_uploads = 3;
    link_.tags = {"from-link"};
    c.insert_upload_link(link_);

    JobSpec spec;
    spec.tenant = "acme";
    spec.params = "w=300";
    job_id_ = c.create_job(spec, {{ItemKind::image, image_.id}, {ItemKind::url, "https://example.com/a.png"}},
                           std::nullopt)
                  .id;
    for (const auto& item : c.claim_items("worker", 10, 30'000, 1'800'000'000'000))
      if (item.kind == ItemKind::image) c.complete_item(item.id, {.derivative_key = "k1"}, 1'800'000'000'000);

    UsageCounts one;
    one.requests = 3;
    one.bytes_out = 1000;
    c.add_usage({{"2026-12-01", "acme", key_.id, one}}, "2026-12-01");
    c.set_tenant_quota("acme", {1'000'000, 10}, false);
    auto d = make_derivative("deadbeef01", image_.sha256, 321, 1'700'000'050);
    d.tenant = "acme";
    c.put_derivative(d);
    secret_ = c.setting("callback_secret", "s3cr3t");
  }

  core::ImageRecord image_, other_;
  ApiKeyRecord key_;
  UploadLinkRecord link_;
  std::string job_id_, secret_;

 private:
  typename R::Source source_factory_;
  typename R::Target target_factory_;
  std::unique_ptr<Catalog> source_ = source_factory_.make();
  std::unique_ptr<Catalog> target_ = target_factory_.make();
};
TYPED_TEST_SUITE(TransferTest, Routes, RouteName);

}  // namespace

TYPED_TEST(TransferTest, EveryRowArrivesAsItWasAndAnswersAsBefore) {
  this->fill_source();
  Catalog& to = this->target();
  EXPECT_GT(this->move_all(), 0);
  EXPECT_EQ(this->everything(to), this->everything(this->source()));
  for (const auto& t : transfer_tables()) EXPECT_EQ(to.count_rows(t), this->source().count_rows(t)) << t.name;

  auto image = to.get_image(this->image_.id);
  ASSERT_TRUE(image);
  EXPECT_EQ(image->tenant, "acme");
  EXPECT_EQ(image->sha256, this->image_.sha256);
  EXPECT_EQ(image->created_at, this->image_.created_at);
  EXPECT_EQ(image->tags, this->image_.tags);
  EXPECT_EQ(image->phash, this->image_.phash);
  ASSERT_TRUE(image->focus);
  EXPECT_EQ(image->focus->x, 0.25);
  EXPECT_EQ(image->variants.at("thumb"), "pending");
  EXPECT_EQ(search(to, {.tags = {"beach"}}), std::vector<std::string>{this->image_.id});
  EXPECT_EQ(search(to, {.text = "sunset"}), std::vector<std::string>{this->image_.id});

  auto key = to.find_api_key(this->key_.hash);  // the same secret authenticates
  ASSERT_TRUE(key);
  EXPECT_EQ(key->id, this->key_.id);
  EXPECT_EQ(key->rate_per_second, 2.5);
  auto link = to.find_upload_link(this->link_.hash);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->max_uploads, 3);
  EXPECT_EQ(link->tags, std::vector<std::string>{"from-link"});

  auto job = to.get_job(this->job_id_);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->total, 2);
  EXPECT_EQ(job->done, 1);
  auto result = to.job_result(this->job_id_, 0);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->derivative_key, "k1");

  EXPECT_EQ(to.tenant_use("acme").images, 1);
  EXPECT_EQ(to.tenant_quota("acme")->max_images, 10);
  EXPECT_EQ(to.usage({.tenant = "acme"}).at(0).counts.requests, 3);
  EXPECT_TRUE(to.get_derivative("deadbeef01"));
  EXPECT_EQ(to.setting("callback_secret", "another"), this->secret_);  // callbacks stay signed alike
}

TYPED_TEST(TransferTest, ImportingAgainInsertsNothing) {
  this->fill_source();
  const auto first = this->move_all();
  EXPECT_GT(first, 0);
  EXPECT_EQ(this->move_all(), 0);
  EXPECT_EQ(this->move_all(7), 0);
  EXPECT_EQ(this->everything(this->target()), this->everything(this->source()));
}

TYPED_TEST(TransferTest, NewJobItemsAreNumberedAfterTheMovedOnes) {
  this->fill_source();
  this->move_all();
  Catalog& to = this->target();
  const auto tables = transfer_tables();
  const auto job_items =
      std::find_if(tables.begin(), tables.end(), [](const auto& t) { return t.name == "job_items"; });
  ASSERT_NE(job_items, tables.end());
  auto moved = to.export_rows(*job_items, {}, 1000);
  std::int64_t highest = 0;
  for (const auto& r : moved) highest = std::max(highest, std::get<std::int64_t>(r[0]));
  ASSERT_GT(highest, 0);
  JobSpec spec;
  spec.tenant = "acme";
  auto job = to.create_job(spec, {{ItemKind::url, "https://example.com/b.png"}}, std::nullopt);
  EXPECT_EQ(job.total, 1);
  auto items = to.claim_items("w", 10, 30'000, 1'900'000'000'000);
  bool found = false;
  for (const auto& i : items) {
    if (i.job_id != job.id) continue;
    found = true;
    EXPECT_GT(i.id, highest);
  }
  EXPECT_TRUE(found);
}

TYPED_TEST(TransferTest, ExportPagesInKeyOrder) {
  this->fill_source();
  const auto& tags = transfer_tables()[7];
  ASSERT_EQ(tags.name, "image_tags");
  auto all = this->source().export_rows(tags, {}, 100);
  ASSERT_EQ(all.size(), 2u);
  auto first = this->source().export_rows(tags, {}, 1);
  ASSERT_EQ(first.size(), 1u);
  auto second = this->source().export_rows(tags, first[0], 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0], all[0]);
  EXPECT_EQ(second[0], all[1]);
  EXPECT_LT(compare_keys(all[0], all[1], 2), 0);
  EXPECT_TRUE(this->source().export_rows(tags, all[1], 5).empty());
}

TYPED_TEST(TransferTest, ARowWhoseUniqueValueIsTakenIsLeftOut) {
  this->fill_source();
  this->move_all();
  const auto& keys = transfer_tables()[4];
  ASSERT_EQ(keys.name, "api_keys");
  auto rows = this->source().export_rows(keys, {}, 10);
  ASSERT_EQ(rows.size(), 1u);
  rows[0][0] = std::string("another-id");  // same secret hash, another key
  EXPECT_EQ(this->target().import_rows(keys, rows), 0);
  EXPECT_EQ(this->target().count_rows(keys), 1);
}

TYPED_TEST(TransferTest, AHashKeptInTheMetadataOnlyReachesTheSimilarIndex) {
  // Images stored before SQLite's phash column existed have the hash in their
  // metadata only; the target's scan_image_hashes must find it either way.
  auto legacy = make_image(1'700'000'000, "old.jpg");
  legacy.metadata_json = R"({"phash":"0123456789abcdef"})";
  this->source().insert_image(legacy);
  this->move_all();
  std::map<std::string, std::uint64_t> hashes;
  this->target().scan_image_hashes(0, [&](ImageHash&& h) { hashes[h.id] = h.phash; });
  EXPECT_EQ(hashes[legacy.id], 0x0123456789abcdefULL);
  auto image = this->target().get_image(legacy.id);
  ASSERT_TRUE(image);
  EXPECT_EQ(image->phash, 0x0123456789abcdefULL);
}

TEST(TransferTables, RowsMoveAfterWhatTheyReferTo) {
  std::vector<std::string> names;
  for (const auto& t : transfer_tables()) names.push_back(std::string(t.name));
  auto at = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_LT(at("images"), at("image_tags"));
  EXPECT_LT(at("images"), at("image_variants"));
  EXPECT_LT(at("jobs"), at("job_items"));
  EXPECT_EQ(std::find(names.begin(), names.end(), "nodes"), names.end());
}
