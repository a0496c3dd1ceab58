// Contract points 2 and 4: POST /v1/images in all its body forms, streaming
// limits, memory while streaming, and content dedupe.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>
#include <set>

#include "harness.hpp"

namespace progimage::contract {
namespace {

std::set<std::string> tags_of(const boost::json::value& image) {
  std::set<std::string> out;
  if (const auto* t = jfind(image, "tags"); t && t->is_array())
    for (const auto& v : t->as_array())
      if (v.is_string()) out.emplace(v.as_string());
  return out;
}

const boost::json::array* images_of(const boost::json::value& v) {
  const auto* a = jfind(v, "images");
  return a && a->is_array() ? &a->as_array() : nullptr;
}

class UploadTest : public SharedServerTest<UploadTest> {};

TEST_F(UploadTest, RawPngAnswers201WithImageObjectAndLocation) {
  std::string png = make_image(64, 48, 101, ".png");
  auto up = upload_raw(http(), png, "name=first.png", "image/png");
  ASSERT_TRUE(is_json_ok(up.response, 201));
  EXPECT_TRUE(is_image_object(up.json));
  EXPECT_EQ(up.response.header("Location"), "/v1/images/" + up.id) << up.response.describe();
  EXPECT_EQ(jstring(up.json, "sha256"), sha256_hex(png));
  EXPECT_EQ(jstring(up.json, "format"), "png");
  EXPECT_EQ(jint(up.json, "width"), 64);
  EXPECT_EQ(jint(up.json, "height"), 48);
  EXPECT_EQ(jint(up.json, "size"), static_cast<std::int64_t>(png.size()));
  EXPECT_EQ(jint(up.json, "frames"), 1);
  EXPECT_EQ(jstring(up.json, "name"), "first.png");
  const auto* dup = jfind(up.json, "duplicate");
  ASSERT_TRUE(dup && dup->is_bool());
  EXPECT_FALSE(dup->as_bool());

  auto second = upload_raw(http(), make_image(64, 48, 102, ".png"), "", "image/png");
  ASSERT_TRUE(is_json_ok(second.response, 201));
  EXPECT_NE(second.id, up.id) << "two different images got one id";
}

TEST_F(UploadTest, ImageObjectHasEveryContractField) {
  auto up = upload_raw(http(), make_image(40, 30, 103, ".jpg"), "name=a.jpg&description=hello", "image/jpeg");
  ASSERT_TRUE(is_json_ok(up.response, 201));
  EXPECT_TRUE(is_image_object(up.json));
  for (const char* key : {"id", "url", "sha256", "format", "width", "height", "size", "frames", "has_alpha",
                          "created_at", "name", "description", "tags", "camera", "variants", "duplicate"})
    EXPECT_TRUE(jfind(up.json, key)) << "image object lacks '" << key << "': " << up.response.body;
  EXPECT_EQ(jstring(up.json, "format"), "jpeg");
  EXPECT_EQ(jstring(up.json, "description"), "hello");
  const auto* camera = jfind(up.json, "camera");
  EXPECT_TRUE(camera && camera->is_null()) << "camera must be null without EXIF: " << up.response.body;
  const auto* variants = jfind(up.json, "variants");
  EXPECT_TRUE(variants && variants->is_object()) << up.response.body;
}

TEST_F(UploadTest, RawUploadTakesNameDescriptionAndTagsFromQuery) {
  auto up = upload_raw(http(), make_image(32, 32, 104, ".png"),
                       "name=sunset.png&description=" + url_encode("sunset at the #Beach with #friends") +
                           "&tags=Holiday,summer",
                       "image/png");
  ASSERT_TRUE(is_json_ok(up.response, 201));
  EXPECT_EQ(jstring(up.json, "name"), "sunset.png");
  EXPECT_EQ(jstring(up.json, "description"), "sunset at the #Beach with #friends");
  auto tags = tags_of(up.json);
  for (const char* t : {"beach", "friends", "holiday", "summer"})
    EXPECT_TRUE(tags.count(t)) << "tag '" << t << "' missing: " << up.response.body;
  EXPECT_TRUE(is_image_object(up.json));  // also checks tags are lower-case
}

TEST_F(UploadTest, OctetStreamAndAnyImageTypeAreAccepted) {
  auto jpeg = upload_raw(http(), make_image(30, 20, 105, ".jpg"), "", "application/octet-stream");
  ASSERT_TRUE(is_json_ok(jpeg.response, 201));
  EXPECT_EQ(jstring(jpeg.json, "format"), "jpeg");
  auto webp = upload_raw(http(), make_image(30, 20, 106, ".webp"), "", "image/webp");
  ASSERT_TRUE(is_json_ok(webp.response, 201));
  EXPECT_EQ(jstring(webp.json, "format"), "webp");
}

// What `curl -F "image=@a.png;type=image/png" -F "image=@b.jpg" -F description=... -F tags=...` sends.
TEST_F(UploadTest, MultipartAsCurlCommandLineSendsIt) {
  std::string a = make_image(50, 40, 107, ".png");
  std::string b = make_image(60, 30, 108, ".jpg");
  auto r = http().post_multipart("/v1/images", {{"image", a, "a.png", "image/png"},
                                                {"image", b, "b.jpg", ""},
                                                {"description", "two shots of #Paris", "", ""},
                                                {"tags", "trip,France", "", ""}});
  ASSERT_TRUE(is_json_ok(r, 201));
  auto j = *r.json();
  const auto* images = images_of(j);
  ASSERT_TRUE(images && images->size() == 2) << r.describe();
  std::map<std::string, const boost::json::value*> by_name;
  for (const auto& img : *images) {
    EXPECT_TRUE(is_image_object(img));
    by_name[jstring(img, "name")] = &img;
    auto tags = tags_of(img);
    for (const char* t : {"paris", "trip", "france"}) EXPECT_TRUE(tags.count(t)) << t << " in " << r.body;
    EXPECT_EQ(jstring(img, "description"), "two shots of #Paris");
  }
  ASSERT_TRUE(by_name.count("a.png") && by_name.count("b.jpg")) << "names come from the filenames: " << r.body;
  EXPECT_EQ(jstring(*by_name["a.png"], "sha256"), sha256_hex(a));
  EXPECT_EQ(jstring(*by_name["b.jpg"], "sha256"), sha256_hex(b));
  EXPECT_EQ(jstring(*by_name["b.jpg"], "format"), "jpeg");
  auto got = http().get("/v1/images/" + jstring(*by_name["b.jpg"], "id"));
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == b) << "stored bytes differ from the uploaded part";
}

TEST_F(UploadTest, MultipartPartsWithoutContentTypeAndAnyFieldName) {
  std::string a = make_image(20, 20, 109, ".png");
  std::string b = make_image(21, 20, 110, ".jpg");
  std::string c = make_image(22, 20, 111, ".webp");
  auto [body, type] = build_multipart({{"file1", a, "one.png", ""},
                                       {"photo", b, "two.jpg", "image/jpeg"},
                                       {"whatever", c, "three.webp", "application/octet-stream"},
                                       {"tags", "x", "", ""}});
  auto r = http().request("POST", "/v1/images", body, {{"Content-Type", type}});
  ASSERT_TRUE(is_json_ok(r, 201));
  auto j = *r.json();
  const auto* images = images_of(j);
  ASSERT_TRUE(images && images->size() == 3) << r.describe();
  std::set<std::string> hashes;
  for (const auto& img : *images) hashes.insert(jstring(img, "sha256"));
  EXPECT_EQ(hashes, (std::set<std::string>{sha256_hex(a), sha256_hex(b), sha256_hex(c)})) << r.body;
}

TEST_F(UploadTest, MultipartBadPartKeepsTheGoodOnes207) {
  std::string good1 = make_image(30, 30, 112, ".png");
  std::string good2 = make_image(31, 30, 113, ".jpg");
  std::string junk = "this is not an image at all, just some text bytes\n";
  std::string truncated = make_image(200, 200, 114, ".png");
  truncated.resize(truncated.size() / 2);
  auto [body, type] = build_multipart({{"image", good1, "good1.png", "image/png"},
                                       {"image", junk, "junk.png", "image/png"},
                                       {"image", good2, "good2.jpg", "image/jpeg"},
                                       {"image", truncated, "cut.png", ""}});
  auto r = http().request("POST", "/v1/images", body, {{"Content-Type", type}});
  ASSERT_TRUE(is_json_ok(r, 207));
  auto j = *r.json();
  const auto* images = images_of(j);
  ASSERT_TRUE(images && images->size() == 4) << r.describe();
  int stored = 0, failed = 0;
  for (const auto& item : *images) {
    if (jfind(item, "error")) {
      ++failed;
      EXPECT_FALSE(jstring(item, "error.code").empty()) << boost::json::serialize(item);
      EXPECT_FALSE(jstring(item, "error.message").empty()) << boost::json::serialize(item);
      std::string name = jstring(item, "name");
      EXPECT_TRUE(name == "junk.png" || name == "cut.png") << boost::json::serialize(item);
      EXPECT_EQ(jstring(item, "error.code"), "unsupported_media") << boost::json::serialize(item);
    } else {
      ++stored;
      EXPECT_TRUE(is_image_object(item));
      auto got = http().get("/v1/images/" + jstring(item, "id"));
      EXPECT_EQ(got.status, 200);
      EXPECT_TRUE(got.body == good1 || got.body == good2);
    }
  }
  EXPECT_EQ(stored, 2);
  EXPECT_EQ(failed, 2);
}

TEST_F(UploadTest, JsonBase64DataIsStored) {
  std::string png = make_image(33, 17, 115, ".png");
  boost::json::object o{{"data", base64(png)},
                        {"name", "b64.png"},
                        {"description", "from #JSON"},
                        {"tags", boost::json::array{"Alpha", "beta"}}};
  auto r = http().request("POST", "/v1/images", boost::json::serialize(o), {{"Content-Type", "application/json"}});
  ASSERT_TRUE(is_json_ok(r, 201));
  auto j = *r.json();
  EXPECT_TRUE(is_image_object(j));
  EXPECT_EQ(jstring(j, "sha256"), sha256_hex(png));
  EXPECT_EQ(jstring(j, "name"), "b64.png");
  auto tags = tags_of(j);
  for (const char* t : {"alpha", "beta", "json"}) EXPECT_TRUE(tags.count(t)) << t << " in " << r.body;
  auto got = http().get("/v1/images/" + jstring(j, "id"));
  EXPECT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == png);
}

