#include "service/image_service.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/id.hpp"
#include "core/tags.hpp"
#include "core/time.hpp"
#include "fetch/fetcher.hpp"
#include "storage/blob_store.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;
using storage::Space;

namespace {

/// Reports the duration of one operation when it ends, however it ends.
class OperationTimer {
 public:
  OperationTimer(const std::function<void(std::string_view, double)>& observer, std::string_view name)
      : observer_(observer), name_(name), start_(std::chrono::steady_clock::now()) {}
  ~OperationTimer() {
    if (observer_)
      observer_(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  const std::function<void(std::string_view, double)>& observer_;
  std::string_view name_;
  std::chrono::steady_clock::time_point start_;
};

/// A working copy's pixels as the pipeline chooses among them (no path yet).
imaging::WorkingCopy pipeline_copy(const catalog::WorkingCopyRecord& row) {
  return {row.level, row.width, row.height, row.format, {}};
}

/// A working copy's blob key: hex like every key, the original's followed by
/// the level in four digits.
std::string working_copy_key(const std::string& sha256, int level) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%04x", static_cast<unsigned>(level));
  return sha256 + digits;
}

constexpr auto kRecordTtl = std::chrono::seconds(2);
constexpr std::uint64_t kMaxHotOriginal = 1 << 20;
constexpr std::int64_t kStatsDays = 30;

/// The tags of an image: those given plus the #hashtags of its description,
/// in the one normal form.
std::vector<std::string> tags_with_hashtags(std::vector<std::string> tags, std::string_view description) {
  for (auto& tag : core::hashtags(description)) tags.push_back(std::move(tag));
  return core::normalize_tags(tags);
}

/// A file name without any directory part or control characters, at most
/// 255 bytes: safe to store and to show.
std::string clean_file_name(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string out;
  for (unsigned char c : name)
    if (c >= 0x20 && c != 0x7f) out.push_back(static_cast<char>(c));
  if (out.size() > 255) out.resize(255);
  return out;
}

Error image_not_found(const std::string& id) { return Error(ErrorCode::not_found, "no image with id " + id); }

Error missing_bytes(const core::ImageRecord& image) {
  return Error(ErrorCode::internal, "the stored bytes of image " + image.id + " are missing");
}

/// Bytes of a stored blob read from the store in ranged pieces as they are
/// sent, so that a remote original is never held whole in memory or on disk.
class RangedBlobStream final : public ByteStream {
 public:
  RangedBlobStream(storage::BlobStore& blobs, std::string key, std::uint64_t offset, std::uint64_t length)
      : blobs_(blobs), key_(std::move(key)), next_(offset), left_(length), length_(length) {}

  std::size_t read(char* data, std::size_t size) override {
    if (pos_ == piece_.size()) fetch_piece();
    const std::size_t n = std::min(size, piece_.size() - pos_);
    std::copy_n(piece_.data() + pos_, n, data);
    pos_ += n;
    return n;
  }
  std::uint64_t length() const override { return length_; }

 private:
  // Each piece is one ranged GET: large enough that requests stay few, small
  // enough that many streams at once stay cheap.
  static constexpr std::uint64_t kPiece = 2 << 20;

  void fetch_piece() {
    piece_.clear();
    pos_ = 0;
    if (left_ == 0) return;
    const auto want = std::min(left_, kPiece);
    const bool found = blobs_.read_range(Space::originals, key_, static_cast<std::int64_t>(next_),
                                         static_cast<std::int64_t>(want),
                                         [this](std::string_view bytes) { piece_.append(bytes); });
    if (!found || piece_.empty()) throw Error(ErrorCode::internal, "the stored bytes of an image are missing");
    if (piece_.size() > want) piece_.resize(want);
    next_ += piece_.size();
    left_ -= piece_.size();
  }

