#pragma once
// One signed S3 request at a time over pooled libcurl handles, with retries
// for the idempotent ones. Internal to the storage module: S3BlobStore turns
// answers into blobs, this file only moves bytes.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/curl.hpp"

namespace progimage::storage::detail {

/// Who signs: an access key, its secret and, for temporary credentials, a
/// session token.
struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none
};

/// How often and how long to try a request before giving up.
struct RetryPolicy {
  int max_attempts = 4;
  std::chrono::milliseconds first_backoff{100};  // the cap of the first sleep; doubled per attempt
  std::chrono::milliseconds max_backoff{2'000};
  std::chrono::milliseconds deadline{20'000};  // no attempt starts later than this after the first
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::seconds stall_timeout{15};  // a transfer that moves no byte for this long fails
};

/// Bytes [offset, offset + length) of an open file.
struct FileSlice {
  int fd = -1;
  std::int64_t offset = 0;
  std::int64_t length = 0;
};

struct S3Request {
  const char* method = "GET";  // GET, HEAD, PUT, POST or DELETE
  std::string object;          // key in the bucket, unencoded; empty: the bucket itself
  std::string query;           // canonical: sorted, encoded, `name=` for a valueless one
  std::variant<std::monostate, std::string_view, FileSlice> body;
  std::string payload_sha256;  // hex; empty: the empty payload's
  std::string content_type;
  std::int64_t range_first = -1;  // >= 0: ask for bytes range_first..range_last
  std::int64_t range_last = -1;   // -1: to the end
  /// Receives a 2xx answer's body; without one it is kept in S3Response::body.
  std::function<void(std::string_view)> sink;
  /// Safe to send twice: only such requests are retried.
  bool idempotent = true;
  /// A health probe: one attempt under a short time limit.
  bool probe = false;
};

struct S3Response {
  long status = 0;
  std::string body;  // unless it went to the sink (capped)
  std::string etag;
  std::optional<std::int64_t> content_length;
  /// The `<Code>` of an S3 error body, e.g. "NoSuchKey".
  std::string error_code() const;
};

/// Where the bucket lives and how to address it.
struct S3Endpoint {
  std::string bucket;
  std::string base;  // scheme://host[:port] without a trailing '/'
  std::string region;
  bool path_style = true;  // base/bucket/key, else base (holding the bucket) /key
};

/// Thread-safe; keeps finished handles (and so their connections) for reuse.
class S3Client {
 public:
  S3Client(S3Endpoint endpoint, S3Credentials credentials, RetryPolicy retry);

  /// Sends `request` and returns the last answer, whatever its status; an
  /// idempotent request is retried on 5xx, 429, a timeout or a connection
  /// failure, with exponential backoff and full jitter, within the policy.
  /// Throws core::Error `unavailable` when no answer came, and rethrows what
  /// the sink threw (never retried).
  S3Response send(const S3Request& request);

  const S3Endpoint& endpoint() const noexcept { return endpoint_; }
  /// The URL a request goes to: path and query already in SigV4's canonical form.
  std::string url_of(const S3Request& request) const;
  /// Percent-encodes everything but unreserved characters (and '/' when
  /// `keep_slash`), as SigV4 wants in paths and query values.
  static std::string uri_encode(std::string_view text, bool keep_slash);

 private:
  struct Attempt;
  core::curl::Easy acquire();
  void release(core::curl::Easy easy);
  S3Response attempt(CURL* easy, const S3Request& request, std::int64_t resume_from, Attempt& state);

  S3Endpoint endpoint_;
  S3Credentials credentials_;
  RetryPolicy retry_;
  std::string sigv4_;  // "aws:amz:REGION:s3"

  std::mutex idle_mu_;
  std::vector<core::curl::Easy> idle_;
};

}  // namespace progimage::storage::detail