TEST_F(UploadTest, JsonWithBadBase64Is400) {
  auto r = http().request("POST", "/v1/images", R"({"data": "@@@ not base64 @@@"})",
                          {{"Content-Type", "application/json"}});
  EXPECT_TRUE(is_error(r, 400, "bad_base64"));
}

TEST_F(UploadTest, SameBytesTwiceAreStoredOnce) {
  // Larger than every default variant, so that no variant can be a byte copy of the original.
  std::string png = make_image(1100, 900, 116, ".png");
  auto first = upload_raw(http(), png, "name=one.png", "image/png");
  ASSERT_TRUE(is_json_ok(first.response, 201));
  auto second = upload_raw(http(), png, "name=two.png", "image/png");
  ASSERT_TRUE(is_json_ok(second.response, 200));
  EXPECT_EQ(second.id, first.id);
  const auto* dup = jfind(second.json, "duplicate");
  ASSERT_TRUE(dup && dup->is_bool()) << second.response.body;
  EXPECT_TRUE(dup->as_bool());
  EXPECT_FALSE(second.response.has_header("Location") && second.response.header("Location") != "/v1/images/" + first.id);

  // The same bytes through multipart and JSON are duplicates too.
  auto r = http().post_multipart("/v1/images", {{"image", png, "three.png", "image/png"}});
  ASSERT_EQ(r.status / 100, 2) << r.describe();
  if (auto j = r.json(); j && images_of(*j) && !images_of(*j)->empty()) {
    const auto& img = images_of(*j)->at(0);
    EXPECT_EQ(jstring(img, "id"), first.id) << r.body;
    const auto* d = jfind(img, "duplicate");
    EXPECT_TRUE(d && d->is_bool() && d->as_bool()) << r.body;
  } else {
    ADD_FAILURE() << "multipart answer without images: " << r.describe();
  }
  boost::json::object o{{"data", base64(png)}};
  auto js = http().request("POST", "/v1/images", boost::json::serialize(o), {{"Content-Type", "application/json"}});
  EXPECT_TRUE(is_json_ok(js, 200));
  if (auto j = js.json()) {
    EXPECT_EQ(jstring(*j, "id"), first.id);
  }

  // Stored once: one file of the blob store holds these bytes.
  SKIP_UNLESS_BLOB_FILES(server());
  EXPECT_EQ(files_with_content(*server().blob_dir(), sha256_hex(png)).size(), 1u);
}