  storage::BlobStore& blobs_;
  std::string key_;
  std::uint64_t next_;
  std::uint64_t left_;
  std::uint64_t length_;
  std::string piece_;
  std::size_t pos_ = 0;
};

/// Refuses what an upload link does not take, before anything is decoded further.
void check_link_terms(const UploadMeta& meta, std::int64_t size, const std::string& format) {
  if (meta.max_bytes > 0 && size > meta.max_bytes)
    throw Error(ErrorCode::payload_too_large, "the image is " + std::to_string(size) +
                                                  " bytes; this upload link takes at most " +
                                                  std::to_string(meta.max_bytes));
  const auto& allowed = meta.allowed_formats;
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), format) != allowed.end()) return;
  std::string names;
  for (const auto& f : allowed) names += (names.empty() ? "" : ", ") + f;
  throw Error(ErrorCode::unsupported_media, "the image is " + format + "; this upload link takes " + names);
}

/// The time bound of a search: a bare date covers its whole day.
std::int64_t time_bound(std::string_view key, std::string_view value) {
  auto t = core::parse_rfc3339(value);
  if (!t)
    throw Error(ErrorCode::bad_parameter,
                std::string(key) + " must be RFC 3339 or YYYY-MM-DD, got \"" + std::string(value) + "\"");
  return key == "to" && value.size() == 10 ? *t + 86399 : *t;
}

}  // namespace

void add_search_term(catalog::ImageQuery& query, std::string_view key, std::string_view value) {
  if (key == "tag" || key == "tags") query.tags.emplace_back(value);
  else if (key == "format") query.format = std::string(value);
  else if (key == "camera") query.camera = std::string(value);
  else if (key == "q") query.text = std::string(value);
  else if (key == "from") query.from = time_bound(key, value);
  else if (key == "to") query.to = time_bound(key, value);
  else
    throw Error(ErrorCode::bad_parameter,
                "unknown search term " + std::string(key) + "; use q, tag, format, camera, from or to");
}

ImageService::ImageService(catalog::Catalog& catalog, storage::BlobStore& blobs, const fetch::Fetcher& fetcher,
                           ServiceOptions options)
    : catalog_(catalog),
      blobs_(blobs),
      fetcher_(fetcher),
      options_(std::move(options)),
      similar_(catalog),
      derivatives_(options_.cache_bytes > 0 ? static_cast<std::size_t>(options_.memory_bytes / 2) : 0),
      originals_(static_cast<std::size_t>(options_.memory_bytes / 2)) {
  for (const auto& [name, query] : options_.variants) parse(ops::split_query(query));  // fail at start, not later
}

ImageService::~ImageService() = default;

std::mutex& ImageService::sha_lock(const std::string& sha256) {
  return sha_locks_[std::hash<std::string>{}(sha256) % sha_locks_.size()];
}

// ---- parameters ----------------------------------------------------------------

ops::TransformSpec ImageService::parse(const ops::QueryParams& params) const {
  return ops::parse_query(params, options_.presets);
}

ops::TransformSpec ImageService::parse(const boost::json::object& params) const {
  return ops::parse_json(params, options_.presets);
}

// ---- uploads -------------------------------------------------------------------

Upload ImageService::begin_upload() { return Upload(blobs_.create_staging()); }

Upload ImageService::fetch(const std::string& url) {
  if (url.empty()) throw Error(ErrorCode::bad_request, "\"url\" must be an http or https URL");
  Upload upload = begin_upload();
  fetcher_.fetch(url, [&upload](std::string_view chunk) { upload.write(chunk); });
  return upload;
}

