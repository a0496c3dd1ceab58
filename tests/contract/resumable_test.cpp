// Resumable uploads over tus 1.0 at /v1/resumable/ (docs/API.md "Resumable
// uploads"): the protocol's answers request by request, authorisation by a
// key or an upload link, expiry, and the real tus-js-client under Node.js
// (tests/tus/): an upload cut off in the middle of a request and resumed,
// and one resumed after the server was killed with SIGKILL, each giving back
// an original byte-identical to what was sent.
//
// Node.js and `npm ci` in tests/tus are required: without them these tests
// fail, saying what to install.
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

constexpr const char* kWriterA = "tus-writer-a";
constexpr const char* kWriterB = "tus-writer-b";
constexpr const char* kAdminA = "tus-admin-a";
constexpr const char* kEndpoint = "/v1/resumable/";

std::vector<std::string> key_args() {
  return {"--api-key", std::string(kWriterA) + ":write:a", "--api-key", std::string(kWriterB) + ":write:b",
          "--api-key", std::string(kAdminA) + ":admin:a"};
}

Headers tus_headers(const std::string& key = {}) {
  Headers h{{"Tus-Resumable", "1.0.0"}};
  if (!key.empty()) h["Authorization"] = "Bearer " + key;
  return h;
}

Headers chunk_headers(std::int64_t offset, const std::string& key = {}) {
  auto h = tus_headers(key);
  h["Content-Type"] = "application/offset+octet-stream";
  h["Upload-Offset"] = std::to_string(offset);
  return h;
}

/// "key base64,..." for Upload-Metadata.
std::string metadata(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [k, v] : pairs) out += (out.empty() ? "" : ",") + k + " " + base64(v);
  return out;
}

/// POST /v1/resumable/ with Upload-Length (and whatever `extra` adds).
Response create(const Http& http, std::int64_t length, const Headers& extra, std::string_view body = {}) {
  Headers h = extra;
  h["Upload-Length"] = std::to_string(length);
  if (!body.empty()) h["Content-Type"] = "application/offset+octet-stream";
  return http.request("POST", kEndpoint, body, h);
}

/// The path of an upload from its Location.
std::string upload_path(const Response& created) { return created.header("Location"); }

/// The file that holds the bytes of the upload at `url` while it is unfinished
/// (named after the SHA-256 of its token, as the server keeps no token).
fs::path part_file(const Server& server, const std::string& url) {
  return server.data_dir() / "resumable" / (sha256_hex(url.substr(url.rfind('/') + 1)) + ".part");
}

/// The files of unfinished uploads in the server's data directory.
std::vector<fs::path> part_files(const Server& server) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(server.data_dir() / "resumable", ec))
    if (e.path().extension() == ".part") out.push_back(e.path());
  return out;
}

class ResumableTest : public SharedServerTest<ResumableTest> {
 public:
  static ServerOptions server_options() { return {.args = key_args()}; }