// Limits: --max-upload-bytes 1M, checked while streaming.
class UploadLimitTest : public SharedServerTest<UploadLimitTest> {
 public:
  static ServerOptions server_options() { return {.args = {"--max-upload-bytes", "1048576"}}; }
};

TEST_F(UploadLimitTest, BodyOverTheLimitIs413) {
  std::string big(3 * 1024 * 1024, 'x');
  std::string png = make_image(64, 64, 117, ".png");
  std::copy(png.begin(), png.end(), big.begin());  // an image header, then too many bytes
  auto r = http().request("POST", "/v1/images", big, {{"Content-Type", "image/png"}});
  EXPECT_TRUE(is_error(r, 413, "payload_too_large"));
  auto m = http().post_multipart("/v1/images", {{"image", big, "big.png", "image/png"}});
  EXPECT_TRUE(is_error(m, 413, "payload_too_large"));
  boost::json::object o{{"data", base64(big)}};
  auto js = http().request("POST", "/v1/images", boost::json::serialize(o), {{"Content-Type", "application/json"}});
  EXPECT_TRUE(is_error(js, 413, "payload_too_large"));
  // Under the limit still works.
  auto ok = upload_raw(http(), make_image(100, 100, 118, ".png"), "", "image/png");
  EXPECT_TRUE(is_json_ok(ok.response, 201));
  SKIP_UNLESS_BLOB_FILES(server());
  EXPECT_TRUE(files_with_content(*server().blob_dir(), sha256_hex(big)).empty()) << "the too-large body was stored";
}

