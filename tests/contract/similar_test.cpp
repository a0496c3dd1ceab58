// Contract tests of similar images (issue 11, point 9): GET
// /v1/images/{id}/similar and POST /v1/similar find a resized, recompressed,
// slightly cropped (up to 5%, either way) or recoloured copy and not an unrelated photo, never
// across tenants, without storing anything for a POST; deletes leave the
// answers and the index is rebuilt from the catalog at start.
#include <boost/json.hpp>

#include <set>

#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

const std::string kOperator = "operator-key-0123456789";
const std::string kAlpha = "alpha-admin-key-0123456789";
const std::string kAlphaRead = "alpha-read-key-0123456789";
const std::string kBeta = "beta-admin-key-0123456789";

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

std::string photo(const char* path) { return read_file(testdata_dir() / path); }

/// A photograph and pictures that have nothing to do with it.
const char* const kPhoto = "exif-orientation/Landscape_1.jpg";
const char* const kUnrelated[] = {"exif-samples/jpg/Canon_PowerShot_S40.jpg", "exif-samples/jpg/gps/DSCN0010.jpg",
                                  "sharp-fixtures/gamma_dalai_lama_gray.jpg"};

struct Found {
  std::string id;
  int distance;
};

/// The matches of a similar-image answer, in its order; fails the test on another status.
std::vector<Found> matches(const Response& r) {
  std::vector<Found> out;
  auto j = r.json();
  if (r.status != 200 || !j) {
    ADD_FAILURE() << r.describe();
    return out;
  }
  for (const auto& m : j->at("images").as_array())
    out.push_back({jstring(m, "image.id"), static_cast<int>(jint(m, "distance"))});
  return out;
}

std::set<std::string> ids_of(const std::vector<Found>& found) {
  std::set<std::string> ids;
  for (const auto& f : found) ids.insert(f.id);
  return ids;
}

class SimilarTest : public SharedServerTest<SimilarTest> {
 public:
  static ServerOptions server_options() {
    return {.args = {"--workers", "0", "--api-key", kOperator + ":admin:*", "--api-key", kAlpha + ":admin:alpha",
                     "--api-key", kAlphaRead + ":read:alpha", "--api-key", kBeta + ":admin:beta"}};
  }

 protected:
  static std::string upload_as(const std::string& key, const std::string& bytes) {
    auto up = upload_raw(http(), bytes, {}, "application/octet-stream", bearer(key));
    // 200: another test of the suite stored the same photo already.
    EXPECT_TRUE(up.response.status == 201 || up.response.status == 200) << up.response.describe();
    return up.id;
  }
  static std::vector<Found> similar_of(const std::string& key, const std::string& id, const std::string& query = {}) {
    return matches(http().get("/v1/images/" + id + "/similar" + query, bearer(key)));
  }
  static std::int64_t images_of(const std::string& key) {
    auto stats = http().get("/v1/stats", bearer(key)).json();
    return stats ? jint(*stats, "images") : -1;
  }
};

TEST_F(SimilarTest, FindsChangedCopiesNearestFirstAndNoUnrelatedPhoto) {
  const auto original = photo(kPhoto);
  const auto id = upload_as(kAlpha, original);
  const std::map<std::string, std::string> copies = {
      {"half size, JPEG q60", reencode(original, 0.5, ".jpg[Q=60]")},
      {"300 px wide WebP", reencode(original, 300.0 / 1800, ".webp[Q=50]")},
      {"2.5% cropped off each side", reencode(original, 0.4, ".png", 0.025)},
      {"10% brighter", reencode(original, 0.4, ".jpg[Q=85]", 0, 1.1)},
  };
  std::map<std::string, std::string> copy_ids;
  for (const auto& [what, bytes] : copies) copy_ids[what] = upload_as(kAlpha, bytes);
  std::set<std::string> unrelated;
  for (const char* p : kUnrelated) unrelated.insert(upload_as(kAlpha, photo(p)));

  const auto found = similar_of(kAlpha, id);
  const auto ids = ids_of(found);
  for (const auto& [what, copy] : copy_ids) EXPECT_TRUE(ids.count(copy)) << what << " was not found";
  for (const auto& other : unrelated) EXPECT_FALSE(ids.count(other)) << "an unrelated photo matched: " << other;
  EXPECT_FALSE(ids.count(id)) << "the image itself is not among its neighbours";
  for (std::size_t i = 0; i < found.size(); ++i) {
    EXPECT_LE(found[i].distance, 10);
    if (i > 0) EXPECT_LE(found[i - 1].distance, found[i].distance) << "nearest first";
  }

  // A copy finds the original too, and limit and max_distance narrow the answer.
  EXPECT_TRUE(ids_of(similar_of(kAlpha, copy_ids.begin()->second)).count(id));
  EXPECT_EQ(similar_of(kAlpha, id, "?limit=1").size(), 1u);
  for (const auto& f : similar_of(kAlpha, id, "?max_distance=2")) EXPECT_LE(f.distance, 2);
  // The answer carries the image object.
  auto r = http().get("/v1/images/" + id + "/similar?limit=1", bearer(kAlphaRead));
  ASSERT_EQ(r.status, 200) << r.describe();
  const auto answer = r.json();
  const auto& first = answer->at("images").as_array().at(0);
  EXPECT_EQ(jstring(first, "image.id"), found.front().id) << r.body;
  EXPECT_EQ(jstring(first, "image.url"), "/v1/images/" + found.front().id) << r.body;
}

