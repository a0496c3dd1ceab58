#pragma once
// Blobs as objects of one S3 bucket (AWS or any S3-compatible server):
//   [PREFIX/]originals/<sha256>, [PREFIX/]derivatives/<key>, [PREFIX/]outputs/<key>
// with staging and downloads in a node-local directory.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "storage/blob_store.hpp"
#include "storage/s3_client.hpp"

namespace progimage::storage {

using S3Credentials = detail::S3Credentials;

/// Everything an S3BlobStore needs. parse_s3_url() fills what the URL says.
struct S3Options {
  std::string bucket;
  /// scheme://host[:port] of an S3-compatible server; empty: AWS itself.
  std::string endpoint;
  std::string region = "us-east-1";
  /// BUCKET in the path rather than in the host name. Always so with an endpoint.
  bool path_style = false;
  /// Key prefix without leading or trailing '/', e.g. "prod/images"; empty: none.
  std::string prefix;
  /// Staged blobs of this size or more go up in parts (S3's smallest part is 5 MiB).
  std::int64_t multipart_threshold = 16LL << 20;
  /// Create the bucket at start when it does not exist (for tests and one-off setups).
  bool create_bucket = false;
  /// Node-local directory for staging files and downloads; empty: $TMPDIR/progimage-s3-staging.
  std::filesystem::path staging_dir;
  S3Credentials credentials;
  detail::RetryPolicy retry;
};

/// The smallest part S3 accepts (but for the last).
inline constexpr std::int64_t kS3MinPartSize = 5LL << 20;

/// Reads `BUCKET?endpoint=URL&region=R&path_style=true&prefix=P&multipart_threshold=BYTES&create_bucket=true`
/// (everything after "s3://"; parameters optional; values may be percent-encoded)
/// over `defaults`. Throws std::invalid_argument naming what is wrong.
S3Options parse_s3_url(std::string_view rest, S3Options defaults = {});

/// BlobStore over an S3 bucket, signed with SigV4 (by libcurl). Thread-safe;
/// connections are kept and reused.
///
/// Durability: publish() and put() return only once S3 has answered that the
/// object is stored; bytes are streamed from the staging file, each request
/// carrying the SHA-256 of its payload so that S3 refuses a body damaged on
/// the way. Large blobs go up as a multipart upload, which is aborted on any
/// failure. Keys name their content, so an existing object is never sent again.
///
/// Errors: an invalid key throws std::invalid_argument; S3 or the network
/// failing throws core::Error `unavailable` (after retries of the idempotent
/// requests), so an upload is answered 503 rather than acknowledged unstored.
class S3BlobStore final : public BlobStore {
 public:
  /// Creates the staging directory (and the bucket, when asked). Sends no
  /// request otherwise: a store that is down makes healthy() false, not this
  /// constructor throw. Throws std::invalid_argument for incomplete options.
  explicit S3BlobStore(S3Options options);
  ~S3BlobStore() override;

  std::unique_ptr<StagingFile> create_staging() override;
  void publish(StagingFile& staged, Space space, const std::string& key) override;
  void put(Space space, const std::string& key, std::string_view bytes) override;
  /// Downloads the object into the staging directory; the copy is removed
  /// when the LocalBlob is destroyed.
  std::unique_ptr<LocalBlob> open(Space space, const std::string& key) override;
  std::optional<std::string> read(Space space, const std::string& key) override;
  bool exists(Space space, const std::string& key) override;
  std::optional<std::int64_t> size_of(Space space, const std::string& key) override;
  /// One ranged GET (`Range: bytes=a-b`), streamed to the sink.
  bool read_range(Space space, const std::string& key, std::int64_t offset, std::int64_t length,
                  const std::function<void(std::string_view)>& sink) override;
  void remove(Space space, const std::string& key) override;
  /// Empties the staging directory (staging files and downloads of an earlier run).
  std::size_t sweep_staging() override;
  /// One signed ListObjectsV2 of at most one key, under a 2 s limit, no retry.
  bool healthy() override;
  bool is_local() const noexcept override { return false; }

  /// The object key of a blob, e.g. "prefix/originals/<key>". Throws
  /// std::invalid_argument for an invalid key.
  std::string object_of(Space space, const std::string& key) const;
  const S3Options& options() const noexcept { return options_; }
  /// Where requests go: path-style on the endpoint, else virtual-host on AWS.
  const detail::S3Client& client() const noexcept { return client_; }

 private:
  class Staging;
  Staging& own_staging(StagingFile& staged) const;
  std::optional<std::int64_t> head(const std::string& object);
  void put_whole(const std::string& object, int fd, std::int64_t size);
  void put_in_parts(const std::string& object, int fd, std::int64_t size);
  std::string start_multipart(const std::string& object);
  std::string put_part(const std::string& object, const std::string& upload_id, int number, detail::FileSlice slice);
  void complete_multipart(const std::string& object, const std::string& upload_id,
                          const std::vector<std::string>& etags, std::int64_t size);
  void abort_multipart(const std::string& object, const std::string& upload_id) noexcept;
  void make_bucket();

  S3Options options_;
  detail::S3Client client_;
};

}  // namespace progimage::storage