TEST_F(UploadLimitTest, DeclaredLengthOverTheLimitIsRefusedBeforeTheBodyArrives) {
  RawConnection c(server().port());
  ASSERT_TRUE(c.ok());
  std::string head = "POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Length: 209715200\r\n\r\n";
  ASSERT_TRUE(c.send(head));
  c.send(std::string(64 * 1024, 'a'));  // a little of the 200 MB, then wait
  std::string resp = c.read_response(10s);
  EXPECT_EQ(raw_status(resp), 413) << "no 413 within 10 s while the body was still coming: '" << resp.substr(0, 400)
                                   << "'";
}

TEST_F(UploadLimitTest, ChunkedBodyOverTheLimitIs413WhileStreaming) {
  RawConnection c(server().port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send("POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"));
  std::string chunk(256 * 1024, 'b');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  // 2 MiB in chunks, never terminated: the server must answer without the end.
  for (int i = 0; i < 8; ++i)
    if (!c.send(size_line + chunk + "\r\n")) break;
  std::string resp = c.read_response(10s);
  EXPECT_EQ(raw_status(resp), 413) << "no 413 for an endless chunked body over the limit: '" << resp.substr(0, 400)
                                   << "'";
}

// Bodies go to staging while being hashed and are never held whole in memory.
TEST(UploadMemory, FortyMegabyteUploadsDoNotGrowTheServerRss) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator and shadow memory make RSS meaningless";
#endif

  // Without job workers: this measures the upload path, not the background
  // variants (thumb, small, medium) that decode each stored image afterwards.
  // One malloc arena: the server keeps up to 8 MB of freed memory per arena
  // for reuse (imaging::startup), and on a loaded machine the three uploads
  // land on different threads and arenas, adding 6 MB of peak per arena that
  // is cache, not a held body (seen: 22 MB alone, up to 34 MB under load).
  Server server(ServerOptions{.args = {"--workers", "0"}, .env = {{"MALLOC_ARENA_MAX", "1"}}});
  ASSERT_TRUE(server.start());
  auto http = server.http();
  ASSERT_EQ(upload_raw(http, make_image(64, 64, 119, ".png")).response.status, 201);  // warm up
  std::string png = make_image(3700, 3700, 120, ".png", 3, "[compression=0]");
  ASSERT_GT(png.size(), 40'000'000u);
  std::string noise(40 * 1000 * 1000, '\0');
  std::mt19937 rng(121);
  for (auto& ch : noise) ch = static_cast<char>(rng());
  const long limit_kb = 40'000'000 / 1024;

  // Peak RSS after each upload, measured from a baseline taken after start-up.
  long before = server.proc_status_kb("VmHWM");
  ASSERT_GT(before, 0);
  auto grown = [&] { return server.proc_status_kb("VmHWM") - before; };

  // Not an image: only streaming and hashing happen.
  auto junk = upload_raw(http, noise, "", "application/octet-stream");
  EXPECT_TRUE(is_error(junk.response, 415, "unsupported_media"));
  long after_junk = grown();
  EXPECT_LT(after_junk, limit_kb) << "peak RSS grew by " << after_junk << " kB during a 40 MB raw non-image upload";

  auto multipart = http.post_multipart("/v1/images", {{"image", png, "big.png", "image/png"}}, {}, 120s);
  EXPECT_EQ(multipart.status, 201) << multipart.describe();
  long after_multipart = grown();
  EXPECT_LT(after_multipart, limit_kb) << "peak RSS grew by " << after_multipart << " kB during a "
                                       << png.size() / 1000000 << " MB multipart upload of a PNG";

  auto raw = upload_raw(http, png, "", "image/png");
  EXPECT_EQ(raw.response.status, 200) << raw.response.describe();  // duplicate, but streamed and hashed again
  long after_raw = grown();
  EXPECT_LT(after_raw, limit_kb) << "peak RSS grew by " << after_raw << " kB after a 40 MB raw upload";
  std::cout << "VmHWM growth kB: junk " << after_junk << ", multipart PNG " << after_multipart << ", raw PNG "
            << after_raw << " (baseline " << before << ")\n";
}

}  // namespace
}  // namespace progimage::contract