 protected:
  static json::value image_info(const std::string& id, const std::string& key = kWriterA) {
    auto r = http().get("/v1/images/" + id + "/info", {{"Authorization", "Bearer " + key}});
    EXPECT_EQ(r.status, 200) << r.describe();
    auto j = r.json();
    return j ? *j : json::value();
  }
  static std::string original(const std::string& id, const std::string& key = kWriterA) {
    auto r = http().get("/v1/images/" + id, {{"Authorization", "Bearer " + key}});
    EXPECT_EQ(r.status, 200) << r.describe();
    return r.body;
  }
  static std::string make_link(const std::string& body) {
    auto r = http().request("POST", "/v1/upload-links", body,
                            {{"Authorization", std::string("Bearer ") + kAdminA}, {"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.describe();
    auto j = r.json();
    return j ? jstring(*j, "url").substr(std::string("/v1/uploads/").size()) : std::string();
  }
};

TEST_F(ResumableTest, OptionsDescribeTheServer) {
  auto r = http().request("OPTIONS", kEndpoint);
  EXPECT_EQ(r.status, 204) << r.describe();
  EXPECT_EQ(r.header("Tus-Version"), "1.0.0");
  EXPECT_EQ(r.header("Tus-Extension"), "creation,creation-with-upload,termination,expiration");
  EXPECT_EQ(r.header("Tus-Max-Size"), std::to_string(50 * 1024 * 1024));
}

TEST_F(ResumableTest, AnUploadInTwoPatchesBecomesAnImage) {
  const std::string png = make_image(60, 40, 9701);
  auto made = create(http(), static_cast<std::int64_t>(png.size()),
                     [] {
                       auto h = tus_headers(kWriterA);
                       h["Upload-Metadata"] = metadata({{"filename", "two parts.png"},
                                                        {"description", "sent in #pieces"},
                                                        {"tags", "a,b"}});
                       return h;
                     }());
  ASSERT_EQ(made.status, 201) << made.describe();
  EXPECT_EQ(made.header("Tus-Resumable"), "1.0.0");
  const std::string url = upload_path(made);
  ASSERT_TRUE(url.starts_with(kEndpoint)) << url;
  EXPECT_GE(url.size() - std::string(kEndpoint).size(), 22u) << "at least 128 random bits";
  EXPECT_FALSE(made.header("Upload-Expires").empty());
  EXPECT_TRUE(made.header("Upload-Expires").ends_with(" GMT")) << made.header("Upload-Expires");

  auto head = http().request("HEAD", url, {}, tus_headers(kWriterA));
  EXPECT_EQ(head.status, 200) << head.describe();
  EXPECT_EQ(head.header("Upload-Offset"), "0");
  EXPECT_EQ(head.header("Upload-Length"), std::to_string(png.size()));
  EXPECT_EQ(head.header("Cache-Control"), "no-store");
  EXPECT_NE(head.header("Upload-Metadata").find("filename "), std::string::npos) << head.header("Upload-Metadata");

  const std::size_t half = png.size() / 2;
  auto first = http().request("PATCH", url, png.substr(0, half), chunk_headers(0, kWriterA));
  EXPECT_EQ(first.status, 204) << first.describe();
  EXPECT_EQ(first.header("Upload-Offset"), std::to_string(half));
  EXPECT_FALSE(first.has_header("ProgImage-Image-Id"));
  EXPECT_TRUE(fs::exists(part_file(server(), url)));
  EXPECT_EQ(fs::file_size(part_file(server(), url)), half);

  // A stale offset is 409 and changes nothing; so is a second start from 0.
  auto stale = http().request("PATCH", url, png.substr(0, half), chunk_headers(0, kWriterA));
  EXPECT_TRUE(is_error(stale, 409, "conflict")) << stale.describe();
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers(kWriterA)).header("Upload-Offset"), std::to_string(half));

  auto last = http().request("PATCH", url, png.substr(half), chunk_headers(static_cast<std::int64_t>(half), kWriterA));
  ASSERT_EQ(last.status, 204) << last.describe();
  EXPECT_EQ(last.header("Upload-Offset"), std::to_string(png.size()));
  const std::string id = last.header("ProgImage-Image-Id");
  ASSERT_FALSE(id.empty()) << last.describe();
  EXPECT_FALSE(fs::exists(part_file(server(), url))) << "the bytes of a finished upload are gone";

  auto after = http().request("HEAD", url, {}, tus_headers(kWriterA));
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.header("ProgImage-Image-Id"), id);
  EXPECT_EQ(after.header("Upload-Offset"), std::to_string(png.size()));

  auto info = image_info(id);
  EXPECT_EQ(jstring(info, "name"), "two parts.png");
  EXPECT_EQ(jstring(info, "description"), "sent in #pieces");
  EXPECT_EQ(json::serialize(info.at("tags")), R"(["a","b","pieces"])");
  EXPECT_EQ(sha256_hex(original(id)), sha256_hex(png));
  // A finished upload takes no more bytes.
  EXPECT_TRUE(is_error(http().request("PATCH", url, "x", chunk_headers(static_cast<std::int64_t>(png.size()), kWriterA)),
                       409, "conflict"));
}

