// Upload links and resumable uploads, against the Catalog interface: every
// test runs once per backend in CatalogFactories (catalog_factories.hpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "catalog/catalog.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

using namespace progimage;
using namespace progimage::catalog;
using namespace progimage::catalog::test_support;

namespace {

template <class Factory>
class UploadLinkTest : public CatalogFixture<Factory> {};
TYPED_TEST_SUITE(UploadLinkTest, CatalogFactories, FactoryName);

template <class Factory>
class ResumableUploadTest : public CatalogFixture<Factory> {};
TYPED_TEST_SUITE(ResumableUploadTest, CatalogFactories, FactoryName);

constexpr std::int64_t kNow = 1'800'000'000;

UploadLinkRecord make_link(std::string tenant = "default", std::int64_t max_uploads = 1,
                           std::int64_t expires_at = kNow + 3600, std::int64_t created_at = kNow) {
  UploadLinkRecord l;
  l.id = core::new_id();
  l.tenant = std::move(tenant);
  l.hash = core::sha256_hex("token " + l.id);
  l.created_at = created_at;
  l.expires_at = expires_at;
  l.max_uploads = max_uploads;
  return l;
}

ResumableUploadRecord make_resumable(std::int64_t expires_at = kNow + 86400, std::string link_id = {}) {
  ResumableUploadRecord u;
  u.id = core::sha256_hex("upload " + core::new_id());
  u.tenant = "acme";
  u.length = 5'000'000'000;  // beyond 32 bits
  u.metadata = "filename cGhvdG8uanBn,tags YSxi";
  u.link_id = std::move(link_id);
  u.created_at = kNow;
  u.expires_at = expires_at;
  return u;
}

}  // namespace

TYPED_TEST(UploadLinkTest, InsertAndFindRoundTripEveryField) {
  Catalog& c = this->catalog();
  auto link = make_link("acme", 7);
  link.max_bytes = 5'000'000'000;
  link.formats = {"jpeg", "png"};
  link.tags = {"from-link", "b"};
  c.insert_upload_link(link);

  auto got = c.find_upload_link(link.hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, link.id);
  EXPECT_EQ(got->tenant, "acme");
  EXPECT_EQ(got->hash, link.hash);
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->expires_at, kNow + 3600);
  EXPECT_EQ(got->max_uploads, 7);
  EXPECT_EQ(got->uses, 0);
  EXPECT_EQ(got->max_bytes, 5'000'000'000);
  EXPECT_EQ(got->formats, link.formats);
  EXPECT_EQ(got->tags, link.tags);
  EXPECT_FALSE(got->revoked_at);

  auto plain = make_link();
  c.insert_upload_link(plain);
  auto p = c.find_upload_link(plain.hash);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->max_bytes);
  EXPECT_TRUE(p->formats.empty());
  EXPECT_TRUE(p->tags.empty());
  EXPECT_FALSE(c.find_upload_link(core::sha256_hex("no such token")));
  auto by_id = c.get_upload_link(link.id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->hash, link.hash);
  EXPECT_EQ(by_id->formats, link.formats);
  EXPECT_FALSE(c.get_upload_link("no-such-id"));
}

TYPED_TEST(UploadLinkTest, TokenHashesAreUnique) {
  Catalog& c = this->catalog();
  auto link = make_link();
  c.insert_upload_link(link);
  auto twin = make_link();
  twin.hash = link.hash;
  EXPECT_ANY_THROW(c.insert_upload_link(twin));
}

TYPED_TEST(UploadLinkTest, UsesAreTakenUpToTheMaximumAndGivenBack) {
  Catalog& c = this->catalog();
  auto link = make_link("default", 2);
  c.insert_upload_link(link);
  auto first = c.take_upload_link_use(link.hash, kNow);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->uses, 1);
  auto second = c.take_upload_link_use(link.hash, kNow);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->uses, 2);
  EXPECT_FALSE(c.take_upload_link_use(link.hash, kNow)) << "a third use of a 2-use link";
  EXPECT_EQ(c.find_upload_link(link.hash)->uses, 2);

  c.return_upload_link_use(link.id);
  EXPECT_EQ(c.find_upload_link(link.hash)->uses, 1);
  EXPECT_TRUE(c.take_upload_link_use(link.hash, kNow)) << "the use given back is free again";
  // Giving back never goes below zero.
  for (int i = 0; i < 4; ++i) c.return_upload_link_use(link.id);
  EXPECT_EQ(c.find_upload_link(link.hash)->uses, 0);
  EXPECT_FALSE(c.take_upload_link_use(core::sha256_hex("unknown"), kNow));
}

