// Contract points 3 (validation by content, limits), 8 (errors) and 9 (auth).
#include <random>
#include <regex>
#include <sstream>

#include "harness.hpp"

namespace progimage::contract {
namespace {

class ErrorsTest : public SharedServerTest<ErrorsTest> {
 protected:
  /// A 415 unsupported_media that stored nothing: no new image in the
  /// catalog and, with a file store, no file holding these bytes.
  void expect_rejected(const std::string& bytes, const std::string& what, const char* type = "application/octet-stream") {
    const auto images_before = stored_images();
    auto up = upload_raw(http(), bytes, "", type);
    EXPECT_TRUE(is_error(up.response, 415, "unsupported_media")) << what;
    EXPECT_EQ(stored_images(), images_before) << what << " was stored";
    if (auto blobs = server().blob_dir()) {
      EXPECT_TRUE(files_with_content(*blobs, sha256_hex(bytes)).empty()) << what << " left a blob file";
    }
  }
  static std::int64_t stored_images() {
    auto stats = http().get("/v1/stats");
    auto j = stats.json();
    return j ? jint(*j, "images") : -1;
  }
};

TEST_F(ErrorsTest, UnknownRouteIs404Json) {
  for (const char* path : {"/nope", "/v1/nope", "/v2/images", "/v1/images/abc/def/ghi"}) {
    EXPECT_TRUE(is_error(http().get(path), 404, "not_found")) << path;
  }
}

TEST_F(ErrorsTest, WrongMethodIs405WithAllow) {
  auto allow_has = [](const Response& r, const char* method) {
    std::string allow = r.header("Allow");
    return std::regex_search(allow, std::regex(std::string("(^|[ ,])") + method + "($|[ ,])"));
  };
  auto put = http().request("PUT", "/v1/images", "x");
  EXPECT_TRUE(is_error(put, 405));
  EXPECT_TRUE(allow_has(put, "POST")) << "Allow: " << put.header("Allow");
  EXPECT_TRUE(allow_has(put, "GET")) << "Allow: " << put.header("Allow");

  auto health = http().request("DELETE", "/healthz");
  EXPECT_TRUE(is_error(health, 405));
  EXPECT_TRUE(allow_has(health, "GET")) << "Allow: " << health.header("Allow");

  auto up = upload_raw(http(), make_image(10, 10, 501, ".png"));
  ASSERT_EQ(up.response.status, 201);
  auto post = http().request("POST", "/v1/images/" + up.id, "x");
  EXPECT_TRUE(is_error(post, 405));
  for (const char* m : {"GET", "HEAD", "PATCH", "DELETE"})
    EXPECT_TRUE(allow_has(post, m)) << m << " missing from Allow: " << post.header("Allow");
}

TEST_F(ErrorsTest, OtherFormatsAndRandomBytesAre415) {
  std::mt19937 rng(502);
  std::string random(5000, '\0');
  for (auto& c : random) c = static_cast<char>(rng());
  expect_rejected(random, "random bytes");
  expect_rejected("just some text\n", "text", "image/png");
  expect_rejected("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", "PDF",
                  "application/pdf");
  std::string psd = std::string("8BPS\0\1\0\0\0\0\0\0\0\3\0\0\0\x10\0\0\0\x10\0\x08\0\3", 26) + std::string(64, '\0');
  expect_rejected(psd, "PSD header");
  expect_rejected("P6\n16 16\n255\n" + std::string(16 * 16 * 3, '\x7f'), "PPM", "image/x-portable-pixmap");
  expect_rejected(read_file(testdata_dir() / "vips-formats/small.bmp"), "BMP", "image/bmp");
  expect_rejected(read_file(testdata_dir() / "vips-formats/world.jp2"), "JPEG 2000", "image/jp2");
  expect_rejected(read_file(testdata_dir() / "vips-formats/favicon.ico"), "ICO", "image/x-icon");
  expect_rejected(read_file(testdata_dir() / "vips-formats/targa.tga"), "TGA (magick)");
  expect_rejected(read_file(testdata_dir() / "vips-formats/silicongraphics.sgi"), "SGI (magick)");
  auto empty = upload_raw(http(), std::string(), "", "image/png");
  EXPECT_TRUE(is_error(empty.response, 415) || is_error(empty.response, 400)) << empty.response.describe();
}

TEST_F(ErrorsTest, ClaimedTypeAndNameAreIgnored) {
  std::string png = make_image(24, 24, 504, ".png");
  auto up = upload_raw(http(), png, "name=photo.jpg", "image/jpeg");
  ASSERT_TRUE(is_json_ok(up.response, 201));
  EXPECT_EQ(jstring(up.json, "format"), "png");
  auto got = http().get("/v1/images/" + up.id);
  EXPECT_EQ(got.header("Content-Type"), "image/png");

  std::string jpg = make_image(24, 24, 505, ".jpg");
  auto m = http().post_multipart("/v1/images", {{"image", jpg, "looks.gif", "image/gif"}});
  ASSERT_TRUE(is_json_ok(m, 201));
  EXPECT_EQ(jstring(jfind(*m.json(), "images")->as_array().at(0), "format"), "jpeg") << m.body;
}

TEST_F(ErrorsTest, TruncatedImagesAre415AndNotStored) {
  for (const char* suffix : {".png", ".jpg", ".gif", ".webp"}) {
    std::string bytes = make_image(300, 200, 506, suffix);
    expect_rejected(bytes.substr(0, bytes.size() * 6 / 10), std::string("truncated ") + suffix);
  }
}

TEST_F(ErrorsTest, PixelLimitIsCheckedFromTheHeaderBeforeDecoding) {
  // 65536x65536 in 522 KB: a full decode takes > 20 s, a header check milliseconds.
  auto bomb = upload_raw(http(), read_file(testdata_dir() / "sharp-fixtures/65536-uint32-limit.png"));
  EXPECT_TRUE(is_error(bomb.response, 422, "image_too_large"));
  EXPECT_LT(bomb.response.seconds, 5.0) << "the limit was not checked from the header";
  // A real 20000x14000 JPEG (280 Mpx) is over the default 100 Mpx.
  auto giant = upload_raw(http(), read_file(testdata_dir() / "sharp-fixtures/giant-image.jpg"));
  EXPECT_TRUE(is_error(giant.response, 422, "image_too_large"));
  EXPECT_LT(giant.response.seconds, 5.0);
  EXPECT_TRUE(http().get("/healthz").status == 200);
}

TEST_F(ErrorsTest, MalformedRequestsAre400) {
  auto no_boundary = http().request("POST", "/v1/images", "--x\r\n\r\n", {{"Content-Type", "multipart/form-data"}});
  EXPECT_TRUE(is_error(no_boundary, 400, "bad_multipart"));
  auto garbage = http().request("POST", "/v1/images", "this is not multipart at all",
                                {{"Content-Type", "multipart/form-data; boundary=zzz"}});
  EXPECT_TRUE(is_error(garbage, 400, "bad_multipart"));
  auto [body, type] = build_multipart({{"image", make_image(10, 10, 507, ".png"), "a.png", "image/png"}});
  body.resize(body.size() - 20);  // no closing boundary
  auto unterminated = http().request("POST", "/v1/images", body, {{"Content-Type", type}});
  EXPECT_TRUE(is_error(unterminated, 400, "bad_multipart"));
  auto bad_json = http().request("POST", "/v1/images", "{not json", {{"Content-Type", "application/json"}});
  EXPECT_TRUE(is_error(bad_json, 400, "bad_request"));
  auto no_source = http().request("POST", "/v1/images", R"({"name": "x"})", {{"Content-Type", "application/json"}});
  EXPECT_TRUE(is_error(no_source, 400));
}

// Limits set by configuration, checked from the header: pixels and frames.
class LimitsTest : public SharedServerTest<LimitsTest> {
 public:
  static ServerOptions server_options() { return {.args = {"--max-pixels", "1000000", "--max-frames", "3"}}; }
};

TEST_F(LimitsTest, PixelAndFrameLimitsGive422) {
  auto over = upload_raw(http(), make_image(1200, 1000, 508, ".png"));
  EXPECT_TRUE(is_error(over.response, 422, "image_too_large"));
  auto under = upload_raw(http(), make_image(1000, 1000, 509, ".png"));
  EXPECT_TRUE(is_json_ok(under.response, 201));
  auto frames = upload_raw(http(), read_file(testdata_dir() / "vips-formats/cogs.gif"));  // 5 frames
  EXPECT_TRUE(is_error(frames.response, 422, "image_too_large"));
  auto three = upload_raw(http(), read_file(testdata_dir() / "vips-formats/dispose-background.gif"));  // 3 frames
  EXPECT_TRUE(is_json_ok(three.response, 201));
}

// ---- auth

class AuthTest : public SharedServerTest<AuthTest> {
 public:
  static ServerOptions server_options() {
    return {.args = {"--api-key", "reader-key:read", "--api-key", "writer-key:write", "--api-key", "admin-key:admin"}};
  }

