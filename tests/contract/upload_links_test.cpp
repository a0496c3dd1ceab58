// Upload links (docs/API.md "Upload links"): made, listed and revoked by an
// admin of one tenant; used without a key at /v1/uploads/{token}, with the
// link's tags, formats and size limit; 404 for an unknown token, 410
// link_expired for one expired, revoked or used up; max_uploads held under
// concurrent uploads; nothing of one tenant's links visible to another.
#include <atomic>
#include <set>
#include <thread>

#include "core/time.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

constexpr const char* kAdminA = "links-admin-a";
constexpr const char* kAdminB = "links-admin-b";
constexpr const char* kWriterA = "links-writer-a";
constexpr const char* kAdminC = "links-admin-c";  // a tenant only the paging test uses

class UploadLinkTest : public SharedServerTest<UploadLinkTest> {
 public:
  static ServerOptions server_options() {
    return {.args = {"--api-key", std::string(kAdminA) + ":admin:a", "--api-key", std::string(kAdminB) + ":admin:b",
                     "--api-key", std::string(kWriterA) + ":write:a", "--api-key", std::string(kAdminC) + ":admin:c"}};
  }

 protected:
  static Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }
  static Headers json_as(const std::string& key) {
    return {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
  }

  /// POST /v1/upload-links as `key`; the answer's JSON (fails the test otherwise).
  static json::value make_link(const std::string& body, const std::string& key = kAdminA) {
    auto r = http().request("POST", "/v1/upload-links", body, json_as(key));
    EXPECT_EQ(r.status, 201) << r.describe();
    auto j = r.json();
    return j ? *j : json::value();
  }

  /// The links that GET /v1/upload-links shows to `key`, by id.
  static std::map<std::string, json::value> listed(const std::string& key) {
    auto r = http().get("/v1/upload-links?limit=1000", bearer(key));
    EXPECT_EQ(r.status, 200) << r.describe();
    std::map<std::string, json::value> out;
    auto j = r.json();
    if (!j) return out;
    if (auto* links = jfind(*j, "links"); links && links->is_array())
      for (const auto& l : links->as_array()) out[jstring(l, "id")] = l;
    return out;
  }

  /// The ids of the images tenant a's key lists with this tag.
  static std::vector<std::string> images_tagged(const std::string& tag, const std::string& key = kAdminA) {
    auto r = http().get("/v1/images?limit=1000&tag=" + tag, bearer(key));
    EXPECT_EQ(r.status, 200) << r.describe();
    std::vector<std::string> ids;
    if (auto j = r.json())
      for (const auto& i : j->at("images").as_array()) ids.push_back(jstring(i, "id"));
    return ids;
  }

  static Response post_to(const std::string& url, const std::string& bytes, const std::string& query = {},
                          const std::string& type = "image/png") {
    return http().request("POST", url + (query.empty() ? "" : "?" + query), bytes, {{"Content-Type", type}});
  }
};