IngestResult ImageService::ingest(const core::Scope& scope, Upload& upload, const UploadMeta& meta) {
  OperationTimer timer(operation_observer_, "ingest");
  if (upload.size() == 0) throw Error(ErrorCode::unsupported_media, "the upload is empty; send the image bytes");
  const auto& limits = options_.limits;
  auto probe = imaging::probe_file(upload.path(), limits);
  check_link_terms(meta, upload.size(), probe.format);
  imaging::verify_decode(upload.path(), probe, limits);
  auto metadata = imaging::analyze(upload.path(), probe, limits);

  core::ImageRecord rec;
  rec.id = core::new_id();
  rec.tenant = scope.tenant;
  rec.sha256 = upload.sha256();
  rec.format = probe.format;
  rec.width = probe.width;
  rec.height = probe.height;
  rec.size = upload.size();
  rec.frames = probe.frames;
  rec.has_alpha = probe.has_alpha;
  rec.created_at = core::unix_now();
  rec.name = clean_file_name(meta.name);
  rec.description = meta.description;
  rec.tags = tags_with_hashtags(meta.tags, meta.description);
  rec.camera_make = metadata.camera_make;
  rec.camera_model = metadata.camera_model;
  rec.metadata_json = metadata.json;
  rec.phash = metadata.phash;
  for (const auto& [name, query] : options_.variants) rec.variants[name] = "pending";
  rec.wants_working_copies = options_.working_copies && !imaging::working_copy_levels(probe).empty();

  catalog::InsertResult inserted;
  {
    std::lock_guard lock(sha_lock(rec.sha256));
    // Before the blob is published: a refused upload leaves nothing stored.
    catalog::check_tenant_quota(catalog_, rec.tenant, rec.size);
    blobs_.publish(upload.staged(), Space::originals, rec.sha256);
    inserted = catalog_.insert_image(rec);
  }
  if (!inserted.duplicate) similar_.added(inserted.image);
  const bool queued = !options_.variants.empty() || rec.wants_working_copies;
  if (!inserted.duplicate && queued && variants_queued_) variants_queued_();
  return {std::move(inserted.image), inserted.duplicate};
}

// ---- records -------------------------------------------------------------------

std::optional<core::ImageRecord> ImageService::find(const core::Scope& scope, const std::string& id) {
  if (!core::looks_like_id(id)) return std::nullopt;
  auto rec = catalog_.get_image(id);
  if (!rec || !scope.sees(rec->tenant)) return std::nullopt;
  return rec;
}

core::ImageRecord ImageService::get(const core::Scope& scope, const std::string& id) {
  auto rec = find(scope, id);
  if (!rec) throw image_not_found(id);
  return std::move(*rec);
}

core::ImageRecord ImageService::get_for_render(const core::Scope& scope, const std::string& id,
                                               const std::string& fallback) {
  auto remembered = [this, &scope](const std::string& wanted) {
    if (auto hit = records_.get(wanted); hit && scope.sees(hit->tenant)) return std::move(*hit);
    std::uint64_t generation;
    {
      std::lock_guard lock(records_mutex_);
      generation = record_generation_;
    }
    auto rec = get(scope, wanted);
    remember_record(rec, generation);
    return rec;
  };
  try {
    return remembered(id);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found || fallback.empty()) throw;
  }
  return remembered(fallback);
}

core::ImageRecord ImageService::update(const core::Scope& scope, const std::string& id, const ImageChanges& changes) {
  auto current = get(scope, id);  // another tenant's image is not found
  catalog::ImagePatch patch;
  patch.description = changes.description;
  patch.focus = changes.focus;
  if (changes.description) {
    // Hashtags of a new description join the tags.
    auto base = changes.tags ? *changes.tags : current.tags;
    patch.tags = tags_with_hashtags(std::move(base), *changes.description);
  } else if (changes.tags) {
    patch.tags = core::normalize_tags(*changes.tags);
  }
  forget_record(id);
  auto rec = catalog_.update_image(id, patch);
  forget_record(id);
  if (!rec) throw image_not_found(id);
  return std::move(*rec);
}

bool ImageService::remove(const core::Scope& scope, const std::string& id) {
  forget_record(id);
  auto rec = find(scope, id);
  if (!rec) return false;
  std::lock_guard lock(sha_lock(rec->sha256));
  auto result = catalog_.delete_image(id);
  forget_record(id);
  if (!result.found) return false;
  similar_.removed(id);
  for (const auto& key : result.derivative_keys) forget_derivative(key);
  if (result.blob_unreferenced) {
    originals_.erase(result.sha256);
    blobs_.remove(Space::originals, result.sha256);
    for (const auto& key : result.working_copy_keys) blobs_.remove(Space::working, key);
  }
  return true;
}