TEST_F(ResumableTest, CreationWithUploadAndTermination) {
  const std::string png = make_image(30, 30, 9702);
  auto whole = create(http(), static_cast<std::int64_t>(png.size()), tus_headers(kWriterA), png);
  ASSERT_EQ(whole.status, 201) << whole.describe();
  EXPECT_EQ(whole.header("Upload-Offset"), std::to_string(png.size()));
  EXPECT_FALSE(whole.header("ProgImage-Image-Id").empty()) << "all bytes in the POST: finished at once";

  auto part = create(http(), static_cast<std::int64_t>(png.size()) + 10, tus_headers(kWriterA), png.substr(0, 100));
  ASSERT_EQ(part.status, 201) << part.describe();
  EXPECT_EQ(part.header("Upload-Offset"), "100");
  const std::string url = upload_path(part);
  auto gone = http().request("DELETE", url, {}, tus_headers(kWriterA));
  EXPECT_EQ(gone.status, 204) << gone.describe();
  EXPECT_EQ(gone.header("Tus-Resumable"), "1.0.0");
  EXPECT_FALSE(fs::exists(part_file(server(), url))) << "termination removes the bytes";
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers(kWriterA)).status, 404);
  EXPECT_TRUE(is_error(http().request("PATCH", url, "x", chunk_headers(100, kWriterA)), 404, "not_found"));
}

TEST_F(ResumableTest, MalformedRequestsGetTheStatusTheProtocolNames) {
  const Headers key = tus_headers(kWriterA);
  // No or another protocol version: 412 with Tus-Version.
  auto no_version = http().request("POST", kEndpoint, {}, {{"Authorization", std::string("Bearer ") + kWriterA},
                                                          {"Upload-Length", "10"}});
  EXPECT_TRUE(is_error(no_version, 412, "precondition_failed")) << no_version.describe();
  EXPECT_EQ(no_version.header("Tus-Version"), "1.0.0");
  auto old = key;
  old["Tus-Resumable"] = "0.2.2";
  EXPECT_TRUE(is_error(create(http(), 10, old), 412, "precondition_failed"));
  // Creation without a length, a deferred one, a bad one, too large, bad metadata.
  EXPECT_TRUE(is_error(http().request("POST", kEndpoint, {}, key), 400, "bad_request"));
  auto deferred = key;
  deferred["Upload-Defer-Length"] = "1";
  EXPECT_TRUE(is_error(http().request("POST", kEndpoint, {}, deferred), 400, "bad_request"));
  auto negative = key;
  negative["Upload-Length"] = "-5";
  EXPECT_TRUE(is_error(http().request("POST", kEndpoint, {}, negative), 400, "bad_request"));
  EXPECT_TRUE(is_error(create(http(), 60LL * 1024 * 1024, key), 413, "payload_too_large"));
  auto bad_meta = key;
  bad_meta["Upload-Metadata"] = "filename ***";
  EXPECT_TRUE(is_error(create(http(), 10, bad_meta), 400, "bad_request"));
  // A body of another type with the creation: 415.
  auto typed = key;
  typed["Upload-Length"] = "4";
  typed["Content-Type"] = "image/png";
  EXPECT_TRUE(is_error(http().request("POST", kEndpoint, "abcd", typed), 415, "unsupported_media"));

  auto made = create(http(), 10, key);
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string url = upload_path(made);
  auto wrong_type = chunk_headers(0, kWriterA);
  wrong_type["Content-Type"] = "application/octet-stream";
  EXPECT_TRUE(is_error(http().request("PATCH", url, "abc", wrong_type), 415, "unsupported_media"));
  auto no_offset = chunk_headers(0, kWriterA);
  no_offset.erase("Upload-Offset");
  EXPECT_TRUE(is_error(http().request("PATCH", url, "abc", no_offset), 400, "bad_request"));
  EXPECT_TRUE(is_error(http().request("PATCH", url, "abc", chunk_headers(3, kWriterA)), 409, "conflict"));
  EXPECT_TRUE(is_error(http().request("PATCH", url, std::string(11, 'x'), chunk_headers(0, kWriterA)), 413,
                       "payload_too_large"));
  EXPECT_EQ(http().request("HEAD", url, {}, key).header("Upload-Offset"), "0") << "refused bodies wrote nothing";
  auto patch_no_version = chunk_headers(0, kWriterA);
  patch_no_version.erase("Tus-Resumable");
  EXPECT_TRUE(is_error(http().request("PATCH", url, "abc", patch_no_version), 412, "precondition_failed"));
  // X-HTTP-Method-Override: a POST that is a PATCH.
  auto overridden = chunk_headers(0, kWriterA);
  overridden["X-HTTP-Method-Override"] = "PATCH";
  auto via_post = http().request("POST", url, "abc", overridden);
  EXPECT_EQ(via_post.status, 204) << via_post.describe();
  EXPECT_EQ(via_post.header("Upload-Offset"), "3");
  EXPECT_TRUE(is_error(http().request("POST", url, "abc", chunk_headers(3, kWriterA)), 400, "bad_request"));
  EXPECT_EQ(http().request("HEAD", std::string(kEndpoint) + "NoSuchUploadNoSuchUploadNoSuchUpload00000", {}, key).status,
            404);
}