TEST_F(UploadLinkTest, MadeListedAndRevokedByAnAdmin) {
  auto link = make_link(R"({"expires_in": "PT1H", "max_uploads": 3, "max_bytes": 100000,
                            "formats": ["PNG", "jpg", "jpeg"], "tags": ["Campaign", "spring"]})");
  const std::string id = jstring(link, "id");
  const std::string url = jstring(link, "url");
  ASSERT_FALSE(id.empty()) << json::serialize(link);
  ASSERT_TRUE(url.starts_with("/v1/uploads/")) << url;
  // At least 128 random bits of base62: 22 characters or more.
  const std::string token = url.substr(std::string("/v1/uploads/").size());
  EXPECT_GE(token.size(), 22u) << token;
  for (char c : token) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << token;
  EXPECT_EQ(jint(link, "max_uploads"), 3);
  EXPECT_EQ(jint(link, "max_bytes"), 100000);
  EXPECT_EQ(jint(link, "uses"), 0);
  EXPECT_EQ(jstring(link, "status"), "active");
  EXPECT_EQ(json::serialize(link.at("formats")), R"(["jpeg","png"])") << "canonical names, once each";
  EXPECT_EQ(json::serialize(link.at("tags")), R"(["campaign","spring"])");
  auto created = core::parse_rfc3339(jstring(link, "created_at"));
  auto expires = core::parse_rfc3339(jstring(link, "expires_at"));
  ASSERT_TRUE(created && expires) << json::serialize(link);
  EXPECT_NEAR(static_cast<double>(*expires - *created), 3600, 2);

  // Listed without its token; a second link with expires_at.
  const auto in_a_month = core::format_rfc3339(core::unix_now() + 30 * 86400);
  auto other = make_link(R"({"expires_at": ")" + in_a_month + R"("})");
  EXPECT_EQ(jstring(other, "expires_at"), in_a_month);
  EXPECT_EQ(jint(other, "max_uploads"), 1) << "the default";
  EXPECT_TRUE(other.at("max_bytes").is_null());
  auto links = listed(kAdminA);
  ASSERT_TRUE(links.count(id)) << "the new link is not listed";
  const auto& entry = links.at(id);
  EXPECT_EQ(jstring(entry, "url"), "") << "a listing never shows the token";
  EXPECT_EQ(json::serialize(entry).find(token), std::string::npos) << json::serialize(entry);
  for (const char* field : {"created_at", "expires_at", "max_uploads", "uses", "max_bytes", "formats", "tags", "status"})
    EXPECT_NE(jfind(entry, field), nullptr) << field << " missing in " << json::serialize(entry);

  // Revoked: 204, then uploads are 410 and the listing says so.
  auto del = http().request("DELETE", "/v1/upload-links/" + id, {}, bearer(kAdminA));
  EXPECT_EQ(del.status, 204) << del.describe();
  auto refused = post_to(url, make_image(12, 12, 9101));
  EXPECT_TRUE(is_error(refused, 410, "link_expired")) << refused.describe();
  EXPECT_NE(refused.body.find("revoked"), std::string::npos) << refused.describe();
  EXPECT_EQ(jstring(listed(kAdminA).at(id), "status"), "revoked");
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/upload-links/noSuchLinkId000000000", {}, bearer(kAdminA)), 404,
                       "not_found"));
}

TEST_F(UploadLinkTest, UploadsNeedNoKeyAndLandInTheLinksTenantWithItsTags) {
  auto link = make_link(R"({"expires_in": "PT10M", "max_uploads": 4, "tags": ["from-link"]})");
  const std::string url = jstring(link, "url");
  // Raw, with the query of POST /v1/images.
  auto raw = post_to(url, make_image(20, 14, 9201), "name=raw.png&tags=own");
  ASSERT_EQ(raw.status, 201) << raw.describe();
  auto raw_body = *raw.json();
  EXPECT_TRUE(is_image_object(raw_body));
  EXPECT_EQ(jstring(raw_body, "name"), "raw.png");
  EXPECT_EQ(json::serialize(raw_body.at("tags")), R"(["from-link","own"])");
  EXPECT_EQ(raw.header("Location"), "/v1/images/" + jstring(raw_body, "id"));
  // Multipart and JSON base64 take the same path.
  auto multi = http().post_multipart(url, {{"file", make_image(10, 10, 9202), "m.png", "image/png"}});
  ASSERT_EQ(multi.status, 201) << multi.describe();
  auto js = http().request("POST", url, json::serialize(json::object{{"data", base64(make_image(9, 9, 9203))}}),
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(js.status, 201) << js.describe();

  // Tenant a has them; tenant b sees none of them.
  auto ids = images_tagged("from-link");
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(images_tagged("from-link", kAdminB).empty());
  EXPECT_TRUE(is_error(http().get("/v1/images/" + jstring(raw_body, "id") + "/info", bearer(kAdminB)), 404));
  EXPECT_EQ(jint(listed(kAdminA).at(jstring(link, "id")), "uses"), 3);

  // The same bytes again answer as POST /v1/images does (200 duplicate) and use the link once more.
  auto again = post_to(url, make_image(20, 14, 9201));
  EXPECT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(jstring(*again.json(), "id"), jstring(raw_body, "id"));
  auto used_up = post_to(url, make_image(20, 14, 9204));
  EXPECT_TRUE(is_error(used_up, 410, "link_expired")) << used_up.describe();
  EXPECT_EQ(jstring(listed(kAdminA).at(jstring(link, "id")), "status"), "used_up");
}

TEST_F(UploadLinkTest, TwentyParallelUploadsToAFiveUploadLinkStoreExactlyFive) {
  auto link = make_link(R"({"expires_in": "PT10M", "max_uploads": 5, "tags": ["race-5"]})");
  const std::string url = jstring(link, "url");
  std::vector<std::string> images;
  for (int i = 0; i < 20; ++i) images.push_back(make_image(64, 48, 9300 + i));
  std::vector<long> statuses(20);
  std::vector<std::string> codes(20);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < 20) std::this_thread::yield();
      auto r = post_to(url, images[i]);
      statuses[i] = r.status;
      if (auto j = r.json()) codes[i] = jstring(*j, "error.code");
    });
  }
  for (auto& t : threads) t.join();
  int created = 0, gone = 0;
  for (int i = 0; i < 20; ++i) {
    if (statuses[i] == 201) ++created;
    if (statuses[i] == 410 && codes[i] == "link_expired") ++gone;
  }
  EXPECT_EQ(created, 5);
  EXPECT_EQ(gone, 15);
  EXPECT_EQ(images_tagged("race-5").size(), 5u) << "exactly five images stored";
  EXPECT_EQ(jint(listed(kAdminA).at(jstring(link, "id")), "uses"), 5);
}

