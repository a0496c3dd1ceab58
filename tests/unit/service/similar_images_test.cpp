// The similar-image index kept beside the catalog: what another node stores
// arrives with a refresh, what it deletes leaves the answers, a query stays
// in its tenant, and a query out of range is refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "catalog/sqlite_catalog.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "service/similar_images.hpp"

namespace progimage::service {
namespace {

namespace fs = std::filesystem;

/// One image's hashes, as the service looks them up.
std::vector<std::uint64_t> hashes(std::uint64_t hash) { return {hash}; }

class SimilarImagesTest : public ::testing::Test {
 protected:
  SimilarImagesTest()
      : dir_(fs::temp_directory_path() / ("progimage_similar_" + core::new_id())), catalog_(dir_ / "catalog.db") {}
  ~SimilarImagesTest() override { fs::remove_all(dir_); }

  /// Stores an image the way another node would: in the catalog only.
  core::ImageRecord store(std::uint64_t phash, std::string tenant = "default") {
    core::ImageRecord r;
    r.id = core::new_id();
    r.tenant = std::move(tenant);
    r.sha256 = core::sha256_hex(r.id);
    r.format = "jpeg";
    r.width = r.height = 10;
    r.size = 100;
    r.created_at = core::unix_now();
    r.phash = phash;
    catalog_.insert_image(r);
    return r;
  }
  static std::vector<std::string> ids(const std::vector<SimilarImage>& found) {
    std::vector<std::string> out;
    for (const auto& f : found) out.push_back(f.image.id);
    return out;
  }

  fs::path dir_;
  catalog::SqliteCatalog catalog_;
};

TEST_F(SimilarImagesTest, RebuildFindsWhatTheCatalogHolds) {
  auto a = store(0b1111);
  auto b = store(0b0111);  // distance 1
  store(~0ULL);            // far away
  SimilarImages similar(catalog_);
  similar.rebuild();
  EXPECT_EQ(similar.size(), 3u);
  auto found = similar.near("default", hashes(*a.phash), {}, a.id);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].image.id, b.id);
  EXPECT_EQ(found[0].distance, 1);
}

TEST_F(SimilarImagesTest, RefreshAddsWhatOtherNodesStored) {
  SimilarImages similar(catalog_);
  similar.rebuild();
  auto later = store(77);
  EXPECT_TRUE(similar.near("default", hashes(77), {}).empty()) << "not refreshed yet";
  similar.refresh();
  EXPECT_EQ(ids(similar.near("default", hashes(77), {})), std::vector<std::string>{later.id});
}

TEST_F(SimilarImagesTest, AnImageDeletedElsewhereLeavesTheAnswerAndTheIndex) {
  auto a = store(5);
  auto b = store(4);
  SimilarImages similar(catalog_);
  similar.rebuild();
  catalog_.delete_image(b.id);
  EXPECT_TRUE(similar.near("default", hashes(5), {}, a.id).empty());
  EXPECT_EQ(similar.size(), 1u);
}

TEST_F(SimilarImagesTest, AnswersStayInTheirTenant) {
  auto mine = store(9, "alpha");
  auto theirs = store(9, "beta");
  SimilarImages similar(catalog_);
  similar.rebuild();
  EXPECT_EQ(ids(similar.near("alpha", hashes(9), {})), std::vector<std::string>{mine.id});
  EXPECT_EQ(ids(similar.near("beta", hashes(9), {})), std::vector<std::string>{theirs.id});
}

TEST_F(SimilarImagesTest, ThisNodesChangesShowAtOnce) {
  SimilarImages similar(catalog_);
  similar.rebuild();
  auto mine = store(3);
  similar.added(mine);
  EXPECT_EQ(ids(similar.near("default", hashes(3), {})), std::vector<std::string>{mine.id});
  similar.removed(mine.id);
  EXPECT_TRUE(similar.near("default", hashes(3), {}).empty());
  EXPECT_EQ(similar.hash_of(mine.id), std::nullopt);
}

TEST(SimilarQuery, OutOfRangeIsABadParameter) {
  for (auto q : {SimilarQuery{-1, 10}, SimilarQuery{kMaxSimilarDistance + 1, 10}, SimilarQuery{10, 0},
                 SimilarQuery{10, kMaxSimilarLimit + 1}}) {
    try {
      check_similar_query(q);
      ADD_FAILURE() << q.max_distance << " " << q.limit << " was accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    }
  }
  EXPECT_NO_THROW(check_similar_query({0, 1}));
  EXPECT_NO_THROW(check_similar_query({kMaxSimilarDistance, kMaxSimilarLimit}));
}

}  // namespace
}  // namespace progimage::service
