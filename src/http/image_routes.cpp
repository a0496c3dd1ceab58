// Stored images (docs/API.md "Images"): the original or a transform of it,
// its record, list and search, PATCH, DELETE, /info and /v1/stats.
#include <boost/json.hpp>

#include <charconv>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "http/conditional.hpp"
#include "http/image_json.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxPatchBody = 1 << 20;
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
/// Bytes per read of a streamed original.
constexpr std::size_t kStreamChunk = 256 * 1024;

json::array pairs_json(const std::vector<std::pair<std::string, std::int64_t>>& v, const char* key) {
  json::array a;
  for (const auto& [name, n] : v) a.push_back(json::object{{key, name}, {"uploads", n}});
  return a;
}

std::optional<core::FocusPoint> focus_field(const json::value& v) {
  if (v.is_null()) return std::nullopt;
  auto* fx = v.is_object() ? v.as_object().if_contains("x") : nullptr;
  auto* fy = v.is_object() ? v.as_object().if_contains("y") : nullptr;
  if (!fx || !fy || !fx->is_number() || !fy->is_number())
    throw Error(ErrorCode::bad_request, "\"focus\" must be {\"x\": 0..1, \"y\": 0..1}");
  core::FocusPoint p{fx->to_number<double>(), fy->to_number<double>()};
  if (p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1)
    throw Error(ErrorCode::bad_request, "\"focus\" x and y are fractions from 0 to 1");
  return p;
}

class ImageRoutes {
 public:
  explicit ImageRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  /// GET /v1/images/{id} and /v1/images/{id}.{ext}.
  Handle get_image(Request& req, BodyReader&) {
    const bool converting = req.params.size() > 1;
    auto spec = rc_->signed_spec(req, converting);
    auto rec = cx_.images.get_for_render(req.scope, req.params[0], spec.fallback);
    auto plan = cx_.images.plan(rec, std::move(spec), converting ? req.params[1] : "", req.header("Accept"));
    if (plan.original) co_return original(req, rec);

    const std::string etag = "\"" + plan.key + "\"";
    if (auto inm = req.header("If-None-Match"); !inm.empty() && etag_matches(inm, etag)) {
      Response r;
      r.status = 304;
      r.header("ETag", etag);
      if (plan.vary_accept) r.header("Vary", "Accept");
      co_return r;
    }
    auto d = co_await rc_->derivative(rec, plan);
    auto r = derivative_response(std::move(d), plan);
    r.header("ETag", etag);
    r.header("Cache-Control", kImmutable);
    co_return r;
  }

  Handle list(Request& req, BodyReader&) {
    catalog::ImageQuery q;
    for (const auto& [k, v] : req.query) {
      if (k == "cursor") q.cursor = v;
      else if (k == "limit") q.limit = page_limit(v);
      else if (k == "tag" || k == "format" || k == "camera" || k == "q" || k == "from" || k == "to")
        service::add_search_term(q, k, v);
      else
        throw Error(ErrorCode::bad_parameter,
                    "unknown parameter " + k + "; use q, tag, format, camera, from, to, limit or cursor");
    }
    auto page = cx_.images.list(req.scope, q);
    json::array arr;
    for (const auto& r : page.images) arr.push_back(image_json(r));
    json::object out{{"images", std::move(arr)}};
    if (page.next_cursor.empty()) out["next_cursor"] = nullptr;
    else out["next_cursor"] = page.next_cursor;
    co_return Response::json(200, core::json_text(out));
  }

