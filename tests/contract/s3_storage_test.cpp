// The server on `--storage s3://...`: a real s3rver behind the proxy that
// checks every request's SigV4 signature with botocore (tests/s3). Uploads,
// ranged and whole originals, transforms and deletes; and a store that goes
// down makes /readyz and uploads 503 without ever acknowledging an image it
// did not store. This suite brings its own peer, whatever PROGIMAGE_TEST_STORAGE says.
#include <thread>

#include "harness.hpp"
#include "s3_peer.hpp"

namespace progimage::contract {
namespace {

using progimage::test_peers::S3Peer;

constexpr const char* kBucket = "contract";

class S3StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    peer_ = std::make_unique<S3Peer>(std::vector<std::string>{kBucket});
    ServerOptions options;
    // Parts of 5 MiB, so that a 6 MB upload goes up in two; given after the
    // harness's own --storage, so it wins.
    options.args = {"--storage",
                    std::string("s3://") + kBucket + "?endpoint=" + peer_->endpoint() + "&multipart_threshold=5M",
                    "--s3-access-key-id", S3Peer::kKey, "--s3-secret-access-key", S3Peer::kKey};
    server_ = std::make_unique<Server>(options);
    ASSERT_TRUE(server_->start()) << tail(server_->stderr_text());
  }
  void TearDown() override {
    server_.reset();
    peer_.reset();
  }

  /// How many images the server lists.
  std::size_t listed() const {
    auto r = server_->http().get("/v1/images?limit=100");
    EXPECT_EQ(r.status, 200) << r.describe();
    auto v = r.json();
    return v ? jfind(*v, "images")->as_array().size() : 0;
  }

  /// Whether the AWS CLI (straight to s3rver) lists the original of `sha256`.
  bool listed_in_bucket(const std::string& sha256) const {
    auto [status, out] = peer_->aws({"s3", "ls", std::string("s3://") + kBucket + "/originals/"}, false);
    return status == 0 && out.find(sha256) != std::string::npos;
  }

  std::unique_ptr<S3Peer> peer_;
  std::unique_ptr<Server> server_;
};

TEST_F(S3StorageTest, UploadRangeTransformAndDeleteGoThroughSignedRequests) {
  auto http = server_->http();
  // Random pixels barely compress: about 6 MB of PNG, above the part size and
  // several ranged reads long.
  const std::string bytes = make_image(1500, 1400, 301, ".png");
  ASSERT_GT(bytes.size(), 5u << 20);
  const std::string sha = sha256_hex(bytes);
  auto up = upload_raw(http, bytes);
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_TRUE(listed_in_bucket(sha)) << "the AWS CLI does not see originals/" << sha;

  auto whole = http.get("/v1/images/" + up.id);
  ASSERT_EQ(whole.status, 200) << whole.describe();
  EXPECT_TRUE(whole.body == bytes) << whole.body.size() << " bytes";
  EXPECT_EQ(whole.header("ETag"), "\"" + sha + "\"");

  const std::string total = std::to_string(bytes.size());
  for (auto [first, last] : {std::pair<std::size_t, std::size_t>{10, 99}, {(2u << 20) - 100, (2u << 20) + 100},
                             {bytes.size() - 50, bytes.size() - 1}}) {
    const std::string range = std::to_string(first) + "-" + std::to_string(last);
    auto part = http.get("/v1/images/" + up.id, {{"Range", "bytes=" + range}});
    ASSERT_EQ(part.status, 206) << part.describe();
    EXPECT_EQ(part.header("Content-Range"), "bytes " + range + "/" + total);
    EXPECT_TRUE(part.body == bytes.substr(first, last - first + 1)) << range;
  }
  auto head = http.request("HEAD", "/v1/images/" + up.id);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), total);

  auto small = http.get("/v1/images/" + up.id + "?w=100&format=webp");
  ASSERT_EQ(small.status, 200) << small.describe();
  auto decoded = decode(small.body);
  EXPECT_EQ(decoded.loader, "webpload") << decoded.error;
  EXPECT_EQ(decoded.width, 100);
  auto again = http.get("/v1/images/" + up.id + "?w=100&format=webp");
  EXPECT_EQ(again.header("X-Cache"), "hit") << "the derivative was not kept in the bucket";

  auto removed = http.request("DELETE", "/v1/images/" + up.id);
  EXPECT_EQ(removed.status, 204) << removed.describe();
  EXPECT_EQ(http.get("/v1/images/" + up.id).status, 404);
  EXPECT_FALSE(listed_in_bucket(sha)) << "the blob outlived its only image";

  const auto stats = peer_->stats();
  EXPECT_GT(stats.checked, 10);
  EXPECT_EQ(stats.failed, 0) << peer_->log();
  const std::string log = peer_->log();
  EXPECT_NE(log.find("partNumber=2"), std::string::npos) << "the upload did not go up in parts";
  // The original was streamed in ranged reads of 2 MiB, not downloaded whole.
  EXPECT_NE(log.find("\"range\": \"bytes=2097152-4194303\""), std::string::npos) << log;
}

TEST_F(S3StorageTest, StoppedStoreGives503AndNeverAcknowledgesAnUnstoredImage) {
  auto http = server_->http();
  auto first = upload_raw(http, make_image(64, 64, 302, ".png"));
  ASSERT_EQ(first.response.status, 201) << first.response.describe();
  EXPECT_EQ(http.get("/readyz").status, 200);

  peer_->stop_s3rver();
  auto ready = http.get("/readyz");
  EXPECT_TRUE(is_error(ready, 503, "unavailable")) << ready.describe();
  const std::string refused_bytes = make_image(64, 64, 303, ".png");
  auto refused = upload_raw(http, refused_bytes);
  EXPECT_TRUE(is_error(refused.response, 503, "unavailable")) << refused.response.describe();
  EXPECT_EQ(listed(), 1u) << "an image was recorded whose bytes were not stored";

  peer_->start_s3rver();
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = http.get("/readyz").status == 200;
    if (!back) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(back) << "/readyz did not recover";
  EXPECT_FALSE(listed_in_bucket(sha256_hex(refused_bytes)));
  auto retried = upload_raw(http, refused_bytes);
  ASSERT_EQ(retried.response.status, 201) << retried.response.describe();
  auto got = http.get("/v1/images/" + retried.id);
  EXPECT_TRUE(got.body == refused_bytes);
  EXPECT_EQ(listed(), 2u);
  EXPECT_EQ(peer_->stats().failed, 0) << peer_->log();
}

}  // namespace
}  // namespace progimage::contract