catalog::ImagePage ImageService::list(const core::Scope& scope, catalog::ImageQuery query) {
  if (!scope.all_tenants) query.tenant = scope.tenant;
  return catalog_.list_images(query);
}

catalog::CatalogStats ImageService::stats(const core::Scope& scope) {
  return catalog_.stats((core::unix_now() / 86400 - (kStatsDays - 1)) * 86400, scope.search_tenant());
}

// ---- similar images ----------------------------------------------------------------

std::vector<SimilarImage> ImageService::similar(const core::Scope& scope, const std::string& id,
                                                const SimilarQuery& query) {
  check_similar_query(query);
  OperationTimer timer(operation_observer_, "similar");
  auto rec = get(scope, id);
  // Its neighbours are of its own tenant, also for an operator.
  return similar_.near(rec.tenant, similarity_hashes(rec), query, id);
}

std::vector<std::uint64_t> ImageService::similarity_hashes(const core::ImageRecord& image) {
  auto stored = image.phash ? image.phash : similar_.hash_of(image.id);
  if (!stored) return {};  // an image imaging could not hash has no neighbours
  try {
    if (auto blob = blobs_.open(Space::originals, image.sha256)) {
      auto hashes = imaging::similarity_hashes(blob->path(), source_of(image, blob->path()).probe, options_.limits);
      // The stored hash leads: it is what the image was indexed with.
      if (!hashes.empty()) hashes.front() = *stored;
      return hashes;
    }
  } catch (const Error&) {
    // An original that no longer decodes in time (it did when stored): the crop
    // guesses are a refinement, and the stored hash alone still finds resized,
    // recompressed and recoloured copies.
  }
  return {*stored};
}

std::vector<SimilarImage> ImageService::similar_to(const core::Scope& scope, Upload& upload,
                                                   const SimilarQuery& query) {
  check_similar_query(query);
  OperationTimer timer(operation_observer_, "similar");
  if (upload.size() == 0) throw Error(ErrorCode::unsupported_media, "the upload is empty; send the image bytes");
  const auto probe = imaging::probe_file(upload.path(), options_.limits);
  // Its first hash is the one storing it would keep (the same thumbnail as analyze()).
  return similar_.near(scope.search_tenant(), imaging::similarity_hashes(upload.path(), probe, options_.limits),
                       query);
}

bool ImageService::ready() {
  try {
    return catalog_.healthy() && blobs_.healthy();
  } catch (const std::exception&) {
    return false;
  }
}

// ---- originals -----------------------------------------------------------------

Body ImageService::open_original(const core::ImageRecord& image, std::optional<ByteRange> range) {
  if (!range) {
    if (auto bytes = originals_.get(image.sha256)) return std::move(*bytes);
  }
  if (!blobs_.is_local()) return stream_original(image, range);
  std::shared_ptr<storage::LocalBlob> blob = blobs_.open(Space::originals, image.sha256);
  if (!blob) throw missing_bytes(image);
  const auto size = static_cast<std::uint64_t>(blob->size());
  if (!range && size <= kMaxHotOriginal) {
    if (auto bytes = blobs_.read(Space::originals, image.sha256)) {
      auto shared = std::make_shared<const std::string>(std::move(*bytes));
      originals_.put(image.sha256, shared, shared->size());
      return shared;
    }
  }
  const ByteRange span = range ? *range : ByteRange{0, size - 1};
  return FileSpan{blob->path(), span.first, size == 0 ? 0 : span.length(), blob};
}

