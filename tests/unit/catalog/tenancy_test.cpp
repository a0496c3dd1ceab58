// Tenants in the catalog, against the Catalog interface (every backend of
// CatalogFactories): dedupe per tenant with shared blobs, totals and quotas
// checked in the storing transaction, managed keys, usage and tag counts.
#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "catalog/catalog.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"

using namespace progimage;
using namespace progimage::catalog;
using namespace progimage::catalog::test_support;

namespace {

template <class Factory>
class TenancyTest : public CatalogFixture<Factory> {};
TYPED_TEST_SUITE(TenancyTest, CatalogFactories, FactoryName);

core::ImageRecord image_of(const std::string& tenant, const std::string& sha256 = {}, std::int64_t size = 100) {
  auto r = make_image();
  r.tenant = tenant;
  if (!sha256.empty()) r.sha256 = sha256;
  r.size = size;
  return r;
}

ApiKeyRecord key_of(const std::string& id, const std::string& tenant, const std::string& hash) {
  ApiKeyRecord k;
  k.id = id;
  k.tenant = tenant;
  k.role = "write";
  k.name = "name of " + id;
  k.prefix = "pik_" + id.substr(0, 4);
  k.hash = hash;
  k.created_at = 1700000000;
  return k;
}

}  // namespace

TYPED_TEST(TenancyTest, SameBytesAreADuplicateOnlyWithinATenant) {
  auto& c = this->catalog();
  const std::string sha = core::sha256_hex("shared bytes");
  auto a = c.insert_image(image_of("a", sha));
  EXPECT_FALSE(a.duplicate);
  auto again = c.insert_image(image_of("a", sha));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.image.id, a.image.id);
  auto b = c.insert_image(image_of("b", sha));
  EXPECT_FALSE(b.duplicate) << "another tenant's bytes are never a duplicate";
  EXPECT_NE(b.image.id, a.image.id);
  EXPECT_EQ(b.image.tenant, "b");

  auto gone = c.delete_image(b.image.id);
  EXPECT_TRUE(gone.found);
  EXPECT_FALSE(gone.blob_unreferenced) << "tenant a still uses the blob";
  auto last = c.delete_image(a.image.id);
  EXPECT_TRUE(last.blob_unreferenced);
}

TYPED_TEST(TenancyTest, SearchesStatsAndTagsFilterByTenant) {
  auto& c = this->catalog();
  auto a = image_of("a");
  a.tags = {"sea", "sun"};
  auto b = image_of("b");
  b.tags = {"sea"};
  c.insert_image(a);
  c.insert_image(b);
  ImageQuery only_a;
  only_a.tenant = "a";
  auto page = c.list_images(only_a);
  ASSERT_EQ(page.images.size(), 1u);
  EXPECT_EQ(page.images[0].id, a.id);
  EXPECT_EQ(c.list_images({}).images.size(), 2u);
  EXPECT_EQ(c.stats(0, "a").images, 1);
  EXPECT_EQ(c.stats(0, {}).images, 2);
  EXPECT_EQ(c.tag_counts("b", 10), (std::vector<std::pair<std::string, std::int64_t>>{{"sea", 1}}));
  EXPECT_EQ(c.tag_counts({}, 10), (std::vector<std::pair<std::string, std::int64_t>>{{"sea", 2}, {"sun", 1}}));
  EXPECT_EQ(c.tag_counts({}, 1).size(), 1u);
}

TYPED_TEST(TenancyTest, TotalsFollowInsertsAndDeletes) {
  auto& c = this->catalog();
  auto one = c.insert_image(image_of("t", {}, 300)).image;
  c.insert_image(image_of("t", {}, 200));
  c.insert_image(image_of("other", {}, 999));
  c.insert_image(image_of("t", one.sha256, 300));  // a duplicate stores nothing more
  EXPECT_EQ(c.tenant_use("t").images, 2);
  EXPECT_EQ(c.tenant_use("t").bytes, 500);
  c.delete_image(one.id);
  EXPECT_EQ(c.tenant_use("t").images, 1);
  EXPECT_EQ(c.tenant_use("t").bytes, 200);
  EXPECT_EQ(c.tenant_use("nobody").images, 0);
}