 protected:
  static Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }
  std::string stored_id() {
    auto up = upload_raw(http(), make_image(20, 20, seed_++, ".png"), "", "image/png", bearer("writer-key"));
    EXPECT_EQ(up.response.status, 201) << up.response.describe();
    return up.id;
  }
  static inline std::uint32_t seed_ = 600;  // every image distinct across the suite
};

TEST_F(AuthTest, MissingOrUnknownKeyIs401) {
  std::string id = stored_id();
  EXPECT_TRUE(is_error(http().get("/v1/images/" + id), 401, "unauthorized"));
  EXPECT_TRUE(is_error(upload_raw(http(), make_image(9, 9, 650, ".png")).response, 401, "unauthorized"));
  EXPECT_TRUE(is_error(http().get("/v1/images/" + id, bearer("wrong")), 401, "unauthorized"));
  EXPECT_TRUE(is_error(http().get("/v1/images/" + id, {{"X-Api-Key", "wrong"}}), 401, "unauthorized"));
  EXPECT_TRUE(is_error(http().get("/v1/images/" + id, {{"Authorization", "Basic cmVhZGVyLWtleTo="}}), 401));
  EXPECT_EQ(http().get("/healthz").status, 200) << "health checks need no key";
}

TEST_F(AuthTest, ReadKeyReadsButCannotWrite) {
  std::string id = stored_id();
  EXPECT_EQ(http().get("/v1/images/" + id, bearer("reader-key")).status, 200);
  EXPECT_EQ(http().get("/v1/images/" + id, {{"X-Api-Key", "reader-key"}}).status, 200);
  EXPECT_EQ(http().get("/v1/images/" + id + "/info", bearer("reader-key")).status, 200);
  auto up = upload_raw(http(), make_image(9, 9, 651, ".png"), "", "image/png", bearer("reader-key"));
  EXPECT_TRUE(is_error(up.response, 403, "forbidden"));
  EXPECT_TRUE(is_error(http().request("PATCH", "/v1/images/" + id, R"({"description": "x"})",
                                      {{"Authorization", "Bearer reader-key"}, {"Content-Type", "application/json"}}),
                       403, "forbidden"));
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/images/" + id, {}, bearer("reader-key")), 403, "forbidden"));
  EXPECT_EQ(http().get("/v1/images/" + id, bearer("reader-key")).status, 200) << "a refused DELETE deleted";
}

TEST_F(AuthTest, WriteKeyCreatesUpdatesDeletesButIsNotAdmin) {
  std::string id = stored_id();
  auto patch = http().request("PATCH", "/v1/images/" + id, R"({"description": "by writer"})",
                              {{"X-Api-Key", "writer-key"}, {"Content-Type", "application/json"}});
  EXPECT_EQ(patch.status, 200) << patch.describe();
  EXPECT_EQ(http().get("/v1/images/" + id, bearer("writer-key")).status, 200);
  EXPECT_EQ(http().request("DELETE", "/v1/images/" + id, {}, bearer("writer-key")).status, 204);
  EXPECT_TRUE(is_error(http().get("/v1/stats", bearer("writer-key")), 403, "forbidden"));
  EXPECT_TRUE(is_error(http().get("/v1/stats", bearer("reader-key")), 403, "forbidden"));
}

TEST_F(AuthTest, AdminKeyCanDoEverything) {
  auto up = upload_raw(http(), make_image(9, 9, 652, ".png"), "", "image/png", bearer("admin-key"));
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(http().get("/v1/images/" + up.id, bearer("admin-key")).status, 200);
  auto stats = http().get("/v1/stats", bearer("admin-key"));
  EXPECT_TRUE(is_json_ok(stats, 200));
  EXPECT_EQ(http().request("DELETE", "/v1/images/" + up.id, {}, bearer("admin-key")).status, 204);
}

TEST_F(AuthTest, KeyedServerDoesNotWarnAboutBeingOpen) {
  std::string log = server().stdout_text() + server().stderr_text();
  std::regex open_warning(R"((?:warn).*(?:no api key|open|unauthenticated|without auth))", std::regex::icase);
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) EXPECT_FALSE(std::regex_search(line, open_warning)) << line;
}

