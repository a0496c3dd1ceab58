#pragma once
// The use cases behind the API, free of HTTP: ingest an upload, find and
// delete images, and render derivatives through the cache. Handlers and job
// workers call these; all blocking work here runs on processing threads.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/hot_cache.hpp"
#include "core/image.hpp"
#include "imaging/imaging.hpp"
#include "ops/spec.hpp"
#include "storage/blob_store.hpp"

namespace progimage::service {

struct UploadMeta {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
};

/// Lower-cased, trimmed, unique tags plus the #hashtags of the description.
std::vector<std::string> normalise_tags(const std::vector<std::string>& tags, const std::string& description);

struct IngestResult {
  core::ImageRecord image;
  bool duplicate = false;
};

/// A rendered or cached derivative, ready to send. The bytes are shared with
/// the in-memory cache and with every request served from it.
struct Derivative {
  std::string key;
  std::string format;
  std::string mime;
  int width = 0;
  int height = 0;
  bool cache_hit = false;
  std::shared_ptr<const std::string> bytes;
};

struct Counters {
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> cache_misses{0};
  std::atomic<std::uint64_t> renders{0};
  std::atomic<std::uint64_t> evictions{0};
};

class ImageService {
 public:
  /// `cache_bytes` bounds the derivative cache in the blob store; the most
  /// recently served derivatives up to `memory_bytes` are also kept in memory.
  ImageService(catalog::Catalog& catalog, storage::BlobStore& blobs, imaging::Limits limits,
               std::int64_t cache_bytes, std::int64_t memory_bytes = 0);

  /// Preset variants that every new image gets, queued with its catalog
  /// commit; `queued` is called after that commit (to wake the workers).
  /// Call before serving.
  void set_variants(std::vector<std::string> names, std::function<void()> queued);

  /// Called after each image operation with its name (ingest, render,
  /// transform, explain) and its duration; set before serving.
  void set_operation_observer(std::function<void(std::string_view, double)> observer) {
    operation_observer_ = std::move(observer);
  }

  /// Validates, analyses and stores a staged upload. Throws core::Error on
  /// bad input (nothing is stored then). The catalog commit acknowledges it.
  IngestResult ingest(storage::StagingFile& staged, const std::string& sha256, const UploadMeta& meta);

  /// The record, or throws not_found.
  core::ImageRecord get(const std::string& id);
  /// Deletes the record, its derivatives and (when unreferenced) its blob.
  bool remove(const std::string& id);
  /// Purges the cached derivatives of an image.
  void purge_derivatives(const core::ImageRecord& image);

  /// The cache key of a derivative.
  static std::string derivative_key(const std::string& sha256, const std::string& canonical,
                                    const std::string& format);
  /// A cached derivative (and marks it used), or nullopt.
  std::optional<Derivative> cached(const std::string& key);
  /// Renders `spec` of `image` as `format` and stores it in the cache.
  Derivative render(const core::ImageRecord& image, const ops::TransformSpec& spec, const std::string& canonical,
                    const std::string& format, const std::string& key);
  /// Renders without storing anything (POST /v1/transform).
  imaging::Rendered render_source(const imaging::Source& source, const ops::TransformSpec& spec,
                                  const std::string& format);
  /// What render() would produce, without encoding.
  imaging::Plan explain(const core::ImageRecord& image, const ops::TransformSpec& spec, const std::string& format);

  const Counters& counters() const { return counters_; }
  const imaging::Limits& limits() const { return limits_; }
  catalog::Catalog& catalog() { return catalog_; }
  storage::BlobStore& blobs() { return blobs_; }

 private:
  imaging::Source source_of(const core::ImageRecord& image, storage::LocalBlob& blob) const;
  imaging::ImageResolver resolver(std::vector<std::unique_ptr<storage::LocalBlob>>& keep);
  std::mutex& sha_lock(const std::string& sha256);
  void enforce_budget();
  void forget_derivative(const std::string& key);

  catalog::Catalog& catalog_;
  storage::BlobStore& blobs_;
  imaging::Limits limits_;
  std::int64_t cache_bytes_;
  Counters counters_;
  // Derivatives are immutable per key: memory entries need no expiry, only
  // dropping when the disk cache drops the key (eviction, purge, delete).
  core::HotCache<Derivative> memory_;
  std::array<std::mutex, 64> sha_locks_;  // serialise publish+insert against delete of one blob
  std::mutex budget_mutex_;
  std::function<void(std::string_view, double)> operation_observer_;
  std::vector<std::string> variant_names_;
  std::function<void()> variants_queued_;
};

}  // namespace progimage::service
