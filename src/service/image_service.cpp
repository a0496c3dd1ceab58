#include "service/image_service.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <functional>
#include <set>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"

namespace progimage::service {

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

}  // namespace

using core::Error;
using core::ErrorCode;
using storage::Space;

std::vector<std::string> normalise_tags(const std::vector<std::string>& tags, const std::string& description) {
  std::set<std::string> out;
  auto add = [&](std::string t) {
    auto not_space = [](unsigned char c) { return !std::isspace(c); };
    t.erase(t.begin(), std::find_if(t.begin(), t.end(), not_space));
    t.erase(std::find_if(t.rbegin(), t.rend(), not_space).base(), t.end());
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!t.empty() && t.size() <= 100) out.insert(std::move(t));
  };
  for (const auto& t : tags) add(t);
  // #hashtags: '#' then letters, digits, '_' or '-' (UTF-8 bytes count as letters).
  for (std::size_t i = 0; i < description.size(); ++i) {
    if (description[i] != '#') continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(description[i - 1])) || description[i - 1] == '&')) continue;
    std::size_t j = i + 1;
    while (j < description.size()) {
      unsigned char c = static_cast<unsigned char>(description[j]);
      if (std::isalnum(c) || c == '_' || c == '-' || c >= 0x80) ++j;
      else break;
    }
    if (j > i + 1) add(description.substr(i + 1, j - i - 1));
    i = j - 1;
  }
  return {out.begin(), out.end()};
}

ImageService::ImageService(catalog::Catalog& catalog, storage::BlobStore& blobs, imaging::Limits limits,
                           std::int64_t cache_bytes, std::int64_t memory_bytes)
    : catalog_(catalog),
      blobs_(blobs),
      limits_(limits),
      cache_bytes_(cache_bytes),
      memory_(cache_bytes > 0 ? static_cast<std::size_t>(memory_bytes) : 0) {}

void ImageService::set_variants(std::vector<std::string> names, std::function<void()> queued) {
  variant_names_ = std::move(names);
  variants_queued_ = std::move(queued);
}

std::mutex& ImageService::sha_lock(const std::string& sha256) {
  return sha_locks_[std::hash<std::string>{}(sha256) % sha_locks_.size()];
}

IngestResult ImageService::ingest(storage::StagingFile& staged, const std::string& sha256, const UploadMeta& meta) {
  OperationTimer timer(operation_observer_, "ingest");
  if (staged.size() == 0) throw Error(ErrorCode::unsupported_media, "the upload is empty; send the image bytes");
  auto probe = imaging::probe_file(staged.path(), limits_);
  imaging::verify_decode(staged.path(), probe, limits_);
  auto metadata = imaging::analyze(staged.path(), probe, limits_);

  core::ImageRecord rec;
  rec.id = core::new_id();
  rec.sha256 = sha256;
  rec.format = probe.format;
  rec.width = probe.width;
  rec.height = probe.height;
  rec.size = staged.size();
  rec.frames = probe.frames;
  rec.has_alpha = probe.has_alpha;
  rec.created_at = core::unix_now();
  rec.name = meta.name;
  rec.description = meta.description;
  rec.tags = normalise_tags(meta.tags, meta.description);
  rec.camera_make = metadata.camera_make;
  rec.camera_model = metadata.camera_model;
  rec.metadata_json = metadata.json;
  for (const auto& name : variant_names_) rec.variants[name] = "pending";

  catalog::InsertResult inserted;
  {
    std::lock_guard lock(sha_lock(sha256));
    blobs_.publish(staged, Space::originals, sha256);
    inserted = catalog_.insert_image(rec);
  }
  if (!inserted.duplicate && !variant_names_.empty() && variants_queued_) variants_queued_();
  return {std::move(inserted.image), inserted.duplicate};
}

core::ImageRecord ImageService::get(const std::string& id) {
  if (!core::looks_like_id(id)) throw Error(ErrorCode::not_found, "no image with id " + id);
  auto rec = catalog_.get_image(id);
  if (!rec) throw Error(ErrorCode::not_found, "no image with id " + id);
  return std::move(*rec);
}

bool ImageService::remove(const std::string& id) {
  auto rec = catalog_.get_image(id);
  if (!rec) return false;
  std::lock_guard lock(sha_lock(rec->sha256));
  auto result = catalog_.delete_image(id);
  if (!result.found) return false;
  for (const auto& key : result.derivative_keys) forget_derivative(key);
  if (result.blob_unreferenced) blobs_.remove(Space::originals, result.sha256);
  return true;
}

void ImageService::purge_derivatives(const core::ImageRecord& image) {
  for (const auto& key : catalog_.remove_derivatives(image.sha256)) forget_derivative(key);
}