TYPED_TEST(UploadLinkTest, ConcurrentTakersNeverExceedTheMaximum) {
  Catalog& c = this->catalog();
  auto link = make_link("default", 5);
  c.insert_upload_link(link);
  auto taken = run_together(20, [&](int) { return c.take_upload_link_use(link.hash, kNow).has_value(); });
  EXPECT_EQ(std::count(taken.begin(), taken.end(), true), 5);
  EXPECT_EQ(c.find_upload_link(link.hash)->uses, 5);
}

TYPED_TEST(UploadLinkTest, ExpiredAndRevokedLinksGiveNoUse) {
  Catalog& c = this->catalog();
  auto link = make_link("default", 10, kNow + 60);
  c.insert_upload_link(link);
  EXPECT_TRUE(c.take_upload_link_use(link.hash, kNow + 59));
  EXPECT_FALSE(c.take_upload_link_use(link.hash, kNow + 60)) << "expires_at itself is past the end";

  auto revoked = make_link("default", 10);
  c.insert_upload_link(revoked);
  EXPECT_TRUE(c.revoke_upload_link("default", revoked.id, kNow + 5));
  EXPECT_FALSE(c.take_upload_link_use(revoked.hash, kNow + 6));
  auto got = c.find_upload_link(revoked.hash);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->revoked_at, kNow + 5);
  // Revoking again keeps the first time.
  EXPECT_TRUE(c.revoke_upload_link("default", revoked.id, kNow + 50));
  EXPECT_EQ(c.find_upload_link(revoked.hash)->revoked_at, kNow + 5);
}

TYPED_TEST(UploadLinkTest, ListAndRevokeStayInTheirTenant) {
  Catalog& c = this->catalog();
  auto a1 = make_link("a", 1, kNow + 3600, kNow);
  auto a2 = make_link("a", 1, kNow + 3600, kNow + 10);
  auto b1 = make_link("b", 1, kNow + 3600, kNow + 5);
  for (const auto& l : {a1, a2, b1}) c.insert_upload_link(l);

  auto ids = [](const UploadLinkPage& page) {
    std::vector<std::string> out;
    for (const auto& l : page.links) out.push_back(l.id);
    return out;
  };
  auto list = [&](const std::string& tenant) { return c.list_upload_links(tenant, "", 100); };
  EXPECT_EQ(ids(list("a")), (std::vector<std::string>{a2.id, a1.id})) << "newest first";
  EXPECT_EQ(ids(list("b")), (std::vector<std::string>{b1.id}));
  EXPECT_EQ(ids(list("")), (std::vector<std::string>{a2.id, b1.id, a1.id}));
  EXPECT_TRUE(list("c").links.empty());
  EXPECT_TRUE(list("a").next_cursor.empty());

  EXPECT_FALSE(c.revoke_upload_link("b", a1.id, kNow)) << "another tenant's link";
  EXPECT_FALSE(c.find_upload_link(a1.hash)->revoked_at);
  EXPECT_FALSE(c.revoke_upload_link("a", "no-such-link", kNow));
  EXPECT_TRUE(c.revoke_upload_link("", b1.id, kNow)) << "every tenant's";
  // Revoked links stay listed (with their revocation).
  auto b = list("b").links;
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].revoked_at, kNow);
}