// A crop moves every frequency of the hash; the search's crop guesses find a
// copy cut by up to 5% on any side, whether the copy is the one sent (a
// check before upload) or the one stored (asking about the original).
TEST_F(SimilarTest, FindsCopiesCroppedByUpToFivePercentEitherWay) {
  const auto original = photo("vips-formats/sample.jpg");
  const std::map<std::string, Sides> crops = {
      {"5% off the left", {.left = 0.05}},
      {"5% off the bottom", {.bottom = 0.05}},
      {"5% off the left and the top", {.left = 0.05, .top = 0.05}},
      {"3% off the right", {.right = 0.03}},
  };
  const auto id = upload_as(kBeta, original);
  for (const auto& [what, cut] : crops) {
    const auto copy = crop_sides(original, cut, ".jpg[Q=85]");
    auto sent = matches(http().request("POST", "/v1/similar", copy, bearer(kBeta)));
    EXPECT_TRUE(ids_of(sent).count(id)) << what << ": the stored original was not found";
    for (const auto& f : sent) EXPECT_LE(f.distance, 10);
    const auto copy_id = upload_as(kBeta, copy);
    EXPECT_TRUE(ids_of(similar_of(kBeta, id)).count(copy_id)) << what << ": the stored copy was not found";
  }
  // Unrelated photos stay out of the wider search too.
  const auto other = upload_as(kBeta, photo(kUnrelated[0]));
  EXPECT_FALSE(ids_of(similar_of(kBeta, id)).count(other));
}

TEST_F(SimilarTest, NeverCrossesTenants) {
  const auto original = photo("exif-orientation/Portrait_1.jpg");
  const auto alpha_id = upload_as(kAlpha, original);
  const auto beta_copy = upload_as(kBeta, reencode(original, 0.5, ".jpg[Q=70]"));
  const auto beta_same = upload_as(kBeta, original);  // the same bytes, another tenant

  auto alpha_sees = ids_of(similar_of(kAlpha, alpha_id));
  EXPECT_FALSE(alpha_sees.count(beta_copy));
  EXPECT_FALSE(alpha_sees.count(beta_same));
  auto beta_sees = ids_of(similar_of(kBeta, beta_copy));
  EXPECT_TRUE(beta_sees.count(beta_same));
  EXPECT_FALSE(beta_sees.count(alpha_id));
  // An operator asking about alpha's image gets alpha's neighbours only.
  EXPECT_FALSE(ids_of(similar_of(kOperator, alpha_id)).count(beta_copy));

  // Another tenant's id answers as an id that never existed.
  auto probe = http().get("/v1/images/" + alpha_id + "/similar", bearer(kBeta));
  auto never = http().get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA/similar", bearer(kBeta));
  EXPECT_EQ(probe.status, 404) << probe.describe();
  EXPECT_EQ(never.status, 404) << never.describe();
  EXPECT_EQ(jstring(*probe.json(), "error.code"), jstring(*never.json(), "error.code"));

  // A check before upload looks in the caller's tenant only.
  auto checked = matches(http().request("POST", "/v1/similar", reencode(original, 0.3, ".webp"), bearer(kAlpha)));
  EXPECT_TRUE(ids_of(checked).count(alpha_id));
  EXPECT_FALSE(ids_of(checked).count(beta_copy));
  EXPECT_FALSE(ids_of(checked).count(beta_same));
}

