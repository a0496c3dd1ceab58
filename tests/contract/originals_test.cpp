// Contract point 5: the original bytes with their caching headers, conditional
// and range requests, HEAD.
#include "harness.hpp"

namespace progimage::contract {
namespace {

class OriginalsTest : public SharedServerTest<OriginalsTest> {
 protected:
  /// Uploads freshly made bytes; returns {id, bytes}.
  std::pair<std::string, std::string> stored(const char* suffix, std::uint32_t seed) {
    std::string bytes = make_image(120, 80, seed, suffix);
    auto up = upload_raw(http(), bytes);
    EXPECT_EQ(up.response.status / 100, 2) << up.response.describe();
    return {up.id, bytes};
  }
};

TEST_F(OriginalsTest, GetReturnsTheBytesUnchangedWithCachingHeaders) {
  struct Case {
    const char* suffix;
    const char* type;
    std::uint32_t seed;
  };
  for (const Case& c : {Case{".png", "image/png", 201}, Case{".jpg", "image/jpeg", 202},
                        Case{".webp", "image/webp", 203}, Case{".gif", "image/gif", 204}}) {
    SCOPED_TRACE(c.suffix);
    const char* type = c.type;
    auto [id, bytes] = stored(c.suffix, c.seed);
    ASSERT_FALSE(id.empty());
    auto r = http().get("/v1/images/" + id);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_TRUE(r.body == bytes) << "body differs from the upload (" << r.body.size() << " vs " << bytes.size()
                                 << " bytes)";
    EXPECT_EQ(r.header("Content-Type"), type);
    EXPECT_EQ(r.header("ETag"), "\"" + sha256_hex(bytes) + "\"");
    std::string cc = r.header("Cache-Control");
    for (const char* token : {"public", "max-age=31536000", "immutable"})
      EXPECT_NE(cc.find(token), std::string::npos) << "Cache-Control '" << cc << "' lacks " << token;
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.header("Content-Length"), std::to_string(bytes.size()));
  }
}

TEST_F(OriginalsTest, IfNoneMatchGives304) {
  auto [id, bytes] = stored(".png", 210);
  std::string etag = "\"" + sha256_hex(bytes) + "\"";
  auto r = http().get("/v1/images/" + id, {{"If-None-Match", etag}});
  EXPECT_EQ(r.status, 304) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("ETag"), etag);
  auto listed = http().get("/v1/images/" + id, {{"If-None-Match", "\"nope\", " + etag}});
  EXPECT_EQ(listed.status, 304) << "an ETag in a list must match: " << listed.describe();
  auto other = http().get("/v1/images/" + id, {{"If-None-Match", "\"0000\""}});
  EXPECT_EQ(other.status, 200) << other.describe();
  EXPECT_TRUE(other.body == bytes);
}

TEST_F(OriginalsTest, SingleRangeGives206WithContentRange) {
  auto [id, bytes] = stored(".png", 211);
  ASSERT_GT(bytes.size(), 300u);
  std::string total = std::to_string(bytes.size());
  auto r = http().get("/v1/images/" + id, {{"Range", "bytes=10-99"}});
  ASSERT_EQ(r.status, 206) << r.describe();
  EXPECT_EQ(r.header("Content-Range"), "bytes 10-99/" + total);
  EXPECT_TRUE(r.body == bytes.substr(10, 90)) << "got " << r.body.size() << " bytes";
  EXPECT_EQ(r.header("Content-Length"), "90");

  auto open = http().get("/v1/images/" + id, {{"Range", "bytes=100-"}});
  ASSERT_EQ(open.status, 206) << open.describe();
  EXPECT_EQ(open.header("Content-Range"), "bytes 100-" + std::to_string(bytes.size() - 1) + "/" + total);
  EXPECT_TRUE(open.body == bytes.substr(100));

  auto suffix = http().get("/v1/images/" + id, {{"Range", "bytes=-50"}});
  ASSERT_EQ(suffix.status, 206) << suffix.describe();
  EXPECT_EQ(suffix.header("Content-Range"), "bytes " + std::to_string(bytes.size() - 50) + "-" +
                                                std::to_string(bytes.size() - 1) + "/" + total);
  EXPECT_TRUE(suffix.body == bytes.substr(bytes.size() - 50));
}

TEST_F(OriginalsTest, UnsatisfiableRangeGives416) {
  auto [id, bytes] = stored(".png", 212);
  auto r = http().get("/v1/images/" + id, {{"Range", "bytes=" + std::to_string(bytes.size() + 10) + "-"}});
  EXPECT_EQ(r.status, 416) << r.describe();
  EXPECT_EQ(r.header("Content-Range"), "bytes */" + std::to_string(bytes.size()));
}

TEST_F(OriginalsTest, HeadGivesTheHeadersWithoutBody) {
  auto [id, bytes] = stored(".jpg", 213);
  auto r = http().request("HEAD", "/v1/images/" + id);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.header("Content-Length"), std::to_string(bytes.size()));
  EXPECT_EQ(r.header("Content-Type"), "image/jpeg");
  EXPECT_EQ(r.header("ETag"), "\"" + sha256_hex(bytes) + "\"");
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
}

TEST_F(OriginalsTest, UnknownIdGives404Json) {
  auto r = http().get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_TRUE(is_error(r, 404, "not_found"));
  auto head = http().request("HEAD", "/v1/images/AAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(head.status, 404);
  auto info = http().get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA/info");
  EXPECT_TRUE(is_error(info, 404, "not_found"));
  auto conv = http().get("/v1/images/AAAAAAAAAAAAAAAAAAAAAA.webp");
  EXPECT_TRUE(is_error(conv, 404, "not_found"));
}

}  // namespace
}  // namespace progimage::contract
