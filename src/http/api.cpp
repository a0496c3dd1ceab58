#include "http/api.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "core/json.hpp"
#include "core/hash.hpp"
#include "core/hot_cache.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "http/multipart.hpp"
#include "ops/canonical.hpp"
#include "ops/explain.hpp"
#include "ops/parse.hpp"
#include "ops/sign.hpp"

namespace progimage::http {

namespace asio = boost::asio;
namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxTextField = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

std::vector<std::string> split_tags(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// A file name without any directory part, safe to store and show.
std::string clean_name(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string out;
  for (unsigned char c : name)
    if (c >= 0x20 && c != 0x7f) out.push_back(static_cast<char>(c));
  if (out.size() > 255) out.resize(255);
  return out;
}

json::object image_json(const core::ImageRecord& r, bool duplicate) {
  json::object o;
  o["id"] = r.id;
  o["url"] = "/v1/images/" + r.id;
  o["sha256"] = r.sha256;
  o["format"] = r.format;
  o["width"] = r.width;
  o["height"] = r.height;
  o["size"] = r.size;
  o["frames"] = r.frames;
  o["has_alpha"] = r.has_alpha;
  o["created_at"] = core::format_rfc3339(r.created_at);
  o["name"] = r.name;
  o["description"] = r.description;
  json::array tags;
  for (const auto& t : r.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  if (r.camera_make.empty() && r.camera_model.empty()) {
    o["camera"] = nullptr;
  } else {
    o["camera"] = json::object{{"make", r.camera_make}, {"model", r.camera_model}};
  }
  if (r.focus)
    o["focus"] = json::object{{"x", r.focus->x}, {"y", r.focus->y}};
  else
    o["focus"] = nullptr;
  json::object variants;
  for (const auto& [k, v] : r.variants) variants[k] = v;
  o["variants"] = std::move(variants);
  o["duplicate"] = duplicate;
  return o;
}

std::string mime_of(const std::string& format) { return std::string(imaging::mime_type(format)); }

/// Computes each derivative once however many requests miss it at once.
class Flights {
 public:
  template <class Compute>
  asio::awaitable<service::Derivative> run(const std::string& key, Compute compute) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(mutex_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (leader) {
      std::optional<service::Derivative> result;
      std::exception_ptr error;
      try {
        result = co_await compute();
      } catch (...) {
        error = std::current_exception();
      }
      finish(key, *flight, result, error);
      if (error) std::rethrow_exception(error);
      co_return std::move(*result);
    }
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    bool done;
    {
      std::lock_guard lock(flight->mutex);
      done = flight->done;
      if (!done) flight->waiters.push_back(timer);
    }
    if (!done) co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(flight->mutex);
    if (flight->error) std::rethrow_exception(flight->error);
    service::Derivative copy = *flight->result;
    copy.cache_hit = true;  // served from the shared computation, not rendered for this request
    co_return copy;
  }

 private:
  struct Flight {
    std::mutex mutex;
    bool done = false;
    std::optional<service::Derivative> result;
    std::exception_ptr error;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  };

  void finish(const std::string& key, Flight& f, const std::optional<service::Derivative>& result,
              std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      flights_.erase(key);
    }
    std::lock_guard lock(f.mutex);
    f.done = true;
    f.result = result;
    f.error = error;
    for (auto& w : f.waiters) asio::post(w->get_executor(), [w] { w->cancel(); });
    f.waiters.clear();
  }

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

/// One received file of an upload, staged on disk and hashed.
struct StagedUpload {
  std::unique_ptr<storage::StagingFile> file;
  core::Sha256 hash;
  std::string sha256;
  std::string name;
  std::string field;
  std::string content_type;
};

/// Collects the files and text fields of a multipart upload as it streams.
class UploadCollector final : public MultipartHandler {
 public:
  UploadCollector(storage::BlobStore& blobs, std::uint64_t limit) : blobs_(blobs), limit_(limit) {}

  void on_part_begin(const PartHeaders& h) override {
    bool is_file = h.filename.has_value() ||
                   (!h.content_type.empty() && !iequals(media_type(h.content_type), "text/plain"));
    if (is_file) {
      auto& up = files.emplace_back();
      up.file = blobs_.create_staging();
      up.name = clean_name(h.filename.value_or(""));
      up.field = h.name;
      up.content_type = h.content_type;
      current_file_ = &up;
      current_field_ = nullptr;
    } else {
      current_field_ = &fields[h.name];
      current_field_->clear();
      current_file_ = nullptr;
    }
  }

  void on_part_data(std::string_view data) override {
    total_ += data.size();
    if (total_ > limit_)
      throw Error(ErrorCode::payload_too_large, "request body is larger than the limit of " +
                                                    std::to_string(limit_) + " bytes");
    if (current_file_) {
      current_file_->file->write(data.data(), data.size());
      current_file_->hash.update(data);
    } else if (current_field_) {
      if (current_field_->size() + data.size() > kMaxTextField)
        throw Error(ErrorCode::bad_multipart, "a text field is longer than 64 KiB");
      current_field_->append(data);
    }
  }

  void on_part_end() override {
    if (current_file_) current_file_->sha256 = current_file_->hash.hex_digest();
    current_file_ = nullptr;
    current_field_ = nullptr;
  }

  std::vector<StagedUpload> files;
  std::map<std::string, std::string> fields;

 private:
  storage::BlobStore& blobs_;
  std::uint64_t limit_;
  std::uint64_t total_ = 0;
  StagedUpload* current_file_ = nullptr;
  std::string* current_field_ = nullptr;
};

struct ByteRange {
  std::uint64_t first, last;
};

/// A single `bytes=` range; nullopt means "serve everything" (absent, multiple
/// or malformed); throws for an unsatisfiable one.
std::optional<ByteRange> parse_range(std::string_view h, std::uint64_t size, bool& unsatisfiable) {
  unsatisfiable = false;
  if (h.substr(0, 6) != "bytes=") return std::nullopt;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return std::nullopt;
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto num = [](std::string_view s, std::uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
  };
  std::uint64_t a = 0, b = 0;
  auto left = h.substr(0, dash), right = h.substr(dash + 1);
  if (left.empty()) {  // suffix: the last N bytes
    if (!num(right, b)) return std::nullopt;
    if (b == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    b = std::min(b, size);
    return ByteRange{size - b, size - 1};
  }
  if (!num(left, a)) return std::nullopt;
  if (right.empty()) b = size - 1;
  else if (!num(right, b) || b < a) return std::nullopt;
  if (a >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  return ByteRange{a, std::min(b, size - 1)};
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  std::size_t pos = 0;
  while (pos < if_none_match.size()) {
    auto end = if_none_match.find(',', pos);
    if (end == std::string_view::npos) end = if_none_match.size();
    auto tag = if_none_match.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == etag) return true;
    pos = end + 1;
  }
  return false;
}

/// Chooses the output format for format=auto from the Accept header.
std::string negotiate(std::string_view accept, bool alpha) {
  auto accepts = [&](std::string_view mime) {
    auto pos = accept.find(mime);
    if (pos == std::string_view::npos) return false;
    auto rest = accept.substr(pos + mime.size());
    auto q = rest.substr(0, rest.find(','));
    return q.find("q=0") == std::string_view::npos || q.find("q=0.") != std::string_view::npos;
  };
  if (accepts("image/avif")) return "avif";
  if (accepts("image/webp")) return "webp";
  return alpha ? "png" : "jpeg";
}


class Api {
 public:
  explicit Api(ApiDeps& d)
      : d_(d),
        images_(d.images),
        blobs_(d.images.blobs()),
        originals_(static_cast<std::size_t>(d.config.memory_cache_bytes / 2)) {}

  /// The record for a read, from memory when it was read recently.
  core::ImageRecord record_for_read(const std::string& id) {
    if (auto hit = records_.get(id)) return std::move(*hit);
    auto rec = images_.get(id);
    records_.put(id, rec, 1024 + rec.metadata_json.size(), kRecordTtl);
    return rec;
  }

  /// Registers the routes; each keeps `self` alive.
  static void install(Server& s, const std::shared_ptr<Api>& self) {
    auto bind = [&self](auto fn) {
      return [self, fn](Request& r, BodyReader& b) -> asio::awaitable<Response> { return ((*self).*fn)(r, b); };
    };
    s.route("GET", "/healthz", Access::open, bind(&Api::healthz));
    s.route("GET", "/readyz", Access::open, bind(&Api::readyz));
    s.route("GET", "/metrics", Access::open, bind(&Api::metrics));
    s.route("GET", "/openapi.json", Access::open, bind(&Api::openapi));
    s.route("POST", "/v1/images", Access::write, bind(&Api::upload));
    s.route("GET", "/v1/images", Access::read, bind(&Api::list));
    s.route("GET", "/v1/images/{id}", Access::read, bind(&Api::get_image));
    s.route("GET", "/v1/images/{id}.{ext}", Access::read, bind(&Api::get_image));
    s.route("PATCH", "/v1/images/{id}", Access::write, bind(&Api::patch_image));
    s.route("DELETE", "/v1/images/{id}", Access::write, bind(&Api::delete_image));
    s.route("GET", "/v1/images/{id}/info", Access::read, bind(&Api::info));
    s.route("GET", "/v1/images/{id}/explain", Access::read, bind(&Api::explain));
    s.route("GET", "/v1/images/{id}/derivatives", Access::read, bind(&Api::list_derivatives));
    s.route("DELETE", "/v1/images/{id}/derivatives", Access::write, bind(&Api::purge_derivatives));
    s.route("GET", "/v1/stats", Access::admin, bind(&Api::stats));
    s.route("POST", "/v1/transform", Access::write, bind(&Api::transform));
    s.route("GET", "/v1/transform", Access::read, bind(&Api::transform_url));
  }

 private:
  // --- health -------------------------------------------------------------
  asio::awaitable<Response> healthz(Request&, BodyReader&) { co_return Response::json(200, R"({"status":"ok"})"); }

  asio::awaitable<Response> readyz(Request&, BodyReader&) {
    bool ok = false;
    try {
      ok = d_.ready();
    } catch (const std::exception&) {
    }
    if (ok) co_return Response::json(200, R"({"status":"ready"})");
    co_return Response::error(ErrorCode::unavailable, "the catalog or the blob store does not answer");
  }

  asio::awaitable<Response> metrics(Request&, BodyReader&) {
    Response r;
    r.body = d_.metrics_text();
    r.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    co_return r;
  }

  asio::awaitable<Response> openapi(Request&, BodyReader&) { co_return Response::json(200, d_.openapi_json); }

  asio::awaitable<Response> stats(Request&, BodyReader&) {
    auto st = images_.catalog().stats((core::unix_now() / 86400 - 29) * 86400);
    auto pairs = [](const std::vector<std::pair<std::string, std::int64_t>>& v, const char* key) {
      json::array a;
      for (const auto& [name, n] : v) a.push_back(json::object{{key, name}, {"uploads", n}});
      return a;
    };
    json::object out;
    out["images"] = st.images;
    out["bytes_stored"] = st.bytes_stored;
    out["bytes_saved_by_dedupe"] = st.bytes_saved_by_dedupe;
    out["formats"] = pairs(st.formats, "format");
    if (st.formats.empty()) out["popular_format"] = nullptr;
    else out["popular_format"] = json::object{{"format", st.formats[0].first}, {"uploads", st.formats[0].second}};
    out["top_camera_models"] = pairs(st.camera_models, "model");
    out["uploads_per_day"] = pairs(st.uploads_per_day, "date");
    out["jobs"] = json::object{{"queued", st.jobs_queued}, {"running", st.jobs_running}, {"failed", st.jobs_failed}};
    co_return Response::json(200, core::json_text(out));
  }

  // --- upload -------------------------------------------------------------
  asio::awaitable<Response> upload(Request& req, BodyReader& body) {
    auto ct = req.header("Content-Type");
    auto type = media_type(ct);
    if (iequals(type, "multipart/form-data")) co_return co_await upload_multipart(req, body);
    if (iequals(type, "application/json")) co_return co_await upload_json(req, body);
    if (!type.empty() && !iequals(type, "application/octet-stream") && !iequals(type.substr(0, 6), "image/"))
      throw Error(ErrorCode::unsupported_media,
                  "Content-Type " + std::string(type) +
                      " is not accepted; send image bytes (image/* or application/octet-stream), "
                      "multipart/form-data or JSON {\"data\": base64}");
    StagedUpload up = co_await stage_body(body);
    service::UploadMeta meta;
    meta.name = clean_name(req.query_value("name").value_or(""));
    meta.description = req.query_value("description").value_or("");
    meta.tags = split_tags(req.query_value("tags").value_or(""));
    co_return created(co_await ingest(up, meta));
  }

  asio::awaitable<service::IngestResult> ingest(StagedUpload& up, const service::UploadMeta& meta) {
    co_return co_await d_.pool.run([this, &up, &meta] { return images_.ingest(*up.file, up.sha256, meta); });
  }

  Response created(const service::IngestResult& r) {
    auto res = Response::json(r.duplicate ? 200 : 201, core::json_text(image_json(r.image, r.duplicate)));
    if (!r.duplicate) res.header("Location", "/v1/images/" + r.image.id);
    return res;
  }

  /// Streams a raw body to a new staging file while hashing it.
  asio::awaitable<StagedUpload> stage_body(BodyReader& body) {
    StagedUpload up;
    up.file = blobs_.create_staging();
    std::vector<char> buf(kChunk);
    for (;;) {
      auto n = co_await body.read_some(buf.data(), buf.size());
      if (n == 0) break;
      up.file->write(buf.data(), n);
      up.hash.update(buf.data(), n);
    }
    up.sha256 = up.hash.hex_digest();
    co_return up;
  }

  /// Streams a multipart/form-data body into `collector`.
  asio::awaitable<void> read_multipart(Request& req, BodyReader& body, UploadCollector& collector) {
    auto boundary = boundary_from_content_type(req.header("Content-Type"));
    if (!boundary) throw Error(ErrorCode::bad_multipart, "multipart/form-data needs a boundary parameter");
    MultipartParser parser(*boundary, collector);
    std::vector<char> buf(kChunk);
    for (;;) {
      auto n = co_await body.read_some(buf.data(), buf.size());
      if (n == 0) break;
      parser.feed(std::string_view(buf.data(), n));
    }
    parser.finish();
  }

  asio::awaitable<Response> upload_multipart(Request& req, BodyReader& body) {
    UploadCollector collector(blobs_, d_.config.max_upload_bytes);
    co_await read_multipart(req, body, collector);
    if (collector.files.empty())
      throw Error(ErrorCode::bad_multipart, "the form has no file part; attach images, e.g. curl -F image=@photo.jpg");

    service::UploadMeta common;
    common.description = collector.fields["description"];
    common.tags = split_tags(collector.fields["tags"]);
    json::array results;
    int stored = 0;
    std::optional<Error> first_error;
    for (auto& up : collector.files) {
      service::UploadMeta meta = common;
      meta.name = up.name.empty() ? clean_name(collector.fields["name"]) : up.name;
      try {
        auto r = co_await ingest(up, meta);
        results.emplace_back(image_json(r.image, r.duplicate));
        ++stored;
      } catch (const Error& e) {
        if (e.code() == ErrorCode::overloaded) throw;  // nothing to gain from a partial answer
        json::object err{{"code", core::code_name(e.code())}, {"message", e.what()}};
        results.emplace_back(json::object{{"name", meta.name}, {"error", std::move(err)}});
        if (!first_error) first_error = e;
      }
    }
    json::object out{{"images", std::move(results)}};
    if (stored == static_cast<int>(collector.files.size())) co_return Response::json(201, core::json_text(out));
    if (stored > 0) co_return Response::json(207, core::json_text(out));
    out["error"] = json::object{{"code", core::code_name(first_error->code())}, {"message", first_error->what()}};
    co_return Response::json(first_error->status(), core::json_text(out));
  }

  /// Decodes JSON `data` into a staged upload.
  StagedUpload stage_base64(const json::object& o) {
    auto* data = o.if_contains("data");
    if (!data || !data->is_string()) throw Error(ErrorCode::bad_request, "JSON body needs \"data\" (base64) or \"url\"");
    auto decoded = core::base64_decode(std::string_view(data->as_string()));
    if (!decoded) throw Error(ErrorCode::bad_base64, "\"data\" is not valid base64");
    StagedUpload up;
    up.file = blobs_.create_staging();
    up.file->write(decoded->data(), decoded->size());
    up.hash.update(*decoded);
    up.sha256 = up.hash.hex_digest();
    return up;
  }

  json::object read_json_object(const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) throw Error(ErrorCode::bad_request, "the body is not a JSON object");
    return std::move(v.as_object());
  }

  static std::string string_field(const json::object& o, const char* key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return {};
    if (!v->is_string()) throw Error(ErrorCode::bad_request, std::string("\"") + key + "\" must be a string");
    return std::string(v->as_string());
  }

  static std::vector<std::string> tags_field(const json::object& o) {
    std::vector<std::string> tags;
    auto* v = o.if_contains("tags");
    if (!v || v->is_null()) return tags;
    if (v->is_string()) return split_tags(v->as_string());
    if (!v->is_array()) throw Error(ErrorCode::bad_request, "\"tags\" must be an array of strings");
    for (auto& t : v->as_array()) {
      if (!t.is_string()) throw Error(ErrorCode::bad_request, "\"tags\" must be an array of strings");
      tags.emplace_back(t.as_string());
    }
    return tags;
  }

  /// Fetches a remote image into a staged upload, on the fetch threads.
  asio::awaitable<StagedUpload> stage_url(std::string url) {
    if (url.empty()) throw Error(ErrorCode::bad_request, "\"url\" must be an http or https URL");
    StagedUpload up;
    up.file = blobs_.create_staging();
    co_await d_.fetch_pool.run([this, &up, &url] {
      d_.fetcher.fetch(url, [&up](std::string_view chunk) {
        up.file->write(chunk.data(), chunk.size());
        up.hash.update(chunk);
      });
      return true;
    });
    up.sha256 = up.hash.hex_digest();
    co_return up;
  }

  static std::string name_from_url(std::string_view url) {
    auto end = url.find_first_of("?#");
    url = url.substr(0, end);
    auto slash = url.rfind('/');
    return slash == std::string_view::npos ? std::string() : std::string(url.substr(slash + 1));
  }

  std::size_t json_limit() const { return static_cast<std::size_t>(d_.config.max_upload_bytes) / 3 * 4 + 65536; }

  asio::awaitable<Response> upload_json(Request&, BodyReader& body) {
    auto o = read_json_object(co_await body.read_all(json_limit()));
    // Plain statements around co_await: GCC 12 mishandles temporaries in conditional co_await.
    StagedUpload up;
    if (o.contains("url")) {
      std::string url = string_field(o, "url");
      up = co_await stage_url(url);
    } else {
      up = stage_base64(o);
    }
    service::UploadMeta meta;
    meta.name = clean_name(string_field(o, "name"));
    if (meta.name.empty() && o.contains("url")) meta.name = clean_name(name_from_url(string_field(o, "url")));
    meta.description = string_field(o, "description");
    meta.tags = tags_field(o);
    co_return created(co_await ingest(up, meta));
  }

  // --- read ---------------------------------------------------------------
  /// Transform parameters of a request, with the signature checked.
  ops::TransformSpec spec_of(const Request& req, bool converting) {
    bool any = converting;
    for (const auto& [k, v] : req.query)
      if (ops::is_transform_parameter(k) && k != "sig") any = true;
    if (any && !d_.config.signing_secrets.empty() &&
        !ops::verify_signature(d_.config.signing_secrets, req.path, req.query))
      throw Error(ErrorCode::bad_signature, "the URL signature is missing or does not match");
    ops::QueryParams params;
    for (const auto& kv : req.query)
      if (kv.first != "sig") params.push_back(kv);
    return ops::parse_query(params, d_.config.presets);
  }

  core::ImageRecord find_with_fallback(const std::string& id, const ops::TransformSpec& spec) {
    try {
      return record_for_read(id);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found || spec.fallback.empty()) throw;
      return record_for_read(spec.fallback);
    }
  }

  std::string output_format(const Request& req, const ops::TransformSpec& spec, const core::ImageRecord& rec,
                            bool& vary) {
    vary = false;
    std::string format;
    if (req.params.size() > 1) {
      auto f = ops::format_from_extension(req.params[1]);
      if (!f)
        throw Error(ErrorCode::bad_parameter, "unknown extension ." + req.params[1] +
                                                  "; use jpg jpeg png webp avif heic jxl gif tiff tif jp2 svg");
      format = *f;
    }
    if (!spec.format.empty()) {
      if (spec.format == "auto") {
        vary = true;
        if (format.empty()) format = negotiate(req.header("Accept"), rec.has_alpha);
      } else {
        format = spec.format;
      }
    }
    if (format.empty()) format = imaging::is_output_format(rec.format) ? rec.format : "png";
    return format;
  }

  asio::awaitable<Response> get_image(Request& req, BodyReader&) {
    bool converting = req.params.size() > 1;
    auto spec = spec_of(req, converting);
    auto rec = find_with_fallback(req.params[0], spec);
    bool vary = false;
    auto format = output_format(req, spec, rec, vary);
    if (ops::is_identity(spec) && format == rec.format && !vary) co_return original(req, rec);

    spec.format = format;
    spec.fallback.clear();
    auto canonical = ops::canonical(spec);
    auto key = service::ImageService::derivative_key(rec.sha256, canonical, format);
    std::string etag = "\"" + key + "\"";
    auto inm = req.header("If-None-Match");
    if (!inm.empty() && etag_matches(inm, etag)) {
      Response r;
      r.status = 304;
      r.header("ETag", etag);
      if (vary) r.header("Vary", "Accept");
      co_return r;
    }
    auto d = co_await derivative(rec, spec, canonical, format, key);
    Response r;
    r.shared_body = std::move(d.bytes);
    r.header("Content-Type", d.mime);
    r.header("ETag", etag);
    r.header("Cache-Control", "public, max-age=31536000, immutable");
    r.header("X-Cache", d.cache_hit ? "hit" : "miss");
    if (vary) r.header("Vary", "Accept");
    co_return r;
  }

  asio::awaitable<service::Derivative> derivative(const core::ImageRecord& rec, const ops::TransformSpec& spec,
                                                  const std::string& canonical, const std::string& format,
                                                  const std::string& key) {
    if (auto hit = images_.cached(key)) co_return std::move(*hit);
    co_return co_await flights_.run(key, [&]() -> asio::awaitable<service::Derivative> {
      co_return co_await d_.pool.run([&] { return images_.render(rec, spec, canonical, format, key); });
    });
  }

  Response original(const Request& req, const core::ImageRecord& rec) {
    std::string etag = "\"" + rec.sha256 + "\"";
    bool plain = req.header("Range").empty() && req.header("If-None-Match").empty();
    if (plain) {
      if (auto bytes = originals_.get(rec.sha256)) return original_from_memory(rec, etag, std::move(*bytes));
    }
    auto blob = blobs_.open(storage::Space::originals, rec.sha256);
    if (!blob) throw Error(ErrorCode::internal, "the stored bytes of image " + rec.id + " are missing");
    if (plain && static_cast<std::uint64_t>(blob->size()) <= kMaxHotOriginal) {
      if (auto bytes = blobs_.read(storage::Space::originals, rec.sha256)) {
        auto shared = std::make_shared<const std::string>(std::move(*bytes));
        originals_.put(rec.sha256, shared, shared->size());
        return original_from_memory(rec, etag, std::move(shared));
      }
    }
    Response r;
    r.header("ETag", etag);
    r.header("Cache-Control", "public, max-age=31536000, immutable");
    r.header("Accept-Ranges", "bytes");
    auto inm = req.header("If-None-Match");
    if (!inm.empty() && etag_matches(inm, etag)) {
      r.status = 304;
      return r;
    }
    r.header("Content-Type", mime_of(rec.format));
    auto size = static_cast<std::uint64_t>(blob->size());
    bool unsatisfiable = false;
    std::optional<ByteRange> range;
    auto range_header = req.header("Range");
    auto if_range = req.header("If-Range");
    if (!range_header.empty() && (if_range.empty() || if_range == etag))
      range = parse_range(range_header, size, unsatisfiable);
    if (unsatisfiable) {
      auto e = Response::json(416, core::error_json(ErrorCode::bad_request, "the requested range is outside the image"));
      e.header("Content-Range", "bytes */" + std::to_string(size));
      return e;
    }
    if (range) {
      r.status = 206;
      r.header("Content-Range", "bytes " + std::to_string(range->first) + "-" + std::to_string(range->last) + "/" +
                                    std::to_string(size));
      r.file = FileRange{blob->path(), range->first, range->last - range->first + 1, nullptr};
    } else {
      r.file = FileRange{blob->path(), 0, size, nullptr};
    }
    r.file->owner = std::shared_ptr<storage::LocalBlob>(std::move(blob));
    return r;
  }

  Response original_from_memory(const core::ImageRecord& rec, const std::string& etag,
                               std::shared_ptr<const std::string> bytes) {
    Response r;
    r.header("ETag", etag);
    r.header("Cache-Control", "public, max-age=31536000, immutable");
    r.header("Accept-Ranges", "bytes");
    r.header("Content-Type", mime_of(rec.format));
    r.shared_body = std::move(bytes);
    return r;
  }

  asio::awaitable<Response> info(Request& req, BodyReader&) {
    auto rec = images_.get(req.params[0]);
    auto o = image_json(rec, false);
    o.erase("duplicate");
    if (!rec.metadata_json.empty()) {
      boost::system::error_code ec;
      auto extra = json::parse(rec.metadata_json, ec);
      if (!ec && extra.is_object())
        for (auto& [k, v] : extra.as_object()) o[k] = v;
    }
    co_return Response::json(200, core::json_text(o));
  }

  asio::awaitable<Response> explain(Request& req, BodyReader&) {
    auto spec = spec_of(req, false);
    auto rec = find_with_fallback(req.params[0], spec);
    bool vary = false;
    auto format = output_format(req, spec, rec, vary);
    spec.format = format;
    spec.fallback.clear();
    auto canonical = ops::canonical(spec);
    auto key = service::ImageService::derivative_key(rec.sha256, canonical, format);
    auto plan = co_await d_.pool.run([&] { return images_.explain(rec, spec, format); });
    json::object out;
    out["canonical"] = canonical;
    boost::system::error_code ec;
    auto steps = json::parse(plan.steps_json, ec);
    out["steps"] = ec ? json::value(ops::explain_steps(spec)) : steps;
    out["output"] = json::object{{"format", format}, {"width", plan.width}, {"height", plan.height}};
    out["cached"] = images_.catalog().get_derivative(key).has_value();
    co_return Response::json(200, core::json_text(out));
  }

  asio::awaitable<Response> list(Request& req, BodyReader&) {
    catalog::ImageQuery q;
    for (const auto& [k, v] : req.query) {
      if (k == "tag") q.tags.push_back(v);
      else if (k == "format") q.format = v;
      else if (k == "camera") q.camera = v;
      else if (k == "q") q.text = v;
      else if (k == "cursor") q.cursor = v;
      else if (k == "from" || k == "to") {
        auto t = core::parse_rfc3339(v);
        if (!t) throw Error(ErrorCode::bad_parameter, k + " must be RFC 3339 or YYYY-MM-DD, got \"" + v + "\"");
        if (k == "from") q.from = *t;
        else q.to = (v.size() == 10) ? *t + 86399 : *t;  // a bare date covers the whole day
      } else if (k == "limit") {
        int n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > 1000)
          throw Error(ErrorCode::bad_parameter, "limit must be an integer from 1 to 1000, got \"" + v + "\"");
        q.limit = n;
      } else {
        throw Error(ErrorCode::bad_parameter, "unknown parameter " + k +
                                                  "; use q, tag, format, camera, from, to, limit or cursor");
      }
    }
    auto page = images_.catalog().list_images(q);
    json::array arr;
    for (const auto& r : page.images) {
      auto o = image_json(r, false);
      o.erase("duplicate");
      arr.push_back(std::move(o));
    }
    json::object out{{"images", std::move(arr)}};
    if (page.next_cursor.empty()) out["next_cursor"] = nullptr;
    else out["next_cursor"] = page.next_cursor;
    co_return Response::json(200, core::json_text(out));
  }

  // --- update and delete --------------------------------------------------
  asio::awaitable<Response> patch_image(Request& req, BodyReader& body) {
    auto o = read_json_object(co_await body.read_all(1 << 20));
    catalog::ImagePatch patch;
    for (auto& [k, v] : o) {
      if (k == "description") {
        if (!v.is_string() && !v.is_null()) throw Error(ErrorCode::bad_request, "\"description\" must be a string");
        patch.description = v.is_null() ? std::string() : std::string(v.as_string());
      } else if (k == "tags") {
        patch.tags = tags_field(o);
      } else if (k == "focus") {
        if (v.is_null()) {
          patch.focus = std::optional<core::FocusPoint>();
          continue;
        }
        auto* fx = v.is_object() ? v.as_object().if_contains("x") : nullptr;
        auto* fy = v.is_object() ? v.as_object().if_contains("y") : nullptr;
        if (!fx || !fy || !fx->is_number() || !fy->is_number())
          throw Error(ErrorCode::bad_request, "\"focus\" must be {\"x\": 0..1, \"y\": 0..1}");
        core::FocusPoint p{fx->to_number<double>(), fy->to_number<double>()};
        if (p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1)
          throw Error(ErrorCode::bad_request, "\"focus\" x and y are fractions from 0 to 1");
        patch.focus = std::optional<core::FocusPoint>(p);
      } else {
        throw Error(ErrorCode::bad_request,
                    "cannot change \"" + std::string(k) + "\"; PATCH takes description, tags and focus");
      }
    }
    // Hashtags of a new description join the tags.
    if (patch.description) {
      std::vector<std::string> base;
      if (patch.tags) base = *patch.tags;
      else base = images_.get(req.params[0]).tags;
      auto merged = service::normalise_tags(base, *patch.description);
      patch.tags = merged;
    } else if (patch.tags) {
      patch.tags = service::normalise_tags(*patch.tags, "");
    }
    auto rec = images_.catalog().update_image(req.params[0], patch);
    if (!rec) throw Error(ErrorCode::not_found, "no image with id " + req.params[0]);
    auto out = image_json(*rec, false);
    out.erase("duplicate");
    co_return Response::json(200, core::json_text(out));
  }

  asio::awaitable<Response> delete_image(Request& req, BodyReader&) {
    const std::string& id = req.params[0];
    // Capture by reference: GCC 12 destroys by-value captures of a lambda
    // temporary in a co_await expression twice (seen under ASan).
    records_.erase(id);
    bool found = co_await d_.pool.run([this, &id] { return images_.remove(id); });
    records_.erase(id);
    if (!found) throw Error(ErrorCode::not_found, "no image with id " + id);
    Response r;
    r.status = 204;
    co_return r;
  }

  asio::awaitable<Response> list_derivatives(Request& req, BodyReader&) {
    auto rec = images_.get(req.params[0]);
    json::array arr;
    for (const auto& d : images_.catalog().list_derivatives(rec.sha256)) {
      arr.push_back(json::object{{"params", d.params},
                                 {"format", d.format},
                                 {"width", d.width},
                                 {"height", d.height},
                                 {"size", d.size},
                                 {"created_at", core::format_rfc3339(d.created_at)},
                                 {"last_used_at", core::format_rfc3339(d.last_used_at)}});
    }
    co_return Response::json(200, core::json_text(json::object{{"derivatives", std::move(arr)}}));
  }

  asio::awaitable<Response> purge_derivatives(Request& req, BodyReader&) {
    auto rec = images_.get(req.params[0]);
    co_await d_.pool.run([this, &rec] {
      images_.purge_derivatives(rec);
      return true;
    });
    Response r;
    r.status = 204;
    co_return r;
  }

  // --- transform without storing -------------------------------------------
  asio::awaitable<Response> transform(Request& req, BodyReader& body) {
    auto type = media_type(req.header("Content-Type"));
    ops::TransformSpec spec;
    StagedUpload up;
    bool have_query_params = false;
    for (const auto& [k, v] : req.query)
      if (ops::is_transform_parameter(k)) have_query_params = true;
    if (iequals(type, "application/json")) {
      auto o = read_json_object(co_await body.read_all(json_limit()));
      const json::object* source = &o;
      if (auto* s = o.if_contains("source")) {
        if (!s->is_object()) throw Error(ErrorCode::bad_request, "\"source\" must be an object");
        source = &s->as_object();
      }
      if (auto* p = o.if_contains("params")) {
        if (have_query_params)
          throw Error(ErrorCode::bad_request, "give the parameters either in the query or in \"params\", not both");
        if (p->is_object()) spec = ops::parse_json(p->as_object(), d_.config.presets);
        else if (p->is_string()) spec = ops::parse_query(ops::split_query(p->as_string()), d_.config.presets);
        else throw Error(ErrorCode::bad_request, "\"params\" must be an object or a query string");
      } else {
        spec = ops::parse_query(req.query, d_.config.presets);
      }
      if (auto* id = source->if_contains("id")) {
        if (!id->is_string()) throw Error(ErrorCode::bad_request, "\"id\" must be a string");
        auto rec = images_.get(std::string(id->as_string()));
        co_return co_await transform_stored(req, rec, spec);
      }
      if (source->contains("url")) {
        std::string url = string_field(*source, "url");
        up = co_await stage_url(url);
      } else {
        up = stage_base64(*source);
      }
    } else if (iequals(type, "multipart/form-data")) {
      spec = ops::parse_query(req.query, d_.config.presets);
      UploadCollector collector(blobs_, d_.config.max_upload_bytes);
      co_await read_multipart(req, body, collector);
      if (collector.files.size() != 1)
        throw Error(ErrorCode::bad_multipart, "POST /v1/transform takes exactly one file part");
      up = std::move(collector.files.front());
    } else {
      spec = ops::parse_query(req.query, d_.config.presets);
      up = co_await stage_body(body);
    }
    co_return co_await render_staged(req, up, spec);
  }

  asio::awaitable<Response> transform_url(Request& req, BodyReader&) {
    auto url = req.query_value("url");
    if (!url || url->empty()) throw Error(ErrorCode::bad_parameter, "url is required: /v1/transform?url=https://...&w=300");
    if (!d_.config.signing_secrets.empty() &&
        !ops::verify_signature(d_.config.signing_secrets, req.path, req.query))
      throw Error(ErrorCode::bad_signature, "the URL signature is missing or does not match");
    ops::QueryParams params;
    for (const auto& kv : req.query)
      if (kv.first != "sig" && kv.first != "url") params.push_back(kv);
    auto spec = ops::parse_query(params, d_.config.presets);
    auto up = co_await stage_url(*url);
    co_return co_await render_staged(req, up, spec);
  }

  asio::awaitable<Response> render_staged(Request& req, StagedUpload& up, const ops::TransformSpec& spec) {
    auto out = co_await d_.pool.run([this, &up, &spec, &req] {
      imaging::Source src;
      src.path = up.file->path();
      src.probe = imaging::probe_file(src.path, images_.limits());
      bool vary = false;
      core::ImageRecord pseudo;
      pseudo.format = src.probe.format;
      pseudo.has_alpha = src.probe.has_alpha;
      auto format = output_format(req, spec, pseudo, vary);
      return images_.render_source(src, spec, format);
    });
    Response r;
    r.body = std::move(out.bytes);
    r.header("Content-Type", out.mime);
    r.header("Cache-Control", "no-store");
    if (spec.format == "auto") r.header("Vary", "Accept");
    co_return r;
  }

  asio::awaitable<Response> transform_stored(Request& req, const core::ImageRecord& rec, ops::TransformSpec spec) {
    bool vary = false;
    auto format = output_format(req, spec, rec, vary);
    spec.format = format;
    spec.fallback.clear();
    auto canonical = ops::canonical(spec);
    auto key = service::ImageService::derivative_key(rec.sha256, canonical, format);
    auto d = co_await derivative(rec, spec, canonical, format, key);
    Response r;
    r.shared_body = std::move(d.bytes);
    r.header("Content-Type", d.mime);
    r.header("X-Cache", d.cache_hit ? "hit" : "miss");
    if (vary) r.header("Vary", "Accept");
    co_return r;
  }

  ApiDeps& d_;
  service::ImageService& images_;
  storage::BlobStore& blobs_;
  Flights flights_;
  // Records change only by deletion (handled here; other nodes' deletes show
  // within the expiry); originals are content-addressed and immutable.
  core::HotCache<core::ImageRecord> records_{8 << 20};
  core::HotCache<std::shared_ptr<const std::string>> originals_;
  static constexpr auto kRecordTtl = std::chrono::seconds(2);
  static constexpr std::uint64_t kMaxHotOriginal = 1 << 20;
};

}  // namespace

void register_api(Server& server, ApiDeps& deps) {
  Api::install(server, std::make_shared<Api>(deps));
}

}  // namespace progimage::http