TEST_F(SimilarTest, PostFindsStoredImagesAndStoresNothing) {
  const auto original = photo("exif-samples/jpg/gps/DSCN0010.jpg");
  const auto id = upload_as(kAlpha, original);
  const auto stored_before = images_of(kAlpha);
  const auto candidate = reencode(original, 0.5, ".jpg[Q=50]");

  auto raw = matches(http().request("POST", "/v1/similar", candidate, bearer(kAlphaRead)));
  EXPECT_TRUE(ids_of(raw).count(id)) << "raw body";
  auto multipart = matches(http().post_multipart("/v1/similar", {{"file", candidate, "copy.jpg", "image/jpeg"}},
                                                 bearer(kAlphaRead)));
  EXPECT_TRUE(ids_of(multipart).count(id)) << "multipart body";
  Headers json_headers = bearer(kAlphaRead);
  json_headers.emplace("Content-Type", "application/json");
  auto data = matches(http().request(
      "POST", "/v1/similar", json::serialize(json::object{{"data", base64(candidate)}}), json_headers));
  EXPECT_TRUE(ids_of(data).count(id)) << "JSON data body";
  // The identical bytes are at distance 0, first.
  auto same = matches(http().request("POST", "/v1/similar", original, bearer(kAlphaRead)));
  ASSERT_FALSE(same.empty());
  EXPECT_EQ(same.front().id, id);
  EXPECT_EQ(same.front().distance, 0);

  EXPECT_EQ(images_of(kAlpha), stored_before) << "POST /v1/similar stored an image";
}

TEST_F(SimilarTest, DeletedImagesLeaveTheAnswers) {
  const auto original = photo("exif-samples/jpg/Canon_PowerShot_S40.jpg");
  const auto id = upload_as(kAlpha, original);
  const auto copy = upload_as(kAlpha, reencode(original, 0.5, ".webp"));
  ASSERT_TRUE(ids_of(similar_of(kAlpha, id)).count(copy));
  auto del = http().request("DELETE", "/v1/images/" + copy, {}, bearer(kAlpha));
  ASSERT_EQ(del.status, 204) << del.describe();
  EXPECT_FALSE(ids_of(similar_of(kAlpha, id)).count(copy));
  EXPECT_FALSE(ids_of(matches(http().request("POST", "/v1/similar", original, bearer(kAlpha)))).count(copy));
}

TEST_F(SimilarTest, RefusesBadQueriesAndBadBodiesClearly) {
  const auto id = upload_as(kAlpha, photo("sharp-fixtures/gamma_dalai_lama_gray.jpg"));
  const auto stored_before = images_of(kAlpha);
  for (const char* query : {"?max_distance=33", "?max_distance=-1", "?max_distance=ten", "?limit=0", "?limit=101",
                            "?near=1"}) {
    auto r = http().get("/v1/images/" + id + "/similar" + query, bearer(kAlpha));
    EXPECT_EQ(r.status, 400) << query << ": " << r.describe();
    EXPECT_EQ(jstring(*r.json(), "error.code"), "bad_parameter") << query;
  }
  auto junk = http().request("POST", "/v1/similar", std::string(5000, 'x'), bearer(kAlpha));
  EXPECT_EQ(junk.status, 415) << junk.describe();
  auto empty = http().request("POST", "/v1/similar", "", bearer(kAlpha));
  EXPECT_EQ(empty.status, 415) << empty.describe();
  auto truncated = photo(kPhoto).substr(0, 3000);
  auto cut = http().request("POST", "/v1/similar", truncated, bearer(kAlpha));
  EXPECT_GE(cut.status, 400) << cut.describe();
  EXPECT_LT(cut.status, 500) << cut.describe();
  auto two = http().post_multipart("/v1/similar",
                                   {{"a", photo(kPhoto), "a.jpg", "image/jpeg"}, {"b", photo(kPhoto), "b.jpg", "image/jpeg"}},
                                   bearer(kAlpha));
  EXPECT_EQ(two.status, 400) << two.describe();
  auto unauthenticated = http().request("POST", "/v1/similar", photo(kPhoto));
  EXPECT_EQ(unauthenticated.status, 401) << unauthenticated.describe();
  EXPECT_EQ(images_of(kAlpha), stored_before);
}

TEST(SimilarIndexAtStart, IsRebuiltFromTheCatalog) {
  Server server({.args = {"--workers", "0"}});
  ASSERT_TRUE(server.start());
  const auto original = photo(kPhoto);
  auto a = upload_raw(server.http(), original);
  auto b = upload_raw(server.http(), reencode(original, 0.25, ".jpg[Q=60]"));
  ASSERT_EQ(a.response.status, 201);
  ASSERT_EQ(b.response.status, 201);
  ASSERT_TRUE(server.restart());
  auto found = matches(server.http().get("/v1/images/" + a.id + "/similar"));
  EXPECT_TRUE(ids_of(found).count(b.id)) << "the index lost what was stored before the restart";
}

}  // namespace
}  // namespace progimage::contract
