#pragma once
/// @file
/// progimage::Client: every endpoint of the ProgImage HTTP API (docs/API.md).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "progimage/error.hpp"
#include "progimage/paged.hpp"
#include "progimage/transform.hpp"
#include "progimage/types.hpp"

namespace progimage {

/// When and how often a failed request is sent again.
///
/// A request is retried on 429 and 503 answers (the server did not act on
/// it), and on 502/504 and transfers without an answer when the request is
/// idempotent (GET, HEAD, PUT, DELETE, and the resumable protocol's PATCH,
/// which resumes from the server's offset). The wait before attempt n is
/// `Retry-After` when the server sent one, else a random time in
/// [0, min(max_delay, base_delay · 2^(n-1))] ("full jitter"). A `Retry-After`
/// longer than `max_delay` ends the retries at once: the error is thrown
/// rather than the request sent before the server would take it. A request body that is a file is re-read from its start.
struct RetryPolicy {
  int max_attempts = 4;  ///< 1: no retries
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{20'000};
};

/// How a Client reaches its server.
struct ClientOptions {
  std::string base_url = "http://127.0.0.1:8080";  ///< scheme, host, port (a path prefix is kept)
  std::string key;    ///< an API key or a bearer token (JWT), sent as `Authorization: Bearer`
  std::string tenant; ///< operators: act as this tenant (`X-ProgImage-Tenant`)
  std::chrono::milliseconds connect_timeout{10'000};
  /// The longest a request may be silent (no byte sent or received) before
  /// it fails with `timeout`; large transfers are not cut while they move.
  std::chrono::milliseconds idle_timeout{60'000};
  RetryPolicy retry;
  /// Secrets for url(): the server's URL-signing secret (the first signs).
  std::string signing_secret;
  std::string user_agent = "progimage-cpp";

  /// Options from the environment: `PROGIMAGE_URL`, `PROGIMAGE_KEY`,
  /// `PROGIMAGE_TENANT`, `PROGIMAGE_SIGNING_SECRET`; unset ones keep their defaults.
  static ClientOptions from_env();
};

/// Progress of a transfer or a batch: bytes (and, for batches, items).
struct Progress {
  std::int64_t bytes_done = 0;
  std::int64_t bytes_total = 0;  ///< 0 when unknown
  int items_done = 0;
  int items_total = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

/// Receives a download's bytes as they arrive; return false to stop.
using ByteSink = std::function<bool(std::string_view chunk)>;

/// What a download was answered with.
struct Download {
  std::string content_type;
  std::int64_t size = 0;
  std::string cache;  ///< `X-Cache`: hit or miss for derivatives, "" for originals
  std::string etag;
};

/// One file or buffer of a batch upload.
struct UploadItem {
  std::filesystem::path path;  ///< a file, streamed; or empty and `bytes` given
  std::string bytes;
  UploadOptions options;
};

/// The outcome of one item of upload_many(): the image, or the error.
struct UploadOutcome {
  std::optional<Image> image;
  std::optional<Error> error;
  bool ok() const { return image.has_value(); }
};

struct BatchOptions {
  int concurrency = 4;  ///< uploads in flight at once, over one curl multi handle
  ProgressCallback on_progress;
  /// Called once per item as it ends, in completion order.
  std::function<void(std::size_t index, const UploadOutcome&)> on_item;
};

struct ResumableOptions {
  std::int64_t chunk_size = 8 << 20;  ///< bytes per PATCH
  ProgressCallback on_progress;
  /// An upload to continue (its `/v1/resumable/{id}` location), from an
  /// earlier attempt; empty starts a new one.
  std::string resume_location;
  /// Told the upload's location once it is created, to keep for a later resume.
  std::function<void(const std::string& location)> on_created;
};

struct WaitOptions {
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds timeout{0};  ///< 0: no limit
  /// Called after each poll with the job as it stands.
  std::function<void(const Job&)> on_progress;
};

/// Options of url().
struct UrlOptions {
  std::string extension;  ///< `webp` → `/v1/images/{id}.webp`; "" for none
  /// Adds `exp` (now + this, whole seconds); signed, so it cannot be moved.
  std::optional<std::chrono::seconds> expires_in;
  std::optional<std::chrono::system_clock::time_point> expires_at;
  bool absolute = true;  ///< with the base URL; false: the path and query only
};

/// A raw answer, for requests the typed calls do not cover.
struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The value of a header (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

/// A ProgImage client. Copies share one connection pool; a Client may be
/// used from several threads at once.
///
/// @code
/// progimage::Client client(progimage::ClientOptions::from_env());
/// auto image = client.upload_file("photo.jpg", {.tags = {"beach"}});
/// client.download(image.id, "thumb.webp",
///                 progimage::Transform{}.width(300).format(progimage::Format::webp));
/// @endcode
///
/// Every call throws progimage::Error when the request does not succeed
/// after its retries.
class Client {
 public:
  explicit Client(ClientOptions options = ClientOptions::from_env());
  ~Client();
  Client(const Client&);
  Client& operator=(const Client&);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const ClientOptions& options() const noexcept;

  /// @name Uploads
  /// Each returns the stored image; `duplicate` tells when the bytes were
  /// stored already (the existing image is returned).
  ///@{
  /// Streams a file from disk (`name` defaults to its file name). A file that
  /// cannot be read throws std::filesystem::filesystem_error, as do the other
  /// calls that read or write local files.
  Image upload_file(const std::filesystem::path& path, UploadOptions options = {}, ProgressCallback on_progress = {});
  Image upload_bytes(std::string_view bytes, UploadOptions options = {});
  /// The server fetches the image from a remote URL.
  Image upload_url(std::string_view url, UploadOptions options = {});
  /// Many uploads at once, at most `concurrency` in flight; never throws for
  /// one item's failure (each outcome says).
  std::vector<UploadOutcome> upload_many(const std::vector<UploadItem>& items, const BatchOptions& options = {});
  /// A large file over the resumable-upload protocol (tus 1.0): chunked,
  /// each chunk retried, resumed from the server's offset after a failure.
  Image upload_resumable(const std::filesystem::path& path, UploadOptions options = {},
                         const ResumableOptions& resumable = {});
  ///@}

  /// @name Reading images
  ///@{
  /// The original bytes, or a derivative when `transform` is not empty.
  std::string get(std::string_view id, const Transform& transform = {});
  /// Streams the original or a derivative into a file (written to a
  /// temporary name beside it and renamed once whole).
  Download download(std::string_view id, const std::filesystem::path& file, const Transform& transform = {},
                    ProgressCallback on_progress = {});
  /// Streams the original or a derivative to a callback.
  Download download(std::string_view id, const ByteSink& sink, const Transform& transform = {});
  ImageInfo info(std::string_view id);
  Image patch(std::string_view id, const ImagePatch& patch);
  /// Deletes the image (204); an unknown id throws `not_found`.
  void remove(std::string_view id);
  /// Images newest first, fetched page by page as the range is walked.
  Paged<Image> search(SearchQuery query = {});
  std::vector<TagCount> tags(int limit = 1000);
  std::vector<SimilarMatch> similar(std::string_view id, SimilarOptions options = {});
  /// Images like these bytes, which are not stored.
  std::vector<SimilarMatch> similar_to(std::string_view bytes, SimilarOptions options = {});
  std::vector<Derivative> derivatives(std::string_view id);
  void purge_derivatives(std::string_view id);
  Explanation explain(std::string_view id, const Transform& transform);
  /// A preset variant's bytes, waiting up to `wait` while it is pending.
  std::string variant(std::string_view id, std::string_view name,
                      std::chrono::milliseconds wait = std::chrono::seconds(30));
  ///@}

  /// @name Processing without storing
  ///@{
  std::string transform(std::string_view bytes, const Transform& transform);
  std::string transform_file(const std::filesystem::path& path, const Transform& transform);
  /// A remote image, transformed (`GET /v1/transform?url=`).
  std::string transform_url(std::string_view url, const Transform& transform);
  ///@}

  /// @name Signed URLs
  ///@{
  /// The URL of an image (with `.ext` and the transform's parameters),
  /// signed with `signing_secret` when it is set, with `exp` when asked.
  /// Made locally: the server is not asked.
  std::string url(std::string_view id, const Transform& transform = {}, const UrlOptions& options = {}) const;
  ///@}

  /// @name Jobs
  ///@{
  Job submit_job(const JobRequest& request);
  /// The job with its first page of results.
  Job job(std::string_view id);
  /// Polls until the job is finished (or `timeout`; then throws `timeout`).
  Job wait_job(std::string_view id, const WaitOptions& options = {});
  /// Cancels what has not started; returns the job as it stands.
  Job cancel_job(std::string_view id);
  /// Every result, in source order, page by page.
  Paged<JobResult> job_results(std::string_view id, int page_size = 1000);
  /// The bytes of a kept output (a URL source with `store: false`).
  std::string job_result_bytes(std::string_view id, int position);
  ///@}

  /// @name Tenants, keys, usage, administration
  ///@{
  Key create_key(const KeyRequest& request);
  std::vector<Key> keys();
  void revoke_key(std::string_view id);
  UploadLink create_upload_link(const UploadLinkRequest& request);
  Paged<UploadLink> upload_links(int page_size = 100);
  void revoke_upload_link(std::string_view id);
  Quota quota(std::string_view tenant);
  Quota set_quota(std::string_view tenant, std::optional<std::int64_t> bytes, std::optional<std::int64_t> images);
  Report usage(const UsageQuery& query = {});
  Report stats();
  /// `GET /healthz` and `GET /readyz`: true when the answer is 200.
  bool healthy();
  bool ready();
  ///@}

  /// Any request, retried as the policy says; an error answer is returned,
  /// not thrown (only a request without any answer throws).
  /// `path` is below the base URL (`/v1/...`, with its query).
  Response request(std::string_view method, std::string_view path, std::string_view body = {},
                   std::string_view content_type = {});

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// `base64url_nopad(HMAC-SHA256(secret, path + "?" + signing_query))`, the
/// signature the server checks (src/ops/README.md, "URL signatures"), for
/// a path and its decoded query parameters (without `sig`).
std::string sign_url(std::string_view secret, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace progimage