TYPED_TEST(UploadLinkTest, ListPagesByCursorWithoutRepeatsOrGaps) {
  Catalog& c = this->catalog();
  std::vector<std::string> newest_first;
  // Two links per second, so that the cursor must order by id within a second.
  for (int i = 0; i < 9; ++i) c.insert_upload_link(make_link("p", 1, kNow + 3600, kNow + i / 2));
  for (const auto& l : c.list_upload_links("p", "", 1000).links) newest_first.push_back(l.id);
  ASSERT_EQ(newest_first.size(), 9u);

  std::vector<std::string> paged;
  std::string cursor;
  int pages = 0;
  do {
    auto page = c.list_upload_links("p", cursor, 4);
    for (const auto& l : page.links) paged.push_back(l.id);
    cursor = page.next_cursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged, newest_first);
  // A link made meanwhile is newer than the cursor: it does not shift the pages after it.
  auto first = c.list_upload_links("p", "", 4);
  c.insert_upload_link(make_link("p", 1, kNow + 3600, kNow + 100));
  auto second = c.list_upload_links("p", first.next_cursor, 4);
  ASSERT_EQ(second.links.size(), 4u);
  EXPECT_EQ(second.links.front().id, newest_first[4]);
  EXPECT_THROW(c.list_upload_links("p", "garbage", 4), core::Error);
}

TEST(UploadLinkRules, RefusalSaysWhyALinkTakesNoMoreUploads) {
  UploadLinkRecord link = make_link("default", 2, kNow + 10);
  EXPECT_FALSE(upload_link_refusal(link, kNow));
  link.uses = 2;
  ASSERT_TRUE(upload_link_refusal(link, kNow));
  EXPECT_NE(upload_link_refusal(link, kNow)->find("used up"), std::string::npos);
  link.uses = 1;
  ASSERT_TRUE(upload_link_refusal(link, kNow + 10));
  EXPECT_NE(upload_link_refusal(link, kNow + 10)->find("expired"), std::string::npos);
  link.revoked_at = kNow;
  ASSERT_TRUE(upload_link_refusal(link, kNow));
  EXPECT_NE(upload_link_refusal(link, kNow)->find("revoked"), std::string::npos);
}

TYPED_TEST(ResumableUploadTest, InsertGetFinishAndDelete) {
  Catalog& c = this->catalog();
  auto u = make_resumable(kNow + 100, "link1");
  c.insert_resumable_upload(u);
  auto got = c.get_resumable_upload(u.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->tenant, "acme");
  EXPECT_EQ(got->length, 5'000'000'000);
  EXPECT_EQ(got->metadata, u.metadata);
  EXPECT_EQ(got->link_id, "link1");
  EXPECT_EQ(got->created_at, kNow);
  EXPECT_EQ(got->expires_at, kNow + 100);
  EXPECT_EQ(got->image_id, "");

  c.finish_resumable_upload(u.id, "img123");
  EXPECT_EQ(c.get_resumable_upload(u.id)->image_id, "img123");

  auto keyed = make_resumable();
  c.insert_resumable_upload(keyed);
  EXPECT_EQ(c.get_resumable_upload(keyed.id)->link_id, "") << "created with a key";

  EXPECT_TRUE(c.delete_resumable_upload(u.id));
  EXPECT_FALSE(c.get_resumable_upload(u.id));
  EXPECT_FALSE(c.delete_resumable_upload(u.id));
  EXPECT_TRUE(c.get_resumable_upload(keyed.id));
}

TYPED_TEST(ResumableUploadTest, ExpiredOnesComeOldestFirstUpToTheMaximum) {
  Catalog& c = this->catalog();
  auto late = make_resumable(kNow + 30);
  auto early = make_resumable(kNow + 10);
  auto middle = make_resumable(kNow + 20);
  auto alive = make_resumable(kNow + 1000);
  for (const auto& u : {late, early, middle, alive}) c.insert_resumable_upload(u);

  auto ids = [](const std::vector<ResumableUploadRecord>& v) {
    std::vector<std::string> out;
    for (const auto& u : v) out.push_back(u.id);
    return out;
  };
  EXPECT_EQ(ids(c.expired_resumable_uploads(kNow + 30, 10)), (std::vector<std::string>{early.id, middle.id, late.id}));
  EXPECT_EQ(ids(c.expired_resumable_uploads(kNow + 30, 2)), (std::vector<std::string>{early.id, middle.id}));
  EXPECT_TRUE(c.expired_resumable_uploads(kNow + 9, 10).empty());
}