TEST_F(ResumableTest, AKeyUploadNeedsAKeyOfItsTenant) {
  auto made = create(http(), 10, tus_headers(kWriterA));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string url = upload_path(made);
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers()).status, 401);
  auto keyless = http().request("PATCH", url, "abc", chunk_headers(0));
  EXPECT_TRUE(is_error(keyless, 401, "unauthorized"));
  // Refused before the handler runs, and still answered as tus answers.
  EXPECT_EQ(keyless.header("Tus-Resumable"), "1.0.0");
  // Tenant b's key: the same 404 as an upload that never existed.
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers(kWriterB)).status, 404);
  EXPECT_TRUE(is_error(http().request("PATCH", url, "abc", chunk_headers(0, kWriterB)), 404, "not_found"));
  EXPECT_TRUE(is_error(http().request("DELETE", url, {}, tus_headers(kWriterB)), 404, "not_found"));
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers(kWriterA)).status, 200) << "still there for its tenant";
  // No key and no link: 401; a bad key: 401.
  EXPECT_TRUE(is_error(create(http(), 10, tus_headers()), 401, "unauthorized"));
  EXPECT_EQ(create(http(), 10, tus_headers("no-such-key")).status, 401);
}

TEST_F(ResumableTest, AnUploadLinkAuthorisesAndCountsAsOneUse) {
  const std::string token = make_link(R"({"expires_in": "PT10M", "max_uploads": 1, "tags": ["via-link"],
                                          "formats": ["png"], "max_bytes": 200000})");
  auto with_link = [&](std::int64_t length, const std::string& link) {
    auto h = tus_headers();
    h["Upload-Metadata"] = metadata({{"filename", "l.png"}, {"link", link}});
    return create(http(), length, h);
  };
  EXPECT_TRUE(is_error(with_link(10, "NoSuchLinkNoSuchLinkNoSuchLink0000000000000"), 404, "not_found"));
  EXPECT_TRUE(is_error(with_link(300000, token), 413, "payload_too_large")) << "over the link's max_bytes";

  // Not a PNG: refused when complete, the upload removed and the use given back.
  const std::string jpeg = make_image(20, 20, 9703, ".jpg");
  auto refused = with_link(static_cast<std::int64_t>(jpeg.size()), token);
  ASSERT_EQ(refused.status, 201) << refused.describe();
  EXPECT_TRUE(is_error(with_link(10, token), 410, "link_expired")) << "the one use is taken";
  auto rejected = http().request("PATCH", upload_path(refused), jpeg, chunk_headers(0));
  EXPECT_TRUE(is_error(rejected, 415, "unsupported_media")) << rejected.describe();
  EXPECT_EQ(http().request("HEAD", upload_path(refused), {}, tus_headers()).status, 404);
  EXPECT_FALSE(fs::exists(part_file(server(), upload_path(refused))));

  const std::string png = make_image(24, 24, 9704);
  auto made = with_link(static_cast<std::int64_t>(png.size()), token);
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string url = upload_path(made);
  // The upload URL is the proof: no key on the next requests.
  auto head = http().request("HEAD", url, {}, tus_headers());
  EXPECT_EQ(head.status, 200) << head.describe();
  EXPECT_EQ(head.header("Upload-Metadata").find("link"), std::string::npos) << "the link token is not kept";
  auto done = http().request("PATCH", url, png, chunk_headers(0));
  ASSERT_EQ(done.status, 204) << done.describe();
  const std::string id = done.header("ProgImage-Image-Id");
  ASSERT_FALSE(id.empty());
  auto info = image_info(id);  // tenant a's
  EXPECT_EQ(json::serialize(info.at("tags")), R"(["via-link"])");
  EXPECT_EQ(http().get("/v1/images/" + id + "/info", {{"Authorization", std::string("Bearer ") + kWriterB}}).status, 404);
  EXPECT_TRUE(is_error(with_link(10, token), 410, "link_expired"));
}

