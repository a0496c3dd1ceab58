// What every BlobStore promises, checked on each implementation: the file
// store on a temporary directory, the S3 store on a real s3rver behind the
// SigV4-checking proxy (tests/s3).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/hash.hpp"
#include "core/id.hpp"
#include "s3_peer.hpp"
#include "storage/file_blob_store.hpp"
#include "storage/s3_blob_store.hpp"

namespace fs = std::filesystem;
using namespace progimage;
using storage::BlobStore;
using storage::Space;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct FileStores {
  static std::unique_ptr<BlobStore> make(const fs::path& dir) {
    return std::make_unique<storage::FileBlobStore>(dir / "blobs");
  }
};

struct S3Stores {
  static std::unique_ptr<BlobStore> make(const fs::path& dir) {
    // One peer per process, started by the first store that needs it.
    static test_peers::S3Peer peer(std::vector<std::string>{"contract"});
    storage::S3Options o;
    o.bucket = "contract";
    o.endpoint = peer.endpoint();
    o.credentials = {test_peers::S3Peer::kKey, test_peers::S3Peer::kKey, ""};
    o.prefix = "p" + core::new_id();  // a fresh store in the shared bucket
    o.staging_dir = dir / "staging";
    return std::make_unique<storage::S3BlobStore>(o);
  }
};

template <class Stores>
class BlobStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progimage-contract-" + core::new_id());
    fs::create_directories(dir_);
    store_ = Stores::make(dir_);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string publish(const std::string& bytes, Space space = Space::originals) {
    const std::string key = core::sha256_hex(bytes);
    auto staged = store_->create_staging();
    staged->write(bytes.data(), bytes.size());
    store_->publish(*staged, space, key);
    return key;
  }

  fs::path dir_;
  std::unique_ptr<BlobStore> store_;
};

using Implementations = ::testing::Types<FileStores, S3Stores>;
TYPED_TEST_SUITE(BlobStoreContract, Implementations);

TYPED_TEST(BlobStoreContract, PublishedBytesReadBackEveryWay) {
  std::string bytes(200'000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7 + i / 251);
  const std::string key = this->publish(bytes);
  auto& store = *this->store_;
  EXPECT_TRUE(store.exists(Space::originals, key));
  EXPECT_EQ(store.size_of(Space::originals, key), static_cast<std::int64_t>(bytes.size()));
  EXPECT_TRUE(store.read(Space::originals, key) == bytes);
  auto blob = store.open(Space::originals, key);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size(), static_cast<std::int64_t>(bytes.size()));
  EXPECT_TRUE(slurp(blob->path()) == bytes);
  std::string middle;
  EXPECT_TRUE(store.read_range(Space::originals, key, 1000, 5000, [&](std::string_view p) { middle.append(p); }));
  EXPECT_TRUE(middle == bytes.substr(1000, 5000));
}

TYPED_TEST(BlobStoreContract, PublishingAnExistingKeyKeepsOneCopy) {
  const std::string key = this->publish("same bytes");
  EXPECT_EQ(this->publish("same bytes"), key);
  EXPECT_EQ(this->store_->read(Space::originals, key), "same bytes");
}

TYPED_TEST(BlobStoreContract, EmptyBlob) {
  const std::string key = this->publish("");
  EXPECT_EQ(this->store_->read(Space::originals, key), "");
  EXPECT_EQ(this->store_->size_of(Space::originals, key), 0);
  auto blob = this->store_->open(Space::originals, key);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size(), 0);
}

TYPED_TEST(BlobStoreContract, MissingBlobsAreNothingAndRemovalIsIdempotent) {
  auto& store = *this->store_;
  const std::string key(64, '9');
  EXPECT_FALSE(store.exists(Space::outputs, key));
  EXPECT_FALSE(store.read(Space::outputs, key));
  EXPECT_FALSE(store.open(Space::outputs, key));
  EXPECT_FALSE(store.size_of(Space::outputs, key));
  EXPECT_FALSE(store.read_range(Space::outputs, key, 0, 10, [](std::string_view) {}));
  store.put(Space::outputs, key, "out");
  EXPECT_FALSE(store.exists(Space::derivatives, key)) << "spaces are apart";
  store.remove(Space::outputs, key);
  store.remove(Space::outputs, key);
  EXPECT_FALSE(store.exists(Space::outputs, key));
}

TYPED_TEST(BlobStoreContract, RefusesKeysThatAreNotLowerCaseHex) {
  auto& store = *this->store_;
  for (const char* bad : {"", "abc", "../../etc/passwd", "ABCDEF", "abcd/efgh", "abcd efgh"}) {
    EXPECT_THROW(store.put(Space::derivatives, bad, "x"), std::invalid_argument) << bad;
    EXPECT_THROW(store.exists(Space::derivatives, bad), std::invalid_argument) << bad;
  }
}

TYPED_TEST(BlobStoreContract, UnpublishedStagingIsRemovedAndStagingOfAnotherStoreRefused) {
  fs::path path;
  {
    auto staged = this->store_->create_staging();
    staged->write("partial", 7);
    path = staged->path();
    EXPECT_EQ(slurp(path), "partial");
  }
  EXPECT_FALSE(fs::exists(path));
  auto other = TypeParam::make(this->dir_ / "other");
  auto foreign = other->create_staging();
  EXPECT_THROW(this->store_->publish(*foreign, Space::originals, std::string(64, 'a')), std::invalid_argument);
}

TYPED_TEST(BlobStoreContract, AnswersWhenHealthy) { EXPECT_TRUE(this->store_->healthy()); }

}  // namespace
