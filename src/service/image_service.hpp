#pragma once
// The use cases behind the API, free of HTTP: take uploads in, find, change
// and delete images, serve originals, plan and render derivatives through
// the cache, and preset variants. Handlers and job workers call these; the
// catalog and the blob store stay behind this facade. Blocking calls run on
// processing threads (or, for remote fetches, the fetch threads).
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "catalog/catalog.hpp"
#include "core/hot_cache.hpp"
#include "core/image.hpp"
#include "core/tenant.hpp"
#include "imaging/imaging.hpp"
#include "ops/parse.hpp"
#include "service/body.hpp"
#include "service/render_plan.hpp"
#include "service/similar_images.hpp"
#include "service/upload.hpp"

namespace progimage::fetch {
class Fetcher;
}
namespace progimage::storage {
class BlobStore;
}

namespace progimage::service {

struct ServiceOptions {
  imaging::Limits limits;
  /// Budget of the derivative cache in the blob store; 0 turns it off.
  std::int64_t cache_bytes = 1LL << 30;
  /// Recently served derivatives, small originals and records kept in memory.
  std::int64_t memory_bytes = 128LL << 20;
  ops::Presets presets;                          // name -> transform query
  std::map<std::string, std::string> variants;  // preset variants every new image gets
  /// New images whose decode is costly get working copies (imaging::WorkingCopy)
  /// that renders needing fewer pixels decode instead.
  bool working_copies = true;
};

struct UploadMeta {
  std::string name;
  std::string description;
  std::vector<std::string> tags;
  // The terms of an upload link: the formats it takes (canonical names;
  // empty: any) and its largest image in bytes (0: the server's limit only).
  std::vector<std::string> allowed_formats;
  std::int64_t max_bytes = 0;
};

struct IngestResult {
  core::ImageRecord image;
  bool duplicate = false;
};

/// What PATCH may change; unset fields stay as they are.
struct ImageChanges {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::optional<core::FocusPoint>> focus;  // set, or clear with nullopt inside
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

/// An image rendered without being stored (POST /v1/transform).
struct Transformed {
  imaging::Rendered output;
  bool vary_accept = false;
};

/// Where a preset variant of an image stands; `plan` renders it.
struct VariantStatus {
  std::string status;  // pending, ready, failed
  std::optional<catalog::JobError> error;
  RenderPlan plan;
};

struct Counters {
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> cache_misses{0};
  std::atomic<std::uint64_t> renders{0};
  std::atomic<std::uint64_t> evictions{0};
  std::atomic<std::uint64_t> working_copy_renders{0};  // renders that decoded a working copy
};

/// Adds one search term of GET /v1/images (and of a job's "query") to `query`:
/// q, tag (repeatable), format, camera, from, to (RFC 3339, or YYYY-MM-DD
/// covering that whole day). Throws core::Error(bad_parameter) naming it.
void add_search_term(catalog::ImageQuery& query, std::string_view key, std::string_view value);

class ImageService {
 public:
  ImageService(catalog::Catalog& catalog, storage::BlobStore& blobs, const fetch::Fetcher& fetcher,
               ServiceOptions options);
  ~ImageService();

  /// Called after a commit that queued variant items (to wake the workers).
  /// Set before serving.
  void on_variants_queued(std::function<void()> queued) { variants_queued_ = std::move(queued); }
  /// Another node changed or deleted image `id` ("" for any image): what is
  /// cached of its record goes.
  void forget_image(const std::string& id);
  /// Another node purged derivatives: the renders cached in memory go (their
  /// keys are not known here; purges are rare).
  void forget_cached_derivatives() { derivatives_.clear(); }
  /// Called after each image operation with its name (ingest, render,
  /// transform, explain) and its duration; set before serving.
  void set_operation_observer(std::function<void(std::string_view, double)> observer) {
    operation_observer_ = std::move(observer);
  }

  // ---- parameters ----------------------------------------------------------
  /// Transform parameters with the configured presets; throws bad_parameter.
  ops::TransformSpec parse(const ops::QueryParams& params) const;
  ops::TransformSpec parse(const boost::json::object& params) const;