TYPED_TEST(TenancyTest, QuotaIsCheckedInTheStoringTransaction) {
  auto& c = this->catalog();
  EXPECT_FALSE(c.tenant_quota("q"));
  c.set_tenant_quota("q", {1000, 2}, false);
  c.set_tenant_quota("q", {5, 5}, true);  // only_if_absent keeps the first
  ASSERT_TRUE(c.tenant_quota("q"));
  EXPECT_EQ(c.tenant_quota("q")->max_bytes, 1000);
  EXPECT_EQ(c.tenant_quota("q")->max_images, 2);

  auto first = c.insert_image(image_of("q", {}, 600)).image;
  try {
    c.insert_image(image_of("q", {}, 600));
    ADD_FAILURE() << "1200 bytes passed a 1000-byte quota";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::quota_exceeded);
    EXPECT_NE(std::string(e.what()).find("1000 bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.tenant_use("q").images, 1) << "the refused image left nothing";
  // A duplicate adds nothing, so it is never refused.
  EXPECT_TRUE(c.insert_image(image_of("q", first.sha256, 600)).duplicate);
  c.insert_image(image_of("q", {}, 100));
  EXPECT_THROW(c.insert_image(image_of("q", {}, 1)), core::Error) << "two images at most";
  // Other tenants are not limited by it.
  c.insert_image(image_of("free", {}, 5000));
}

TYPED_TEST(TenancyTest, ConcurrentInsertsNeverPassTheQuota) {
  auto& c = this->catalog();
  c.set_tenant_quota("race", {0, 5}, false);
  constexpr int kThreads = 8;
  std::atomic<int> stored{0}, refused{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 3; ++i) {
        try {
          c.insert_image(image_of("race"));
          ++stored;
        } catch (const core::Error&) {
          ++refused;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(stored.load(), 5);
  EXPECT_EQ(refused.load(), kThreads * 3 - 5);
  EXPECT_EQ(c.tenant_use("race").images, 5);
}

TEST(QuotaRefusal, SaysWhichLimitAndWhatToDo) {
  EXPECT_FALSE(quota_refusal({0, 0}, {1'000'000, 1000}, 1'000'000)) << "0 is no limit";
  EXPECT_FALSE(quota_refusal({100, 2}, {50, 1}, 50)) << "exactly at the limit fits";
  auto images = quota_refusal({0, 2}, {0, 2}, 1);
  ASSERT_TRUE(images);
  EXPECT_NE(images->find("quota of 2 images"), std::string::npos) << *images;
  auto bytes = quota_refusal({100, 0}, {50, 1}, 51);
  ASSERT_TRUE(bytes);
  EXPECT_NE(bytes->find("51 bytes"), std::string::npos) << *bytes;
  EXPECT_NE(bytes->find("delete images"), std::string::npos) << *bytes;
}

TYPED_TEST(TenancyTest, ManagedKeysAreFoundByHashUntilRevoked) {
  auto& c = this->catalog();
  EXPECT_FALSE(c.has_api_keys());
  auto k1 = key_of("key_one", "a", "hash-1");
  k1.rate_per_second = 2.5;
  k1.rate_burst = 10;
  c.insert_api_key(k1);
  c.insert_api_key(key_of("key_two", "b", "hash-2"));
  EXPECT_TRUE(c.has_api_keys());
  auto found = c.find_api_key("hash-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "key_one");
  EXPECT_EQ(found->tenant, "a");
  EXPECT_EQ(found->role, "write");
  EXPECT_EQ(found->rate_per_second, 2.5);
  EXPECT_EQ(found->rate_burst, 10);
  EXPECT_FALSE(found->last_used_at);
  EXPECT_FALSE(c.find_api_key("hash-3"));
  EXPECT_EQ(c.list_api_keys("a").size(), 1u);
  EXPECT_EQ(c.list_api_keys({}).size(), 2u);

  c.mark_keys_used({{"key_one", 1700000500}});
  c.mark_keys_used({{"key_one", 1700000100}});  // an older report never moves it back
  EXPECT_EQ(c.find_api_key("hash-1")->last_used_at, 1700000500);

  EXPECT_FALSE(c.revoke_api_key("b", "key_one", 1700001000)) << "another tenant's key";
  auto revoked = c.revoke_api_key("a", "key_one", 1700001000);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->id, "key_one");
  EXPECT_FALSE(c.find_api_key("hash-1"));
  EXPECT_FALSE(c.revoke_api_key("a", "key_one", 1700001001)) << "revoked once";
  EXPECT_EQ(c.list_api_keys({}).size(), 1u);
  EXPECT_TRUE(c.revoke_api_key({}, "key_two", 1700001000)) << "any tenant's, for operators";
  EXPECT_TRUE(c.has_api_keys()) << "revoked keys still close an open server";
}

TYPED_TEST(TenancyTest, UsageAddsUpByDayTenantAndClient) {
  auto& c = this->catalog();
  c.insert_image(image_of("a", {}, 700));
  UsageCounts one{.requests = 1, .bytes_in = 10, .bytes_out = 20, .transforms = 1, .cache_hits = 0,
                  .cache_misses = 1, .uploads = 0};
  c.add_usage({{"2026-12-01", "a", "key_x", one}, {"2026-12-01", "b", "key_y", one}}, "2026-12-01");
  c.add_usage({{"2026-12-01", "a", "key_x", one}, {"2026-12-02", "a", "", one}}, "2026-12-02");
  auto rows = c.usage({"a", "", "2026-12-01", "2026-12-31"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].day, "2026-12-01");
  EXPECT_EQ(rows[0].client, "key_x");
  EXPECT_EQ(rows[0].counts.requests, 2);
  EXPECT_EQ(rows[0].counts.bytes_out, 40);
  EXPECT_EQ(rows[1].client, "");
  EXPECT_EQ(c.usage({"", "key_y", "2026-12-01", "2026-12-01"}).size(), 1u);
  EXPECT_TRUE(c.usage({"a", "", "2026-12-03", "2026-12-31"}).empty());
  auto stored = c.stored_by_day({"a", "", "2026-12-01", "2026-12-31"});
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].day, "2026-12-02");
  EXPECT_EQ(stored[1].use.bytes, 700);
  EXPECT_EQ(stored[1].use.images, 1);
}
