// S3BlobStore against a real s3rver, through sigv4_proxy.py, which checks
// every request's signature with botocore (tests/s3). Nothing is mocked: a
// failure is injected by asking the proxy to answer a request with one.
#include "storage/s3_blob_store.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "s3_peer.hpp"

namespace fs = std::filesystem;
using namespace progimage;
using storage::S3BlobStore;
using storage::S3Options;
using storage::Space;
using test_peers::S3Peer;

namespace {

constexpr const char* kBucket = "progimage";
constexpr std::int64_t kMiB = 1 << 20;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 random(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(random());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// How many requests of the proxy's log have `method` and a path?query holding `text`.
int count_requests(const std::string& log, const std::string& method, const std::string& text) {
  int n = 0;
  const boost::json::value parsed = boost::json::parse(log);
  for (const auto& entry : parsed.as_array()) {
    const auto& e = entry.as_object();
    const std::string target = std::string(e.at("path").as_string()) + "?" + std::string(e.at("query").as_string());
    if (e.at("method").as_string() == method && target.find(text) != std::string::npos) ++n;
  }
  return n;
}

class S3BlobStoreTest : public ::testing::Test {
 protected:
  // One peer per process (ctest runs each test in its own; a plain run of
  // the executable shares one): s3rver takes about a second to start.
  // A peer that cannot start fails every test saying why (thrown here, gtest
  // would only skip them).
  static void SetUpTestSuite() {
    try {
      peer_ = std::make_unique<S3Peer>(std::vector<std::string>{kBucket});
    } catch (const std::exception& e) {
      peer_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { peer_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(peer_) << "the S3 test peer did not start: " << peer_error_;
    peer_->reset_proxy();
    staging_ = fs::temp_directory_path() / ("progimage-s3-staging-" + core::new_id());
    // Each test its own prefix: the bucket is shared by the suite.
    prefix_ = "t" + core::new_id();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }

  S3Options options() const {
    S3Options o;
    o.bucket = kBucket;
    o.endpoint = peer_->endpoint();
    o.region = S3Peer::kRegion;
    o.prefix = prefix_;
    o.credentials = {S3Peer::kKey, S3Peer::kKey, ""};
    o.staging_dir = staging_;
    o.multipart_threshold = 5 * kMiB;
    o.retry.first_backoff = std::chrono::milliseconds(5);
    o.retry.deadline = std::chrono::milliseconds(5'000);
    return o;
  }
  std::unique_ptr<S3BlobStore> store() const { return std::make_unique<S3BlobStore>(options()); }

  /// Stages and publishes `bytes` as an original; returns its key.
  static std::string publish(S3BlobStore& store, const std::string& bytes) {
    const std::string key = core::sha256_hex(bytes);
    auto staged = store.create_staging();
    staged->write(bytes.data(), bytes.size());
    store.publish(*staged, Space::originals, key);
    return key;
  }

  void expect_all_signed_right() const {
    const auto stats = peer_->stats();
    EXPECT_GT(stats.checked, 0);
    EXPECT_EQ(stats.failed, 0) << peer_->log();
  }

  static std::unique_ptr<S3Peer> peer_;
  static std::string peer_error_;
  fs::path staging_;
  std::string prefix_;
};

std::unique_ptr<S3Peer> S3BlobStoreTest::peer_;
std::string S3BlobStoreTest::peer_error_;

TEST_F(S3BlobStoreTest, PublishesSmallBlobInOnePutAndReadsItBack) {
  auto s = store();
  const std::string bytes = random_bytes(300 * 1024, 1);
  const std::string key = publish(*s, bytes);

  EXPECT_TRUE(s->exists(Space::originals, key));
  EXPECT_EQ(s->size_of(Space::originals, key), static_cast<std::int64_t>(bytes.size()));
  EXPECT_TRUE(s->read(Space::originals, key) == bytes);
  fs::path downloaded;
  {
    auto blob = s->open(Space::originals, key);
    ASSERT_TRUE(blob);
    EXPECT_EQ(blob->size(), static_cast<std::int64_t>(bytes.size()));
    downloaded = blob->path();
    EXPECT_TRUE(slurp(downloaded) == bytes);
  }
  EXPECT_FALSE(fs::exists(downloaded)) << "the download outlived its LocalBlob";

  const auto log = peer_->log();
  EXPECT_EQ(count_requests(log, "PUT", "/originals/" + key), 1);
  EXPECT_EQ(count_requests(log, "POST", "uploads"), 0);
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, PublishesLargeBlobInPartsAndReadsItBack) {
  auto s = store();
  const std::string bytes = random_bytes(11 * kMiB, 2);  // parts of 5, 5 and 1 MiB
  const std::string key = publish(*s, bytes);

  EXPECT_TRUE(s->read(Space::originals, key) == bytes);
  auto blob = s->open(Space::originals, key);
  ASSERT_TRUE(blob);
  EXPECT_TRUE(slurp(blob->path()) == bytes);

  const auto log = peer_->log();
  EXPECT_EQ(count_requests(log, "POST", "uploads="), 1);
  EXPECT_EQ(count_requests(log, "PUT", "partNumber="), 3);
  EXPECT_EQ(count_requests(log, "POST", "uploadId="), 1);
  EXPECT_EQ(peer_->stats().open_uploads, 0);
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, ExistingObjectIsNotSentAgain) {
  auto s = store();
  const std::string bytes = random_bytes(1000, 3);
  const std::string key = publish(*s, bytes);
  publish(*s, bytes);
  EXPECT_EQ(count_requests(peer_->log(), "PUT", "/originals/" + key), 1);
  EXPECT_EQ(count_requests(peer_->log(), "HEAD", "/originals/" + key), 2);
}

TEST_F(S3BlobStoreTest, FailedPartAbortsTheMultipartUpload) {
  auto s = store();
  const std::string bytes = random_bytes(11 * kMiB, 4);
  const std::string key = core::sha256_hex(bytes);
  peer_->fail_next("PUT", "partNumber=2", 100, "500");  // every attempt at part 2

  auto staged = s->create_staging();
  staged->write(bytes.data(), bytes.size());
  try {
    s->publish(*staged, Space::originals, key);
    FAIL() << "publish returned although part 2 was never stored";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable) << e.what();
  }

  const auto log = peer_->log();
  EXPECT_EQ(count_requests(log, "PUT", "partNumber=2"), 4) << "part 2 retried up to the attempt limit";
  EXPECT_EQ(count_requests(log, "PUT", "partNumber=3"), 0);
  EXPECT_EQ(count_requests(log, "POST", "uploadId="), 0) << "completed an upload with a missing part";
  EXPECT_EQ(count_requests(log, "DELETE", "uploadId="), 1);
  EXPECT_FALSE(s->exists(Space::originals, key));
  // No upload left open: as ListMultipartUploads tells the AWS CLI, and on
  // s3rver's disk (where the proxy's abort removed the parts).
  const auto [status, listing] = peer_->aws({"s3api", "list-multipart-uploads", "--bucket", kBucket});
  EXPECT_EQ(status, 0) << listing;
  EXPECT_EQ(listing.find("UploadId"), std::string::npos) << listing;
  const fs::path uploads = peer_->s3rver_dir() / kBucket / "._S3rver_uploads";
  EXPECT_TRUE(!fs::exists(uploads) || fs::is_empty(uploads));
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, ReadsRanges) {
  auto s = store();
  const std::string bytes = random_bytes(3 * kMiB + 17, 5);
  const std::string key = publish(*s, bytes);
  const auto size = static_cast<std::int64_t>(bytes.size());
  const std::pair<std::int64_t, std::int64_t> ranges[] = {
      {0, 1}, {10, 100}, {0, size}, {kMiB - 3, 2 * kMiB}, {size - 5, 5}, {size - 5, 100}, {size, 10}, {size + 9, 1}};
  for (auto [offset, length] : ranges) {
    std::string got;
    int pieces = 0;
    EXPECT_TRUE(s->read_range(Space::originals, key, offset, length, [&](std::string_view p) {
      got.append(p);
      ++pieces;
    }));
    const auto first = static_cast<std::size_t>(std::min(offset, size));
    EXPECT_TRUE(got == bytes.substr(first, static_cast<std::size_t>(length)))
        << offset << "+" << length << ": got " << got.size() << " bytes";
  }
  EXPECT_FALSE(s->read_range(Space::originals, std::string(64, 'a'), 0, 10, [](std::string_view) {
    ADD_FAILURE() << "bytes of a missing blob";
  }));
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, MissingBlobsAreNulloptAndRemovingThemIsFine) {
  auto s = store();
  const std::string key(64, 'b');
  EXPECT_FALSE(s->exists(Space::derivatives, key));
  EXPECT_FALSE(s->read(Space::derivatives, key));
  EXPECT_FALSE(s->open(Space::derivatives, key));
  EXPECT_FALSE(s->size_of(Space::derivatives, key));
  EXPECT_NO_THROW(s->remove(Space::derivatives, key));

  s->put(Space::derivatives, key, "derived bytes");
  EXPECT_EQ(s->read(Space::derivatives, key), "derived bytes");
  EXPECT_FALSE(s->exists(Space::originals, key)) << "spaces are apart";
  s->remove(Space::derivatives, key);
  EXPECT_FALSE(s->exists(Space::derivatives, key));
  EXPECT_THROW(s->exists(Space::originals, "../etc"), std::invalid_argument);
  EXPECT_THROW(s->put(Space::outputs, "ABCDEF", "x"), std::invalid_argument);
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, RetriesIdempotentRequestsAfter503AndDroppedConnections) {
  auto s = store();
  const std::string key(64, 'c');
  s->put(Space::outputs, key, "kept output");
  peer_->fail_next("GET", "/outputs/" + key, 1, "503");
  EXPECT_EQ(s->read(Space::outputs, key), "kept output");
  peer_->fail_next("GET", "/outputs/" + key, 2, "drop");
  EXPECT_EQ(s->read(Space::outputs, key), "kept output");
  peer_->fail_next("PUT", "/outputs/" + key, 1, "429");
  EXPECT_NO_THROW(s->put(Space::outputs, key, "kept output"));

  const auto log = peer_->log();
  EXPECT_EQ(count_requests(log, "GET", "/outputs/" + key), 2 + 3);
  EXPECT_EQ(count_requests(log, "PUT", "/outputs/" + key), 1 + 2);
  EXPECT_EQ(peer_->stats().injected, 4);
}

TEST_F(S3BlobStoreTest, GivesUpAfterTheAttemptLimit) {
  auto s = store();
  const std::string key(64, 'd');
  peer_->fail_next("GET", "/outputs/" + key, 100, "503");
  try {
    s->read(Space::outputs, key);
    FAIL() << "read succeeded through a 503 on every attempt";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable);
  }
  EXPECT_EQ(count_requests(peer_->log(), "GET", "/outputs/" + key), 4);
}

TEST_F(S3BlobStoreTest, NeverRetriesStartOrCompletionOfAMultipartUpload) {
  auto s = store();
  const std::string bytes = random_bytes(6 * kMiB, 6);
  const std::string key = core::sha256_hex(bytes);
  auto try_publish = [&] {
    auto staged = s->create_staging();
    staged->write(bytes.data(), bytes.size());
    EXPECT_THROW(s->publish(*staged, Space::originals, key), core::Error);
  };

  peer_->fail_next("POST", "uploads=", 1, "503");
  try_publish();
  auto log = peer_->log();
  EXPECT_EQ(count_requests(log, "POST", "uploads="), 1);
  EXPECT_EQ(count_requests(log, "PUT", "partNumber="), 0);

  peer_->reset_proxy();
  peer_->fail_next("POST", "uploadId=", 1, "503");
  try_publish();
  log = peer_->log();
  EXPECT_EQ(count_requests(log, "POST", "uploadId="), 1) << "a completion was sent again blindly";
  EXPECT_EQ(count_requests(log, "DELETE", "uploadId="), 1);
  EXPECT_EQ(peer_->stats().open_uploads, 0);
  EXPECT_FALSE(s->exists(Space::originals, key));

  // With nothing injected the same bytes go up.
  auto staged = s->create_staging();
  staged->write(bytes.data(), bytes.size());
  s->publish(*staged, Space::originals, key);
  EXPECT_TRUE(s->read(Space::originals, key) == bytes);
}

TEST_F(S3BlobStoreTest, StoppedServerMakesItUnhealthyAndPublishUnavailable) {
  auto s = store();
  const std::string stored = publish(*s, random_bytes(2000, 7));
  EXPECT_TRUE(s->healthy());

  peer_->stop_s3rver();
  EXPECT_FALSE(s->healthy());
  auto staged = s->create_staging();
  staged->write("abc", 3);
  try {
    s->publish(*staged, Space::originals, core::sha256_hex("abc"));
    FAIL() << "publish returned with the server down";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable) << e.what();
  }
  // A store that cannot answer is not a store without the blob.
  EXPECT_THROW(s->read(Space::originals, stored), core::Error);
  EXPECT_THROW(s->exists(Space::originals, stored), core::Error);

  peer_->start_s3rver();
  EXPECT_TRUE(s->healthy());
  EXPECT_TRUE(s->exists(Space::originals, stored));
  EXPECT_FALSE(s->exists(Space::originals, core::sha256_hex("abc")));
}

TEST_F(S3BlobStoreTest, ProxyRefusesAWronglySignedRequest) {
  auto o = options();
  o.credentials.secret_access_key = "not-the-secret";
  S3BlobStore wrong(o);
  EXPECT_FALSE(wrong.healthy());
  try {
    wrong.put(Space::derivatives, std::string(64, 'e'), "bytes");
    FAIL() << "a wrongly signed PUT was accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable);
  }
  const auto stats = peer_->stats();
  EXPECT_EQ(stats.failed, 2);
  EXPECT_EQ(stats.forwarded, 0);
  EXPECT_NE(peer_->log().find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_FALSE(store()->exists(Space::derivatives, std::string(64, 'e')));
}

TEST_F(S3BlobStoreTest, SessionTokenIsSentAndSigned) {
  auto o = options();
  o.credentials.session_token = "a-session-token";
  S3BlobStore s(o);
  s.put(Space::derivatives, std::string(64, 'f'), "with a token");
  EXPECT_EQ(s.read(Space::derivatives, std::string(64, 'f')), "with a token");
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, AwsCliReadsWhatTheStoreWroteAndTheStoreReadsWhatItWrote) {
  auto s = store();
  const std::string small = random_bytes(4096, 8), large = random_bytes(6 * kMiB, 9);
  const std::string small_key = publish(*s, small), large_key = publish(*s, large);

  const std::string base = std::string("s3://") + kBucket + "/" + prefix_;
  const auto [ls_status, listing] = peer_->aws({"s3", "ls", base + "/originals/"}, false);
  ASSERT_EQ(ls_status, 0) << listing;
  EXPECT_NE(listing.find(small_key), std::string::npos) << listing;
  EXPECT_NE(listing.find(large_key), std::string::npos) << listing;
  for (const auto& [key, bytes] : {std::pair{small_key, small}, std::pair{large_key, large}}) {
    const fs::path copy = staging_ / ("cli-" + key);
    const auto [cp_status, out] = peer_->aws({"s3", "cp", base + "/originals/" + key, copy.string()}, false);
    ASSERT_EQ(cp_status, 0) << out;
    EXPECT_TRUE(slurp(copy) == bytes);
  }

  const std::string theirs = random_bytes(70'000, 10);
  const fs::path file = staging_ / "theirs.bin";
  std::ofstream(file, std::ios::binary) << theirs;
  const auto [put_status, out] = peer_->aws({"s3", "cp", file.string(), base + "/derivatives/0123abcd"});
  ASSERT_EQ(put_status, 0) << out;
  EXPECT_TRUE(s->read(Space::derivatives, "0123abcd") == theirs);
  EXPECT_EQ(s->size_of(Space::derivatives, "0123abcd"), static_cast<std::int64_t>(theirs.size()));
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, CreatesItsBucketWhenAsked) {
  auto o = options();
  o.bucket = "fresh" + core::sha256_hex(core::new_id()).substr(0, 12);
  o.create_bucket = true;
  S3BlobStore s(o);
  EXPECT_TRUE(s.healthy());
  s.put(Space::derivatives, std::string(64, 'a'), "in a new bucket");
  EXPECT_EQ(S3BlobStore(o).read(Space::derivatives, std::string(64, 'a')), "in a new bucket")
      << "a second start finds its bucket";
  o.create_bucket = false;
  o.bucket = "missing" + core::sha256_hex(core::new_id()).substr(0, 12);
  EXPECT_FALSE(S3BlobStore(o).healthy());
  expect_all_signed_right();
}

TEST_F(S3BlobStoreTest, SweepRemovesStagingLeftovers) {
  auto s = store();
  auto kept = s->create_staging();
  kept->write("x", 1);
  std::ofstream(staging_ / "old.part") << "left by a crash";
  EXPECT_EQ(s->sweep_staging(), 2u);
  EXPECT_TRUE(fs::is_empty(staging_));
}

// ---- the URL ---------------------------------------------------------------

TEST(S3Url, ReadsEveryParameter) {
  auto o = storage::parse_s3_url(
      "my-bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000/&region=eu-west-3&path_style=true&prefix=/a/b/"
      "&multipart_threshold=8M&create_bucket=true&staging_dir=/tmp/x");
  EXPECT_EQ(o.bucket, "my-bucket");
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(o.region, "eu-west-3");
  EXPECT_TRUE(o.path_style);
  EXPECT_EQ(o.prefix, "a/b");
  EXPECT_EQ(o.multipart_threshold, 8 * kMiB);
  EXPECT_TRUE(o.create_bucket);
  EXPECT_EQ(o.staging_dir, "/tmp/x");

  storage::S3Options defaults;
  defaults.region = "ap-south-1";
  auto plain = storage::parse_s3_url("bucket", defaults);
  EXPECT_EQ(plain.region, "ap-south-1");
  EXPECT_TRUE(plain.endpoint.empty());
  EXPECT_FALSE(plain.path_style);
}

TEST(S3Url, RefusesWhatItDoesNotKnow) {
  EXPECT_THROW(storage::parse_s3_url("b"), std::invalid_argument);
  EXPECT_THROW(storage::parse_s3_url("Bucket"), std::invalid_argument);
  EXPECT_THROW(storage::parse_s3_url("bucket?colour=blue"), std::invalid_argument);
  EXPECT_THROW(storage::parse_s3_url("bucket?multipart_threshold=1M"), std::invalid_argument);
  EXPECT_THROW(storage::parse_s3_url("bucket?endpoint=ftp://x"), std::invalid_argument);
  EXPECT_THROW(storage::parse_s3_url("bucket?path_style=maybe"), std::invalid_argument);
}

TEST(S3Url, ObjectKeysCarryThePrefixAndTheSpace) {
  S3Options o;
  o.bucket = "bucket";
  o.prefix = "prod/img";
  o.credentials = {"k", "s", ""};
  o.staging_dir = fs::temp_directory_path() / ("progimage-s3-keys-" + core::new_id());
  S3BlobStore s(o);
  EXPECT_EQ(s.object_of(Space::originals, "abcd"), "prod/img/originals/abcd");
  EXPECT_EQ(s.object_of(Space::outputs, "0123"), "prod/img/outputs/0123");
  EXPECT_THROW(s.object_of(Space::derivatives, "../x"), std::invalid_argument);
  fs::remove_all(o.staging_dir);
  o.credentials = {};
  EXPECT_THROW(S3BlobStore{o}, std::invalid_argument);
}

TEST(S3Url, AddressesAwsByVirtualHostAndEndpointsByPath) {
  auto url_of = [](const std::string& store_url, const std::string& object, const std::string& query) {
    S3Options defaults;
    defaults.credentials = {"k", "s", ""};
    defaults.staging_dir = fs::temp_directory_path() / "progimage-s3-addressing";
    S3BlobStore s(storage::parse_s3_url(store_url, defaults));
    storage::detail::S3Request r;
    r.object = object;
    r.query = query;
    return s.client().url_of(r);
  };
  EXPECT_EQ(url_of("pics?region=eu-west-1", "originals/abcd", ""),
            "https://pics.s3.eu-west-1.amazonaws.com/originals/abcd");
  EXPECT_EQ(url_of("pics?region=eu-west-1", "", "list-type=2&max-keys=1"),
            "https://pics.s3.eu-west-1.amazonaws.com/?list-type=2&max-keys=1");
  EXPECT_EQ(url_of("pics?region=eu-west-1&path_style=true", "a b/c", "uploads="),
            "https://s3.eu-west-1.amazonaws.com/pics/a%20b/c?uploads=");
  EXPECT_EQ(url_of("pics?endpoint=http://127.0.0.1:9000", "originals/abcd", ""),
            "http://127.0.0.1:9000/pics/originals/abcd");
  EXPECT_EQ(url_of("pics?endpoint=http://127.0.0.1:9000", "", ""), "http://127.0.0.1:9000/pics");
  fs::remove_all(fs::temp_directory_path() / "progimage-s3-addressing");
}

TEST(S3Url, EncodesPathsAsSigV4Wants) {
  using storage::detail::S3Client;
  EXPECT_EQ(S3Client::uri_encode("a b/c~d+e", true), "a%20b/c~d%2Be");
  EXPECT_EQ(S3Client::uri_encode("a/b", false), "a%2Fb");
}

}  // namespace