Body ImageService::stream_original(const core::ImageRecord& image, std::optional<ByteRange> range) {
  const auto stored = blobs_.size_of(Space::originals, image.sha256);
  if (!stored) throw missing_bytes(image);
  const auto size = static_cast<std::uint64_t>(*stored);
  if (!range && size <= kMaxHotOriginal) {
    auto bytes = blobs_.read(Space::originals, image.sha256);
    if (!bytes) throw missing_bytes(image);
    auto shared = std::make_shared<const std::string>(std::move(*bytes));
    originals_.put(image.sha256, shared, shared->size());
    return shared;
  }
  const ByteRange span = range ? *range : ByteRange{0, size - 1};
  return std::make_shared<RangedBlobStream>(blobs_, image.sha256, span.first, size == 0 ? 0 : span.length());
}

// ---- renders -------------------------------------------------------------------

std::optional<Derivative> ImageService::cached(const RenderPlan& plan) {
  if (options_.cache_bytes <= 0) return std::nullopt;
  auto touch = [&] {
    try {
      catalog_.touch_derivative(plan.key, core::unix_now());  // buffered by the catalog
    } catch (const std::exception&) {
      // Losing a "last used" time only makes eviction less exact; serve the hit.
    }
    counters_.cache_hits.fetch_add(1);
  };
  if (auto hit = derivatives_.get(plan.key)) {
    touch();
    hit->cache_hit = true;
    return hit;
  }
  auto row = catalog_.get_derivative(plan.key);
  if (!row) return std::nullopt;
  auto bytes = blobs_.read(Space::derivatives, plan.key);
  if (!bytes) return std::nullopt;  // indexed but gone: render again
  touch();
  Derivative d{plan.key, row->format, std::string(core::mime_type(row->format)), row->width, row->height, true,
               std::make_shared<const std::string>(std::move(*bytes))};
  derivatives_.put(plan.key, d, d.bytes->size());
  return d;
}

bool ImageService::is_cached(const RenderPlan& plan) {
  return catalog_.get_derivative(plan.key).has_value() && blobs_.exists(Space::derivatives, plan.key);
}

imaging::Source ImageService::source_of(const core::ImageRecord& image, const std::filesystem::path& path) const {
  imaging::Source src;
  src.path = path;
  src.probe.format = image.format;
  src.probe.width = image.width;
  src.probe.height = image.height;
  src.probe.frames = image.frames;
  src.probe.has_alpha = image.has_alpha;
  if (!image.metadata_json.empty()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(image.metadata_json, ec);
    if (!ec && v.is_object())
      if (auto* exif = v.as_object().if_contains("exif"); exif && exif->is_object())
        if (auto* o = exif->as_object().if_contains("orientation"); o && o->is_int64())
          src.probe.orientation = static_cast<int>(o->as_int64());
  }
  if (image.focus) src.focus = std::make_pair(image.focus->x, image.focus->y);
  return src;
}

imaging::ImageResolver ImageService::resolver(const std::string& tenant,
                                              std::vector<std::shared_ptr<const void>>& keep) {
  return [this, tenant, &keep](const std::string& id) -> std::optional<imaging::Source> {
    auto rec = find(core::Scope::of(tenant), id);
    if (!rec) return std::nullopt;
    std::shared_ptr<storage::LocalBlob> blob = blobs_.open(Space::originals, rec->sha256);
    if (!blob) return std::nullopt;
    auto src = source_of(*rec, blob->path());
    keep.push_back(std::move(blob));
    return src;
  };
}

std::vector<catalog::WorkingCopyRecord> ImageService::working_copies_of(const core::ImageRecord& image,
                                                                        const imaging::Probe& probe) {
  // Images too small for copies have none: no catalog read for them.
  if (imaging::working_copy_levels(probe).empty()) return {};
  return catalog_.working_copies(image.sha256);
}