TEST_F(UploadLinkTest, UnknownExpiredAndUsedUpTokens) {
  auto unknown = post_to("/v1/uploads/NoSuchTokenNoSuchTokenNoSuchToken0000000000", make_image(8, 8, 9401));
  EXPECT_TRUE(is_error(unknown, 404, "not_found")) << unknown.describe();
  auto link = make_link(R"({"expires_in": "PT1S"})");
  std::this_thread::sleep_for(2100ms);
  auto expired = post_to(jstring(link, "url"), make_image(8, 8, 9402));
  EXPECT_TRUE(is_error(expired, 410, "link_expired")) << expired.describe();
  EXPECT_NE(expired.body.find("expired"), std::string::npos);
  EXPECT_EQ(jstring(listed(kAdminA).at(jstring(link, "id")), "status"), "expired");
}

TEST_F(UploadLinkTest, FormatAndSizeRefusalsStoreNothingAndGiveTheUseBack) {
  auto link = make_link(R"({"expires_in": "PT10M", "max_uploads": 1, "max_bytes": 3000, "formats": ["png"],
                            "tags": ["terms"]})");
  const std::string url = jstring(link, "url");
  const std::string id = jstring(link, "id");
  const std::string jpeg = make_image(40, 30, 9501, ".jpg");
  ASSERT_LT(jpeg.size(), 3000u);
  const std::string big_png = make_image(200, 150, 9502);
  ASSERT_GT(big_png.size(), 3000u);

  auto wrong_format = post_to(url, jpeg, {}, "image/jpeg");
  EXPECT_TRUE(is_error(wrong_format, 415, "unsupported_media")) << wrong_format.describe();
  auto too_big = post_to(url, big_png);
  EXPECT_TRUE(is_error(too_big, 413, "payload_too_large")) << too_big.describe();
  auto too_big_multipart = http().post_multipart(url, {{"file", big_png + big_png + big_png, "b.png", "image/png"}});
  EXPECT_EQ(too_big_multipart.status, 413) << too_big_multipart.describe();
  auto too_big_json = http().request("POST", url, json::serialize(json::object{{"data", base64(big_png)}}),
                                     {{"Content-Type", "application/json"}});
  EXPECT_EQ(too_big_json.status, 413) << too_big_json.describe();

  EXPECT_TRUE(images_tagged("terms").empty()) << "a refused upload stores nothing";
  EXPECT_EQ(jint(listed(kAdminA).at(id), "uses"), 0) << "refusals give their use back";
  if (auto blobs = server().blob_dir()) {
    EXPECT_TRUE(files_with_content(*blobs, sha256_hex(jpeg)).empty());
    EXPECT_TRUE(files_with_content(*blobs, sha256_hex(big_png)).empty());
  }
  // The one use is still there for an image that fits.
  auto fits = post_to(url, make_image(16, 16, 9503));
  EXPECT_EQ(fits.status, 201) << fits.describe();
  EXPECT_EQ(images_tagged("terms").size(), 1u);
}