void ImageService::forget_derivative(const std::string& key) {
  memory_.erase(key);
  blobs_.remove(Space::derivatives, key);
}

std::string ImageService::derivative_key(const std::string& sha256, const std::string& canonical,
                                         const std::string& format) {
  return core::sha256_hex(sha256 + "\n" + canonical + "\n" + format);
}

std::optional<Derivative> ImageService::cached(const std::string& key) {
  if (cache_bytes_ <= 0) return std::nullopt;
  auto touch = [&] {
    try {
      catalog_.touch_derivative(key, core::unix_now());  // buffered by the catalog
    } catch (const std::exception&) {
      // Losing a "last used" time only makes eviction less exact; serve the hit.
    }
    counters_.cache_hits.fetch_add(1);
  };
  if (auto hit = memory_.get(key)) {
    touch();
    hit->cache_hit = true;
    return hit;
  }
  auto row = catalog_.get_derivative(key);
  if (!row) return std::nullopt;
  auto bytes = blobs_.read(Space::derivatives, key);
  if (!bytes) return std::nullopt;  // indexed but gone: render again
  touch();
  Derivative d{key, row->format, std::string(imaging::mime_type(row->format)), row->width, row->height, true,
               std::make_shared<const std::string>(std::move(*bytes))};
  memory_.put(key, d, d.bytes->size());
  return d;
}

imaging::Source ImageService::source_of(const core::ImageRecord& image, storage::LocalBlob& blob) const {
  imaging::Source src;
  src.path = blob.path();
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

imaging::ImageResolver ImageService::resolver(std::vector<std::unique_ptr<storage::LocalBlob>>& keep) {
  return [this, &keep](const std::string& id) -> std::optional<imaging::Source> {
    auto rec = catalog_.get_image(id);
    if (!rec) return std::nullopt;
    auto blob = blobs_.open(Space::originals, rec->sha256);
    if (!blob) return std::nullopt;
    auto src = source_of(*rec, *blob);
    keep.push_back(std::move(blob));
    return src;
  };
}

Derivative ImageService::render(const core::ImageRecord& image, const ops::TransformSpec& spec,
                                const std::string& canonical, const std::string& format, const std::string& key) {
  OperationTimer timer(operation_observer_, "render");
  counters_.cache_misses.fetch_add(1);
  auto blob = blobs_.open(Space::originals, image.sha256);
  if (!blob) throw Error(ErrorCode::internal, "the stored bytes of image " + image.id + " are missing");
  std::vector<std::unique_ptr<storage::LocalBlob>> keep;
  auto out = imaging::render(source_of(image, *blob), spec, format, resolver(keep), limits_);
  counters_.renders.fetch_add(1);
  Derivative d{key, out.format, out.mime, out.width, out.height, false,
               std::make_shared<const std::string>(std::move(out.bytes))};
  const auto size = static_cast<std::int64_t>(d.bytes->size());
  if (cache_bytes_ > 0 && size <= cache_bytes_) {
    blobs_.put(Space::derivatives, key, *d.bytes);
    auto now = core::unix_now();
    catalog_.put_derivative({key, image.sha256, canonical, d.format, d.width, d.height, size, now, now});
    memory_.put(key, d, d.bytes->size());
    enforce_budget();
  }
  return d;
}

imaging::Rendered ImageService::render_source(const imaging::Source& source, const ops::TransformSpec& spec,
                                              const std::string& format) {
  OperationTimer timer(operation_observer_, "transform");
  std::vector<std::unique_ptr<storage::LocalBlob>> keep;
  counters_.renders.fetch_add(1);
  return imaging::render(source, spec, format, resolver(keep), limits_);
}

imaging::Plan ImageService::explain(const core::ImageRecord& image, const ops::TransformSpec& spec,
                                    const std::string& format) {
  OperationTimer timer(operation_observer_, "explain");
  auto blob = blobs_.open(Space::originals, image.sha256);
  if (!blob) throw Error(ErrorCode::internal, "the stored bytes of image " + image.id + " are missing");
  return imaging::explain(source_of(image, *blob), spec, format);
}

void ImageService::enforce_budget() {
  std::lock_guard lock(budget_mutex_);
  if (catalog_.derivative_bytes() <= cache_bytes_) return;
  // Evict to 90% so that eviction does not run on every insert at the limit.
  for (const auto& key : catalog_.evict_derivatives(cache_bytes_ - cache_bytes_ / 10)) {
    forget_derivative(key);
    counters_.evictions.fetch_add(1);
  }
}

}  // namespace progimage::service