imaging::Source ImageService::render_source(const core::ImageRecord& image, const RenderPlan& plan,
                                            std::vector<std::shared_ptr<const void>>& keep) {
  imaging::Source src = source_of(image, {});
  const auto rows = working_copies_of(image, src.probe);
  std::vector<imaging::WorkingCopy> copies;
  for (const auto& row : rows) copies.push_back(pipeline_copy(row));
  if (auto pick = imaging::pick_working_copy(src, copies, plan.spec, plan.format)) {
    if (std::shared_ptr<storage::LocalBlob> blob = blobs_.open(Space::working, rows[*pick].key)) {
      src.working_copy = copies[*pick];
      src.working_copy->path = blob->path();
      keep.push_back(std::move(blob));
      counters_.working_copy_renders.fetch_add(1);
      return src;
    }
    // Recorded but its bytes are gone: the original renders it just the same.
  }
  std::shared_ptr<storage::LocalBlob> blob = blobs_.open(Space::originals, image.sha256);
  if (!blob) throw missing_bytes(image);
  src.path = blob->path();
  keep.push_back(std::move(blob));
  return src;
}

Derivative ImageService::render(const core::ImageRecord& image, const RenderPlan& plan) {
  OperationTimer timer(operation_observer_, "render");
  counters_.cache_misses.fetch_add(1);
  std::vector<std::shared_ptr<const void>> keep;
  auto source = render_source(image, plan, keep);
  auto out = imaging::render(source, plan.spec, plan.format, resolver(image.tenant, keep), options_.limits);
  counters_.renders.fetch_add(1);
  Derivative d{plan.key, out.format, out.mime, out.width, out.height, false,
               std::make_shared<const std::string>(std::move(out.bytes))};
  const auto size = static_cast<std::int64_t>(d.bytes->size());
  if (options_.cache_bytes > 0 && size <= options_.cache_bytes) {
    blobs_.put(Space::derivatives, plan.key, *d.bytes);
    auto now = core::unix_now();
    catalog_.put_derivative(
        {plan.key, image.tenant, image.sha256, plan.canonical, d.format, d.width, d.height, size, now, now});
    derivatives_.put(plan.key, d, d.bytes->size());
    enforce_budget();
  }
  return d;
}

Derivative ImageService::cached_or_render(const core::ImageRecord& image, const RenderPlan& plan) {
  if (auto hit = cached(plan)) return std::move(*hit);
  return render(image, plan);
}

imaging::Plan ImageService::explain(const core::ImageRecord& image, const RenderPlan& plan) {
  OperationTimer timer(operation_observer_, "explain");
  if (!blobs_.exists(Space::originals, image.sha256)) throw missing_bytes(image);
  // What render() would decode: a dry run needs the copies' sizes, not their bytes.
  imaging::Source src = source_of(image, {});
  std::vector<imaging::WorkingCopy> copies;
  for (const auto& row : working_copies_of(image, src.probe)) copies.push_back(pipeline_copy(row));
  if (auto pick = imaging::pick_working_copy(src, copies, plan.spec, plan.format)) src.working_copy = copies[*pick];
  return imaging::explain(src, plan.spec, plan.format);
}

void ImageService::make_working_copies(const core::ImageRecord& image) {
  OperationTimer timer(operation_observer_, "working_copies");
  const imaging::Probe probe = source_of(image, {}).probe;
  const auto levels = imaging::working_copy_levels(probe);
  const auto made = working_copies_of(image, probe);
  std::shared_ptr<storage::LocalBlob> original;
  for (int level : levels) {
    if (std::any_of(made.begin(), made.end(), [&](const auto& row) { return row.level == level; })) continue;
    if (!original) original = blobs_.open(Space::originals, image.sha256);
    if (!original) throw missing_bytes(image);
    const auto copy = imaging::make_working_copy(source_of(image, original->path()), level, options_.limits);
    if (!imaging::worth_keeping(copy, image.size)) continue;
    const catalog::WorkingCopyRecord row{image.sha256,   level, working_copy_key(image.sha256, level),
                                         copy.copy.format, copy.copy.width, copy.copy.height,
                                         static_cast<std::int64_t>(copy.bytes.size()), core::unix_now()};
    // Bytes first, then the row: a recorded copy always has its bytes.
    blobs_.put(Space::working, row.key, copy.bytes);
    if (!catalog_.put_working_copy(row)) {
      blobs_.remove(Space::working, row.key);  // the last image of these bytes went meanwhile
      break;
    }
  }
  if (original) imaging::release_memory();  // an original's decode is far larger than a render's
}

