#pragma once
// The catalog: image records, tags, derivative index (and, later, jobs, links,
// keys). SQLite and PostgreSQL implement it; handlers never see which.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/image.hpp"

namespace progimage::catalog {

struct InsertResult {
  core::ImageRecord image;
  bool duplicate = false;  // an image with the same sha256 already existed; `image` is that one
};

struct ImagePatch {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;  // replaces all tags
  std::optional<std::optional<core::FocusPoint>> focus;  // set, or clear with nullopt inside
};

struct DeleteResult {
  bool found = false;
  bool blob_unreferenced = false;  // no image uses the sha256 any more: the blob may go
  std::string sha256;
  std::vector<std::string> derivative_keys;  // removed from the index: the blobs may go
};

struct ImageQuery {
  std::vector<std::string> tags;  // OR
  std::string format;
  std::string camera;  // model, case-insensitive
  std::string text;    // full-text over name and description
  std::optional<std::int64_t> from, to;  // created_at range, unix seconds, inclusive
  int limit = 50;
  std::string cursor;  // opaque, from a previous page
};

struct ImagePage {
  std::vector<core::ImageRecord> images;
  std::string next_cursor;  // empty on the last page
};

struct DerivativeRecord {
  std::string key;      // cache key (hex); also the blob key in Space::derivatives
  std::string sha256;   // of the source blob
  std::string params;   // canonical parameters
  std::string format;
  int width = 0;
  int height = 0;
  std::int64_t size = 0;
  std::int64_t created_at = 0;
  std::int64_t last_used_at = 0;
};

class Catalog {
 public:
  virtual ~Catalog() = default;

  /// Inserts the record in one transaction; when an image with the same
  /// sha256 exists, returns it with duplicate = true and inserts nothing.
  virtual InsertResult insert_image(const core::ImageRecord& image) = 0;
  virtual std::optional<core::ImageRecord> get_image(const std::string& id) = 0;
  virtual std::optional<core::ImageRecord> update_image(const std::string& id, const ImagePatch& patch) = 0;
  /// Deletes the record and its derivative index rows in one transaction.
  virtual DeleteResult delete_image(const std::string& id) = 0;
  virtual ImagePage list_images(const ImageQuery& query) = 0;

  virtual std::optional<DerivativeRecord> get_derivative(const std::string& key) = 0;
  /// Inserts or replaces the row.
  virtual void put_derivative(const DerivativeRecord& d) = 0;
  virtual void touch_derivative(const std::string& key, std::int64_t now) = 0;
  virtual std::vector<DerivativeRecord> list_derivatives(const std::string& sha256) = 0;
  /// Removes the index rows of one source; returns the removed keys.
  virtual std::vector<std::string> remove_derivatives(const std::string& sha256) = 0;
  virtual std::int64_t derivative_bytes() = 0;
  /// Removes least-recently-used rows until the total is at most `budget`;
  /// returns the removed keys so that the caller deletes their blobs.
  virtual std::vector<std::string> evict_derivatives(std::int64_t budget) = 0;

  /// True when the catalog answers (for /readyz).
  virtual bool healthy() = 0;
  /// "ok" or the problems found.
  virtual std::string integrity_check() = 0;
};

}  // namespace progimage::catalog