TEST(AuthOpen, ServerWithoutKeysIsOpenAndWarnsAtStart) {
  Server server;
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(9, 9, 653, ".png"));
  EXPECT_EQ(up.response.status, 201) << "an open server needs no key";
  std::string log = server.stdout_text() + "\n" + server.stderr_text();
  std::regex open_warning(R"((?:warn).*(?:api.?key|open|unauthenticated|auth))", std::regex::icase);
  std::istringstream in(log);
  std::string line;
  bool warned = false;
  while (std::getline(in, line)) warned = warned || std::regex_search(line, open_warning);
  EXPECT_TRUE(warned) << "no warning about the open server in its log:\n" << tail(log);
}

TEST(AuthEnv, KeysFromTheEnvironment) {
  Server server({.env = {{"PROGIMAGE_API_KEYS", "env-admin:admin,env-reader:read"}}});
  ASSERT_TRUE(server.start());
  auto http = server.http();
  EXPECT_TRUE(is_error(upload_raw(http, make_image(9, 9, 654, ".png")).response, 401, "unauthorized"));
  auto up = upload_raw(http, make_image(9, 9, 655, ".png"), "", "image/png", {{"Authorization", "Bearer env-admin"}});
  EXPECT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(http.get("/v1/images/" + up.id, {{"X-Api-Key", "env-reader"}}).status, 200);
}

}  // namespace
}  // namespace progimage::contract