Transformed ImageService::transform(const core::Scope& scope, Upload& upload, ops::TransformSpec spec,
                                    std::string_view accept) {
  OperationTimer timer(operation_observer_, "transform");
  imaging::Source src;
  src.path = upload.path();
  src.probe = imaging::probe_file(src.path, options_.limits);
  // The plan of an unstored image: its facts stand in for a record.
  core::ImageRecord facts;
  facts.tenant = scope.tenant;
  facts.format = src.probe.format;
  facts.has_alpha = src.probe.has_alpha;
  auto plan = plan_render(facts, std::move(spec), {}, accept);
  std::vector<std::shared_ptr<const void>> keep;
  counters_.renders.fetch_add(1);
  return {imaging::render(src, plan.spec, plan.format, resolver(scope.tenant, keep), options_.limits),
          plan.vary_accept};
}

IngestResult ImageService::store_rendered(const core::Scope& scope, std::string_view bytes, const std::string& name) {
  Upload upload = begin_upload();
  upload.write(bytes);
  UploadMeta meta;
  meta.name = name;
  return ingest(scope, upload, meta);
}

// ---- derivatives and variants ------------------------------------------------------

std::vector<catalog::DerivativeRecord> ImageService::derivatives(const core::ImageRecord& image) {
  return catalog_.list_derivatives(image.tenant, image.sha256);
}

void ImageService::purge_derivatives(const core::ImageRecord& image) {
  for (const auto& key : catalog_.remove_derivatives(image.tenant, image.sha256)) forget_derivative(key);
}

void ImageService::forget_image(const std::string& id) { forget_record(id); }

void ImageService::forget_record(const std::string& id) {
  std::lock_guard lock(records_mutex_);
  ++record_generation_;
  if (id.empty()) records_.clear();
  else records_.erase(id);
}

void ImageService::remember_record(const core::ImageRecord& rec, std::uint64_t generation) {
  std::lock_guard lock(records_mutex_);
  if (generation == record_generation_) records_.put(rec.id, rec, 1024 + rec.metadata_json.size(), kRecordTtl);
}

void ImageService::forget_derivative(const std::string& key) {
  derivatives_.erase(key);
  blobs_.remove(Space::derivatives, key);
}

RenderPlan ImageService::variant_plan(const core::ImageRecord& image, const std::string& name) const {
  auto preset = options_.variants.find(name);
  if (preset == options_.variants.end())
    throw Error(ErrorCode::bad_parameter, "variant " + name + " is not configured any more");
  return plan(image, parse(ops::split_query(preset->second)));
}

VariantStatus ImageService::variant(const core::ImageRecord& image, const std::string& name) {
  if (!options_.variants.contains(name)) {
    std::string names;
    for (const auto& [n, q] : options_.variants) names += (names.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::not_found, "no variant named " + name + "; the variants are " + names);
  }
  VariantStatus out{"pending", std::nullopt, variant_plan(image, name)};
  auto state = catalog_.get_variant(image.id, name);
  if (!state) {
    // An image stored before this preset existed: make it now.
    catalog_.queue_variant(image.id, name);
    if (variants_queued_) variants_queued_();
    return out;
  }
  out.status = state->status;
  out.error = state->error;
  return out;
}

void ImageService::enforce_budget() {
  std::lock_guard lock(budget_mutex_);
  const auto budget = options_.cache_bytes;
  if (catalog_.derivative_bytes() <= budget) return;
  // Evict to 90% so that eviction does not run on every insert at the limit.
  for (const auto& key : catalog_.evict_derivatives(budget - budget / 10)) {
    forget_derivative(key);
    counters_.evictions.fetch_add(1);
  }
}

}  // namespace progimage::service