  // ---- uploads -------------------------------------------------------------
  /// A new, empty upload in the blob store's staging area.
  Upload begin_upload();
  /// Fetches a remote image into a new upload (blocks on the network; throws
  /// the fetcher's core::Error).
  Upload fetch(const std::string& url);
  /// Validates, analyses and stores an upload. Throws core::Error on bad
  /// input (nothing is stored then): payload_too_large over `meta.max_bytes`,
  /// unsupported_media for a format `meta.allowed_formats` lacks. The
  /// catalog commit acknowledges it.
  IngestResult ingest(const core::Scope& scope, Upload& upload, const UploadMeta& meta);

  // ---- records -------------------------------------------------------------
  /// The record, or throws not_found (also for another tenant's image: the
  /// same answer as for an id that never existed).
  core::ImageRecord get(const core::Scope& scope, const std::string& id);
  /// The record to render from: recently read ones come from memory (their
  /// variant statuses may be a moment old; changes made on this node show at
  /// once). That of `fallback` when `id` is unknown and a fallback is given;
  /// throws not_found when neither exists.
  core::ImageRecord get_for_render(const core::Scope& scope, const std::string& id, const std::string& fallback = {});
  /// Applies the changes (hashtags of a new description join the tags);
  /// throws not_found.
  core::ImageRecord update(const core::Scope& scope, const std::string& id, const ImageChanges& changes);
  /// Deletes the record, its derivatives and (when no tenant uses it any
  /// more) its blob. False for an unknown id.
  bool remove(const core::Scope& scope, const std::string& id);
  /// A page of the scope's images (an operator may narrow it to one tenant
  /// with `query.tenant`).
  catalog::ImagePage list(const core::Scope& scope, catalog::ImageQuery query);
  /// Tags of the scope's images with how many carry each, most first.
  std::vector<std::pair<std::string, std::int64_t>> tags(const core::Scope& scope, int limit) {
    return catalog_.tag_counts(scope.search_tenant(), limit);
  }
  /// Aggregates for /v1/stats over the scope, uploads per day over the last 30 days.
  catalog::CatalogStats stats(const core::Scope& scope);
  /// True when the catalog and the blob store answer.
  bool ready();

  // ---- similar images --------------------------------------------------------
  /// Loads the similar-image index from the catalog (at start).
  void load_similar_index() { similar_.rebuild(); }
  /// Adds to it what other nodes stored meanwhile (periodically).
  void refresh_similar_index() { similar_.refresh(); }
  std::size_t similar_index_size() const { return similar_.size(); }
  /// The images of the same tenant that look like image `id`, nearest first;
  /// throws not_found for an image the scope does not see.
  std::vector<SimilarImage> similar(const core::Scope& scope, const std::string& id, const SimilarQuery& query);
  /// The scope's stored images that look like an upload, which is analysed
  /// as for storing and then dropped. Throws as ingest() does for bad input.
  std::vector<SimilarImage> similar_to(const core::Scope& scope, Upload& upload, const SimilarQuery& query);

  // ---- originals -------------------------------------------------------------
  /// The original's bytes, or `range` of them. Throws internal when the
  /// stored bytes are missing.
  Body open_original(const core::ImageRecord& image, std::optional<ByteRange> range);

  // ---- renders ---------------------------------------------------------------
  RenderPlan plan(const core::ImageRecord& image, ops::TransformSpec spec, std::string_view extension = {},
                  std::string_view accept = {}) const {
    return plan_render(image, std::move(spec), extension, accept);
  }
  /// A cached derivative (and marks it used), or nullopt.
  std::optional<Derivative> cached(const RenderPlan& plan);
  /// True when the derivative is in the cache (index and bytes).
  bool is_cached(const RenderPlan& plan);
  /// Renders the plan and stores it in the cache.
  Derivative render(const core::ImageRecord& image, const RenderPlan& plan);
  /// Makes the working copies the image's bytes lack (a background item
  /// queued with the upload); copies already made are kept.
  void make_working_copies(const core::ImageRecord& image);
  /// The cached derivative, or a new render of it.
  Derivative cached_or_render(const core::ImageRecord& image, const RenderPlan& plan);
  /// What render() would produce, without encoding.
  imaging::Plan explain(const core::ImageRecord& image, const RenderPlan& plan);
  /// Renders an upload without storing anything.
  /// Watermarks and masks it names come from the scope's images.
  Transformed transform(const core::Scope& scope, Upload& upload, ops::TransformSpec spec,
                        std::string_view accept = {});
  /// Stores rendered bytes as a new image of the scope's tenant
  /// (content-deduplicated, so a repeated job attempt gets the same image back).
  IngestResult store_rendered(const core::Scope& scope, std::string_view bytes, const std::string& name);

