#pragma once
/// @file
/// The objects of the ProgImage API (docs/API.md) as plain structs. Each keeps
/// the whole JSON object it was read from in `json`, so that fields a newer
/// server adds are not lost to an older client.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace progimage {

/// A focal point: fractions 0–1 of width and height.
struct Focus {
  double x = 0.5, y = 0.5;
};

/// A stored image (docs/API.md, "Image object").
struct Image {
  std::string id;
  std::string url;  ///< the API path, `/v1/images/{id}`
  std::string sha256;
  std::string format;
  int width = 0, height = 0;
  std::int64_t size = 0;
  int frames = 1;
  bool has_alpha = false;
  std::string created_at;  ///< RFC 3339, UTC
  std::string name, description;
  std::vector<std::string> tags;
  std::optional<std::string> camera_make, camera_model;
  std::optional<Focus> focus;
  std::map<std::string, std::string> variants;  ///< preset name → `pending`, `ready` or `failed`
  bool duplicate = false;  ///< upload answers only: the bytes were stored already (in this tenant)
  std::string json;        ///< the object as the server sent it
};

/// `GET /v1/images/{id}/info`: the image plus what was read from its bytes.
struct ImageInfo {
  Image image;
  std::optional<std::string> icc;
  int pages = 1;
  std::optional<std::string> phash;           ///< 16 hex digits
  std::optional<std::string> dominant_color;  ///< `#rrggbb`
  std::optional<std::string> blurhash;
  std::string exif_json;  ///< the `exif` object, `null` when absent
  std::string json;
};

/// What to store with an upload.
struct UploadOptions {
  std::string name;  ///< a file name; a path upload defaults to the file's name
  std::string description;
  std::vector<std::string> tags;
};

/// `PATCH /v1/images/{id}`: only the fields that are set change; a set
/// field holding nullopt clears it.
struct ImagePatch {
  std::optional<std::optional<std::string>> description;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::optional<Focus>> focus;
};

/// `GET /v1/images` filters (all optional; tags are OR-ed).
struct SearchQuery {
  std::string q;  ///< full text over name and description
  std::vector<std::string> tags;
  std::string format;
  std::string camera;
  std::string from, to;  ///< RFC 3339 or YYYY-MM-DD
  int page_size = 100;   ///< images per request, 1–1000
};

/// A match of a similar-image search.
struct SimilarMatch {
  Image image;
  int distance = 0;  ///< Hamming distance of the perceptual hashes
};

struct SimilarOptions {
  int max_distance = 10;  ///< 0–32
  int limit = 10;         ///< 1–100
};

/// A cached derivative of an image.
struct Derivative {
  std::string params;  ///< canonical parameters, format included
  std::string format;
  int width = 0, height = 0;
  std::int64_t size = 0;
  std::string created_at, last_used_at;
};

/// `GET /v1/images/{id}/explain`: what a transform would do.
struct Explanation {
  std::string canonical;  ///< the cache key's parameter part, format included
  std::string output_format;
  int output_width = 0, output_height = 0;
  bool cached = false;
  std::string json;  ///< with `steps`
};

/// A source of a job: a stored image id or a remote URL.
struct JobSource {
  std::string image_id;
  std::string url;
  static JobSource image(std::string id) { return {std::move(id), {}}; }
  static JobSource remote(std::string url) { return {{}, std::move(url)}; }
};

/// `POST /v1/jobs`. Give `sources`, or a `query` (`query_json`, a JSON object
/// as for `GET /v1/images`: `{"tag": ["beach"]}`).
struct JobRequest {
  std::vector<JobSource> sources;
  std::string query_json;
  std::string params;  ///< a query string, e.g. Transform::query()
  std::string format;  ///< "" when `params` has one
  bool store = false;
  std::string callback_url;
};

/// One item of a job.
struct JobResult {
  int position = 0;    ///< from 0, in source order
  std::string source;  ///< the image id or URL
  std::string status;  ///< queued, running, done, failed, cancelled
  int attempts = 0;
  std::string image_id;  ///< a stored result
  std::string url;       ///< a derivative or kept output
  std::string expires_at;
  std::optional<std::string> error_code, error_message;
};

/// A job and its first page of results.
struct Job {
  std::string id;
  std::string status;  ///< queued, running, completed, failed, partial, cancelled
  int total = 0, done = 0, failed = 0, cancelled = 0;
  std::string created_at;
  std::optional<std::string> finished_at;
  std::string params;
  bool store = false;
  std::vector<JobResult> results;
  std::optional<std::string> next_cursor;
  std::string json;
  /// True once no item will change again.
  bool finished() const { return status != "queued" && status != "running"; }
};

struct RateLimit {
  double per_second = 0;
  int burst = 0;
};

/// `POST /v1/keys`.
struct KeyRequest {
  std::string role;  ///< read, write or admin
  std::string name;
  std::string tenant;  ///< operators only; "*" makes another operator key
  std::optional<RateLimit> rate_limit;
};

/// A managed key. `secret` is set only in the answer that made it.
struct Key {
  std::string id, prefix, role, tenant, name, created_at;
  std::optional<std::string> last_used_at;
  std::optional<RateLimit> rate_limit;
  std::string secret;
  std::string json;
};

/// `POST /v1/upload-links`: give `expires_in` (ISO 8601, `PT1H`) or `expires_at`.
struct UploadLinkRequest {
  std::string expires_in;
  std::string expires_at;
  int max_uploads = 1;
  std::optional<std::int64_t> max_bytes;
  std::vector<std::string> formats;
  std::vector<std::string> tags;
};

/// An upload link. `url` (the path with its token) is set only in the answer that made it.
struct UploadLink {
  std::string id, url, created_at, expires_at, status;
  int max_uploads = 0, uses = 0;
  std::optional<std::int64_t> max_bytes;
  std::vector<std::string> formats, tags;
  std::string json;
};

/// A tenant's storage quota and use.
struct Quota {
  std::string tenant;
  std::optional<std::int64_t> bytes, images;  ///< limits; nullopt: none
  std::int64_t used_bytes = 0, used_images = 0;
};

/// `GET /v1/usage` filters: dates `YYYY-MM-DD`, `key` "self" or a client name.
struct UsageQuery {
  std::string from, to, key;
};

/// The JSON answers that are reports rather than objects a program acts on
/// (usage, stats) are given whole.
struct Report {
  std::string json;
};

/// A tag and how many images carry it.
struct TagCount {
  std::string tag;
  std::int64_t images = 0;
};

}  // namespace progimage