  Handle patch_image(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, kMaxPatchBody);
    service::ImageChanges changes;
    for (auto& [k, v] : o) {
      if (k == "description") {
        if (!v.is_string() && !v.is_null()) throw Error(ErrorCode::bad_request, "\"description\" must be a string");
        changes.description = v.is_null() ? std::string() : std::string(v.as_string());
      } else if (k == "tags") {
        changes.tags = tags_field(o);
      } else if (k == "focus") {
        changes.focus = focus_field(v);
      } else {
        throw Error(ErrorCode::bad_request,
                    "cannot change \"" + std::string(k) + "\"; PATCH takes description, tags and focus");
      }
    }
    auto rec = cx_.images.update(req.scope, req.params[0], changes);
    co_return Response::json(200, core::json_text(image_json(rec)));
  }

  Handle delete_image(Request& req, BodyReader&) {
    const std::string& id = req.params[0];
    // Capture by reference: GCC 12 destroys by-value captures of a lambda
    // temporary in a co_await expression twice (seen under ASan).
    bool found = co_await cx_.pool.run([this, &req, &id] { return cx_.images.remove(req.scope, id); });
    if (!found) throw Error(ErrorCode::not_found, "no image with id " + id);
    co_return Response::no_content();
  }

  Handle info(Request& req, BodyReader&) {
    auto rec = cx_.images.get(req.scope, req.params[0]);
    co_return Response::json(200, core::json_text(image_info_json(rec)));
  }

  Handle stats(Request& req, BodyReader&) {
    auto st = cx_.images.stats(req.scope);
    json::object out;
    out["images"] = st.images;
    out["bytes_stored"] = st.bytes_stored;
    out["bytes_saved_by_dedupe"] = st.bytes_saved_by_dedupe;
    out["bytes_working_copies"] = st.bytes_working_copies;
    out["formats"] = pairs_json(st.formats, "format");
    if (st.formats.empty()) out["popular_format"] = nullptr;
    else out["popular_format"] = json::object{{"format", st.formats[0].first}, {"uploads", st.formats[0].second}};
    out["top_camera_models"] = pairs_json(st.camera_models, "model");
    out["uploads_per_day"] = pairs_json(st.uploads_per_day, "date");
    out["jobs"] = json::object{{"queued", st.jobs_queued}, {"running", st.jobs_running}, {"failed", st.jobs_failed}};
    co_return Response::json(200, core::json_text(out));
  }

 private:
  /// The original bytes, honouring If-None-Match, Range and If-Range.
  Response original(const Request& req, const core::ImageRecord& rec) {
    const std::string etag = "\"" + rec.sha256 + "\"";
    Response r;
    r.header("ETag", etag);
    r.header("Cache-Control", kImmutable);
    r.header("Accept-Ranges", "bytes");
    if (auto inm = req.header("If-None-Match"); !inm.empty() && etag_matches(inm, etag)) {
      r.status = 304;
      return r;
    }
    const auto size = static_cast<std::uint64_t>(rec.size);
    RangeRequest range;
    auto if_range = req.header("If-Range");
    if (if_range.empty() || if_range == etag) range = parse_range(req.header("Range"), size);
    if (range.unsatisfiable) {
      auto e = Response::error(ErrorCode::bad_request, "the requested range is outside the image");
      e.status = 416;
      e.header("Content-Range", "bytes */" + std::to_string(size));
      return e;
    }
    r.header("Content-Type", std::string(core::mime_type(rec.format)));
    if (range.range) {
      r.status = 206;
      r.header("Content-Range", "bytes " + std::to_string(range.range->first) + "-" +
                                    std::to_string(range.range->last) + "/" + std::to_string(size));
    }
    send_body(r, cx_.images.open_original(rec, range.range));
    return r;
  }

  /// Puts a service body into the response without copying it.
  void send_body(Response& r, service::Body body) {
    if (auto* bytes = std::get_if<std::shared_ptr<const std::string>>(&body)) {
      r.shared_body = std::move(*bytes);
    } else if (auto* span = std::get_if<service::FileSpan>(&body)) {
      r.file = FileRange{std::move(span->path), span->offset, span->length, std::move(span->owner)};
    } else {
      auto stream = std::get<std::shared_ptr<service::ByteStream>>(std::move(body));
      // Reads block on the store: on the fetch threads, one chunk at a time.
      r.stream = StreamBody{stream->length(), [stream, &pool = cx_.fetch_pool](char* data, std::size_t size) {
                              return pool.run([stream, data, size] {
                                return stream->read(data, std::min(size, kStreamChunk));
                              });
                            }};
    }
  }

  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_image_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<ImageRoutes>(rc);
  add_route(server, "GET", "/v1/images", Access::read, self, &ImageRoutes::list);
  add_route(server, "GET", "/v1/images/{id}", Access::read, self, &ImageRoutes::get_image);
  add_route(server, "GET", "/v1/images/{id}.{ext}", Access::read, self, &ImageRoutes::get_image);
  add_route(server, "PATCH", "/v1/images/{id}", Access::write, self, &ImageRoutes::patch_image);
  add_route(server, "DELETE", "/v1/images/{id}", Access::write, self, &ImageRoutes::delete_image);
  add_route(server, "GET", "/v1/images/{id}/info", Access::read, self, &ImageRoutes::info);
  add_route(server, "GET", "/v1/stats", Access::admin, self, &ImageRoutes::stats);
}

}  // namespace progimage::http