  // ---- derivatives and variants ----------------------------------------------
  std::vector<catalog::DerivativeRecord> derivatives(const core::ImageRecord& image);
  /// Purges the cached derivatives of an image.
  void purge_derivatives(const core::ImageRecord& image);
  /// The preset variants by name.
  const std::map<std::string, std::string>& variants() const noexcept { return options_.variants; }
  /// Where the variant stands; queues one that an image stored before the
  /// preset existed lacks. Throws not_found for an unknown variant name.
  VariantStatus variant(const core::ImageRecord& image, const std::string& name);
  /// The variant's plan; throws bad_parameter when the preset is gone.
  RenderPlan variant_plan(const core::ImageRecord& image, const std::string& name) const;

  const Counters& counters() const noexcept { return counters_; }
  const imaging::Limits& limits() const noexcept { return options_.limits; }

 private:
  /// open_original() for a store whose open() would download: small
  /// originals whole (and kept hot), the rest streamed in ranged reads.
  Body stream_original(const core::ImageRecord& image, std::optional<ByteRange> range);
  imaging::Source source_of(const core::ImageRecord& image, const std::filesystem::path& path) const;
  /// The source a render of `plan` decodes: the smallest sufficient working
  /// copy of the image, else its original. Opened blobs go into `keep`.
  imaging::Source render_source(const core::ImageRecord& image, const RenderPlan& plan,
                                std::vector<std::shared_ptr<const void>>& keep);
  /// The working copies of the image's bytes (`probe` is its own).
  std::vector<catalog::WorkingCopyRecord> working_copies_of(const core::ImageRecord& image,
                                                            const imaging::Probe& probe);
  /// What a similar-image search of a stored image looks up: its stored hash
  /// and, from its original, the crop guesses (imaging::similarity_hashes).
  std::vector<std::uint64_t> similarity_hashes(const core::ImageRecord& image);
  /// Other images a render names (watermark, mask), found among `tenant`'s.
  imaging::ImageResolver resolver(const std::string& tenant, std::vector<std::shared_ptr<const void>>& keep);
  /// The catalog's record when the scope may see it.
  std::optional<core::ImageRecord> find(const core::Scope& scope, const std::string& id);
  std::mutex& sha_lock(const std::string& sha256);
  void enforce_budget();
  void forget_derivative(const std::string& key);
  /// Drops a cached record ("" for every one).
  void forget_record(const std::string& id);
  /// Caches a record read from the catalog, unless a record was dropped
  /// since `generation` (the record may be from before that change).
  void remember_record(const core::ImageRecord& rec, std::uint64_t generation);

  catalog::Catalog& catalog_;
  storage::BlobStore& blobs_;
  const fetch::Fetcher& fetcher_;
  ServiceOptions options_;
  Counters counters_;
  SimilarImages similar_;
  // Derivatives are immutable per key: memory entries need no expiry, only
  // dropping when the disk cache drops the key (eviction, purge, delete).
  core::HotCache<Derivative> derivatives_;
  // Originals are content-addressed and immutable. Records change by PATCH
  // and DELETE (dropped here at once; other nodes' changes show within the
  // expiry).
  core::HotCache<std::shared_ptr<const std::string>> originals_;
  core::HotCache<core::ImageRecord> records_{8 << 20};
  // Counts dropped records, so that a read that raced with a change (here or
  // on another node) does not put its stale record back after the drop.
  std::mutex records_mutex_;
  std::uint64_t record_generation_ = 0;
  std::array<std::mutex, 64> sha_locks_;  // serialise publish+insert against delete of one blob
  std::mutex budget_mutex_;
  std::function<void(std::string_view, double)> operation_observer_;
  std::function<void()> variants_queued_;
};

}  // namespace progimage::service