TEST_F(UploadLinkTest, TenantsSeeAndRevokeOnlyTheirOwnLinks) {
  auto a = make_link(R"({"expires_in": "PT10M"})", kAdminA);
  auto b = make_link(R"({"expires_in": "PT10M"})", kAdminB);
  auto seen_by_b = listed(kAdminB);
  EXPECT_FALSE(seen_by_b.count(jstring(a, "id"))) << "tenant b lists tenant a's link";
  EXPECT_TRUE(seen_by_b.count(jstring(b, "id")));
  EXPECT_FALSE(listed(kAdminA).count(jstring(b, "id")));
  // Another tenant's id is 404, the same as one that never existed, and changes nothing.
  auto cross = http().request("DELETE", "/v1/upload-links/" + jstring(a, "id"), {}, bearer(kAdminB));
  EXPECT_TRUE(is_error(cross, 404, "not_found")) << cross.describe();
  EXPECT_EQ(jstring(listed(kAdminA).at(jstring(a, "id")), "status"), "active");
  EXPECT_EQ(post_to(jstring(a, "url"), make_image(8, 8, 9601)).status, 201);
}

TEST_F(UploadLinkTest, ListsPageNewestFirstByCursor) {
  std::set<std::string> made;
  for (int i = 0; i < 7; ++i) made.insert(jstring(make_link(R"({"expires_in": "PT10M"})", kAdminC), "id"));
  std::vector<std::string> seen;
  std::vector<std::size_t> page_sizes;
  std::string cursor;
  for (int pages = 0; pages < 5; ++pages) {
    auto r = http().get("/v1/upload-links?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), bearer(kAdminC));
    ASSERT_EQ(r.status, 200) << r.describe();
    auto j = r.json();
    const auto& links = j->at("links").as_array();
    page_sizes.push_back(links.size());
    for (const auto& l : links) {
      seen.push_back(jstring(l, "id"));
      EXPECT_FALSE(jfind(l, "url")) << "a listed link shows no token";
    }
    if (j->at("next_cursor").is_null()) break;
    cursor = std::string(j->at("next_cursor").as_string());
  }
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), made) << "every link once, nothing of another tenant";
  EXPECT_EQ(seen.size(), made.size());
  // The whole list in one page has the same order.
  std::vector<std::string> whole;
  auto all = http().get("/v1/upload-links", bearer(kAdminC)).json();
  for (const auto& l : all->at("links").as_array()) whole.push_back(jstring(l, "id"));
  EXPECT_EQ(whole, seen);
  EXPECT_TRUE(all->at("next_cursor").is_null());

  for (const char* bad : {"cursor=not-a-cursor", "limit=0", "limit=1001", "status=active"}) {
    auto r = http().get(std::string("/v1/upload-links?") + bad, bearer(kAdminC));
    EXPECT_TRUE(is_error(r, 400, "bad_parameter")) << bad << ": " << r.describe();
  }
}

TEST_F(UploadLinkTest, MakingALinkNeedsAnAdminAndAWellFormedBody) {
  EXPECT_TRUE(is_error(http().request("POST", "/v1/upload-links", R"({"expires_in": "PT1H"})", json_as(kWriterA)), 403,
                       "forbidden"));
  EXPECT_TRUE(is_error(http().get("/v1/upload-links", bearer(kWriterA)), 403, "forbidden"));
  EXPECT_TRUE(is_error(http().request("POST", "/v1/upload-links", R"({"expires_in": "PT1H"})",
                                      {{"Content-Type", "application/json"}}),
                       401, "unauthorized"));
  for (const char* bad : {R"({})", R"({"expires_in": "PT1H", "expires_at": "2099-01-01T00:00:00Z"})",
                          R"({"expires_in": "soon"})", R"({"expires_at": "2001-01-01T00:00:00Z"})",
                          R"({"expires_in": "P400D"})", R"({"expires_in": "PT1H", "max_uploads": 0})",
                          R"({"expires_in": "PT1H", "max_uploads": 1.5})", R"({"expires_in": "PT1H", "max_bytes": 0})",
                          R"({"expires_in": "PT1H", "formats": ["bmp"]})", R"({"expires_in": "PT1H", "formats": "png"})",
                          R"({"expires_in": "PT1H", "colour": "red"})"}) {
    auto r = http().request("POST", "/v1/upload-links", bad, json_as(kAdminA));
    EXPECT_TRUE(is_error(r, 400, "bad_parameter")) << bad << ": " << r.describe();
  }
  EXPECT_TRUE(is_error(http().request("POST", "/v1/upload-links", "not json", json_as(kAdminA)), 400, "bad_request"));
}

}  // namespace
}  // namespace progimage::contract