TEST_F(ResumableTest, RevokingTheLinkEndsItsUnfinishedUploads) {
  auto r = http().request("POST", "/v1/upload-links", R"({"expires_in": "PT10M", "max_uploads": 2})",
                          {{"Authorization", std::string("Bearer ") + kAdminA}, {"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.describe();
  const std::string link_id = jstring(*r.json(), "id");
  const std::string token = jstring(*r.json(), "url").substr(std::string("/v1/uploads/").size());
  auto h = tus_headers();
  h["Upload-Metadata"] = metadata({{"link", token}});
  auto made = create(http(), 100, h);
  ASSERT_EQ(made.status, 201) << made.describe();
  ASSERT_EQ(http().request("PATCH", upload_path(made), std::string(10, 'x'), chunk_headers(0)).status, 204);
  ASSERT_EQ(http().request("DELETE", "/v1/upload-links/" + link_id, {}, {{"Authorization", std::string("Bearer ") + kAdminA}})
                .status,
            204);
  auto after = http().request("PATCH", upload_path(made), std::string(10, 'x'), chunk_headers(10));
  EXPECT_TRUE(is_error(after, 410, "link_expired")) << after.describe();
  EXPECT_EQ(http().request("HEAD", upload_path(made), {}, tus_headers()).status, 404);
  EXPECT_FALSE(fs::exists(part_file(server(), upload_path(made))));
}

// ---------------------------------------------------------------- expiry

class ResumableExpiryTest : public SharedServerTest<ResumableExpiryTest> {
 public:
  static ServerOptions server_options() {
    auto args = key_args();
    args.insert(args.end(), {"--resumable-expiry", "2s"});
    return {.args = args};
  }
};

TEST_F(ResumableExpiryTest, UnfinishedUploadsExpireAndTheirBytesAreRemoved) {
  auto made = create(http(), 1000, tus_headers(kWriterA));
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string url = upload_path(made);
  ASSERT_EQ(http().request("PATCH", url, std::string(400, 'x'), chunk_headers(0, kWriterA)).status, 204);
  ASSERT_TRUE(fs::exists(part_file(server(), url)));
  std::this_thread::sleep_for(2100ms);
  // Past its expiry it is gone at once, and the sweep (every 2 s here) removes the bytes.
  EXPECT_EQ(http().request("HEAD", url, {}, tus_headers(kWriterA)).status, 404);
  EXPECT_TRUE(is_error(http().request("PATCH", url, "x", chunk_headers(400, kWriterA)), 404, "not_found"));
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
    if (part_files(server()).empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(part_files(server()).empty()) << "the sweep left the bytes of an expired upload";
}

// ---------------------------------------------------------------- tus-js-client

/// The directory of the Node.js peer (package.json, tus_upload.js).
fs::path peer_dir() { return fs::path(PROGIMAGE_TUS_DIR); }

/// `node` on PATH, or "".
std::string find_node() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    auto candidate = fs::path(dir.empty() ? "." : dir) / "node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

struct TusRun {
  int status = -1;
  std::string output;
  json::value result;  // the RESULT line's object
};

/// Runs tests/tus/tus_upload.js with these arguments (JSON); fails the test
/// when Node.js or the npm module is missing.
TusRun run_tus(const json::object& args) {
  TusRun run;
  const auto node = find_node();
  if (node.empty()) {
    ADD_FAILURE() << "Node.js is not installed (no `node` on PATH): install it (Debian: apt-get install nodejs npm, "
                     "or scripts/install-deps.sh --test)";
    return run;
  }
  if (!fs::exists(peer_dir() / "node_modules" / "tus-js-client" / "package.json")) {
    ADD_FAILURE() << "tus-js-client is not installed: run `npm ci` in " << peer_dir();
    return run;
  }
  auto [status, output] = run_command({node, (peer_dir() / "tus_upload.js").string(), json::serialize(args)}, 120s, {},
                                      peer_dir());
  run.status = status;
  run.output = output;
  auto at = output.rfind("RESULT ");
  if (at == std::string::npos) {
    ADD_FAILURE() << "tus_upload.js printed no RESULT line:\n" << tail(output);
    return run;
  }
  auto line = output.substr(at + 7);
  line = line.substr(0, line.find('\n'));
  boost::system::error_code ec;
  run.result = json::parse(line, ec);
  if (ec) ADD_FAILURE() << "tus_upload.js printed a RESULT that is not JSON: " << line;
  return run;
}

/// The requests the client sent, as "METHOD STATUS OFFSET" lines, for messages.
std::string requests_text(const TusRun& run) {
  std::string out;
  if (auto* r = jfind(run.result, "requests"); r && r->is_array())
    for (const auto& q : r->as_array())
      out += jstring(q, "method") + " " + std::to_string(jint(q, "status")) + " " + jstring(q, "offset") + "\n";
  return out;
}

const json::array& requests_of(const TusRun& run) {
  static const json::array none;
  auto* r = jfind(run.result, "requests");
  return r && r->is_array() ? r->as_array() : none;
}

class TusJsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(ServerOptions{.args = key_args()});
    ASSERT_TRUE(server_->start());
    work_ = server_->dir() / "tus-client";
    fs::create_directories(work_);
  }

  /// A multi-megabyte PNG written where the client reads it.
  fs::path image_file(std::uint32_t seed, std::string& bytes) {
    bytes = make_image(1800, 1400, seed, ".png");
    auto path = work_ / ("image-" + std::to_string(seed) + ".png");
    write_file(path, bytes);
    return path;
  }

  json::object args(const std::string& mode, const fs::path& file) {
    return json::object{{"mode", mode},
                        {"endpoint", server_->base_url() + kEndpoint},
                        {"file", file.string()},
                        {"store", (work_ / "urls.json").string()},
                        {"headers", json::object{{"Authorization", std::string("Bearer ") + kWriterA}}},
                        {"metadata", json::object{{"filename", file.filename().string()}, {"tags", "tus,big"}}}};
  }

  /// The resume started from the stored URL with HEAD (no new upload), at an
  /// offset inside the file, and ended in the image; its id.
  std::string expect_resumed(const TusRun& resumed, const std::string& url, std::int64_t size) {
    EXPECT_EQ(resumed.status, 0) << tail(resumed.output);
    const auto& reqs = requests_of(resumed);
    EXPECT_FALSE(reqs.empty()) << tail(resumed.output);
    if (reqs.empty()) return {};
    EXPECT_EQ(jstring(reqs[0], "method"), "HEAD") << requests_text(resumed);
    EXPECT_EQ(jint(reqs[0], "status"), 200) << requests_text(resumed);
    const auto from = std::stoll(jstring(reqs[0], "offset").empty() ? "0" : jstring(reqs[0], "offset"));
    EXPECT_GT(from, 0) << "the resume started from nothing";
    EXPECT_LT(from, size);
    for (const auto& q : reqs) EXPECT_NE(jstring(q, "method"), "POST") << "a new upload was made:\n" << requests_text(resumed);
    EXPECT_EQ(jstring(resumed.result, "url"), url) << "resumed elsewhere than the stored URL";
    const auto& last = reqs.back();
    EXPECT_EQ(jstring(last, "method"), "PATCH");
    EXPECT_EQ(jint(last, "status"), 204);
    EXPECT_EQ(jstring(last, "offset"), std::to_string(size));
    return jstring(resumed.result, "image_id");
  }

  /// The stored original is the file, byte for byte, with the metadata's name and tags.
  void expect_stored(const std::string& id, const std::string& bytes, const std::string& name) {
    ASSERT_FALSE(id.empty()) << "no ProgImage-Image-Id";
    auto original = server_->http().get("/v1/images/" + id, {{"Authorization", std::string("Bearer ") + kWriterA}});
    ASSERT_EQ(original.status, 200) << original.describe();
    EXPECT_EQ(original.body.size(), bytes.size());
    EXPECT_EQ(sha256_hex(original.body), sha256_hex(bytes)) << "the original differs from what was sent";
    auto info = server_->http().get("/v1/images/" + id + "/info", {{"Authorization", std::string("Bearer ") + kWriterA}});
    ASSERT_EQ(info.status, 200) << info.describe();
    EXPECT_EQ(jstring(*info.json(), "name"), name);
    EXPECT_EQ(json::serialize(info.json()->at("tags")), R"(["big","tus"])");
    EXPECT_TRUE(part_files(*server_).empty()) << "the bytes of the finished upload are still there";
  }

  std::unique_ptr<Server> server_;
  fs::path work_;
};

TEST_F(TusJsClientTest, AnUploadCutOffMidRequestResumesToAByteIdenticalOriginal) {
  std::string bytes;
  auto file = image_file(9801, bytes);
  const auto size = static_cast<std::int64_t>(bytes.size());
  ASSERT_GT(size, 4 << 20) << "a multi-megabyte image";
  // The network fails after 2.5 MB have left the client: in the middle of the one PATCH.
  auto cut_args = args("cut", file);
  cut_args["network_cut"] = true;
  cut_args["cut_after"] = 2'500'000;
  auto cut = run_tus(cut_args);
  ASSERT_EQ(cut.status, 0) << tail(cut.output);
  const std::string url = jstring(cut.result, "url");
  ASSERT_TRUE(url.starts_with(server_->base_url() + kEndpoint)) << tail(cut.output);
  EXPECT_NE(jstring(cut.result, "cut").find("ECONNRESET"), std::string::npos) << tail(cut.output);

  auto resumed = run_tus(args("resume", file));
  const auto id = expect_resumed(resumed, url, size);
  // The server kept what arrived before the cut: the resume starts near it,
  // not at a chunk boundary (there was only one chunk).
  const auto from = std::stoll(jstring(requests_of(resumed).at(0), "offset"));
  EXPECT_GT(from, 500'000) << requests_text(resumed);
  EXPECT_LE(from, 2'500'000) << requests_text(resumed);
  expect_stored(id, bytes, file.filename().string());
}

TEST_F(TusJsClientTest, AnUploadResumesAfterTheServerWasKilled) {
  std::string bytes;
  auto file = image_file(9802, bytes);
  const auto size = static_cast<std::int64_t>(bytes.size());
  // 1 MiB chunks, the client stops after the one that reaches 2 MiB.
  auto cut_args = args("cut", file);
  cut_args["chunk_size"] = 1 << 20;
  cut_args["cut_after"] = 2 << 20;
  auto cut = run_tus(cut_args);
  ASSERT_EQ(cut.status, 0) << tail(cut.output);
  const std::string url = jstring(cut.result, "url");
  const auto acknowledged = jint(cut.result, "sent");
  ASSERT_GE(acknowledged, 2 << 20) << tail(cut.output);

  server_->kill9();
  ASSERT_TRUE(server_->restart()) << tail(server_->stderr_text());
  // The offset of every acknowledged byte survived the kill.
  auto head = server_->http().request("HEAD", url.substr(server_->base_url().size()), {}, tus_headers(kWriterA));
  ASSERT_EQ(head.status, 200) << head.describe();
  EXPECT_EQ(head.header("Upload-Offset"), std::to_string(acknowledged));

  auto resumed = run_tus(args("resume", file));
  const auto id = expect_resumed(resumed, url, size);
  EXPECT_EQ(jstring(requests_of(resumed).at(0), "offset"), std::to_string(acknowledged));
  expect_stored(id, bytes, file.filename().string());
  auto [check_status, check_output] = server_->check();
  EXPECT_EQ(check_status, 0) << check_output;
}

TEST_F(TusJsClientTest, AnUploadLinkAuthorisesTheClientWithoutAKey) {
  auto link = server_->http().request(
      "POST", "/v1/upload-links", R"({"expires_in": "PT10M", "tags": ["big", "tus"]})",
      {{"Authorization", std::string("Bearer ") + kAdminA}, {"Content-Type", "application/json"}});
  ASSERT_EQ(link.status, 201) << link.describe();
  const std::string token = jstring(*link.json(), "url").substr(std::string("/v1/uploads/").size());
  std::string bytes;
  auto file = image_file(9803, bytes);
  auto full = args("full", file);
  full["headers"] = json::object{};
  full["metadata"] = json::object{{"filename", "linked.png"}, {"link", token}};
  full["chunk_size"] = 3 << 20;
  auto run = run_tus(full);
  ASSERT_EQ(run.status, 0) << tail(run.output);
  const auto chunks = (bytes.size() + (3u << 20) - 1) / (3u << 20);
  EXPECT_EQ(requests_of(run).size(), 1 + chunks) << requests_text(run);  // POST, then a PATCH per chunk
  expect_stored(jstring(run.result, "image_id"), bytes, "linked.png");
}

}  // namespace
}  // namespace progimage::contract
