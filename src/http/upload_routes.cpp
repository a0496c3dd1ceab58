// POST /v1/images: raw bytes, multipart/form-data with any number of files,
// or JSON {"data"} / {"url"} (docs/API.md "Images"). The same bodies and
// answers serve upload links (take_upload(), upload_link_routes.cpp).
#include <boost/json.hpp>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "fetch/url.hpp"
#include "http/image_json.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

/// Room a body needs beyond its image bytes: multipart boundaries and
/// fields, JSON around the base64.
constexpr std::int64_t kBodyOverhead = 64 * 1024;

/// A body refused (413) once it passes `limit` bytes, while it streams.
class LimitedBody final : public BodyReader {
 public:
  LimitedBody(BodyReader& inner, std::int64_t limit) : inner_(inner), limit_(limit) {}

  boost::asio::awaitable<std::size_t> read_some(char* data, std::size_t size) override {
    auto n = co_await inner_.read_some(data, size);
    read_ += static_cast<std::int64_t>(n);
    if (read_ > limit_)
      throw Error(ErrorCode::payload_too_large,
                  "the body is larger than this upload allows (" + std::to_string(limit_) + " bytes)");
    co_return n;
  }

 private:
  BodyReader& inner_;
  std::int64_t limit_;
  std::int64_t read_ = 0;
};

/// One request's bodies through one intake.
class Intake {
 public:
  Intake(ApiContext& cx, const UploadIntake& intake) : cx_(cx), intake_(intake) {}

  Handle take(Request& req, BodyReader& body) {
    auto type = media_type(req.header("Content-Type"));
    const bool multipart = core::iequals(type, "multipart/form-data");
    const bool json_body = core::iequals(type, "application/json");
    // Before the body is read: over quota is refused without taking the bytes.
    // Only raw bodies say their image's size; the others count as one more image.
    cx_.tenants.check_quota(intake_.scope, multipart || json_body ? 0 : req.content_length.value_or(0));
    if (!multipart && !json_body && !type.empty() && !core::iequals(type, "application/octet-stream") &&
        !core::iequals(type.substr(0, 6), "image/"))
      throw Error(ErrorCode::unsupported_media,
                  "Content-Type " + std::string(type) +
                      " is not accepted; send image bytes (image/* or application/octet-stream), "
                      "multipart/form-data or JSON {\"data\": base64}");
    if (intake_.max_bytes <= 0) co_return co_await take_body(req, body, multipart, json_body);
    const std::int64_t limit = multipart   ? intake_.max_bytes + kBodyOverhead
                               : json_body ? intake_.max_bytes / 3 * 4 + 4 + kBodyOverhead
                                           : intake_.max_bytes;
    if (req.content_length && *req.content_length > limit)
      throw Error(ErrorCode::payload_too_large, "the body of " + std::to_string(*req.content_length) +
                                                    " bytes is larger than this upload allows (" +
                                                    std::to_string(intake_.max_bytes) + " bytes of image)");
    LimitedBody limited(body, limit);
    co_return co_await take_body(req, limited, multipart, json_body);
  }

 private:
  Handle take_body(Request& req, BodyReader& body, bool multipart, bool json_body) {
    if (multipart) co_return co_await upload_multipart(req, body);
    if (json_body) co_return co_await upload_json(body);
    auto upload = co_await read_upload(body, cx_.images);
    service::UploadMeta meta;
    meta.name = req.query_value("name").value_or("");
    meta.description = req.query_value("description").value_or("");
    meta.tags = split_tags(req.query_value("tags").value_or(""));
    auto stored = co_await ingest(upload, meta);
    co_return created(stored);
  }

  boost::asio::awaitable<service::IngestResult> ingest(service::Upload& upload, const service::UploadMeta& meta) {
    co_return co_await cx_.pool.run([this, &upload, &meta] { return intake_.ingest(upload, meta); });
  }

  static Response created(const service::IngestResult& r) {
    auto res = Response::json(r.duplicate ? 200 : 201, core::json_text(image_json(r.image, r.duplicate)));
    if (!r.duplicate) res.header("Location", "/v1/images/" + r.image.id);
    res.work.uploads = 1;
    return res;
  }

  Handle upload_multipart(Request& req, BodyReader& body) {
    UploadCollector collector(cx_.images, cx_.config.max_upload_bytes);
    co_await read_multipart(req, body, collector);
    if (collector.files.empty())
      throw Error(ErrorCode::bad_multipart, "the form has no file part; attach images, e.g. curl -F image=@photo.jpg");

    service::UploadMeta common;
    common.description = collector.fields["description"];
    common.tags = split_tags(collector.fields["tags"]);
    json::array results;
    std::size_t stored = 0;
    std::optional<Error> first_error;
    for (auto& part : collector.files) {
      service::UploadMeta meta = common;
      meta.name = part.filename.empty() ? collector.fields["name"] : part.filename;
      try {
        auto r = co_await ingest(part.upload, meta);
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
    if (stored > 0) {
      auto r = Response::json(stored == collector.files.size() ? 201 : 207, core::json_text(out));
      r.work.uploads = static_cast<int>(stored);
      co_return r;
    }
    out["error"] = json::object{{"code", core::code_name(first_error->code())}, {"message", first_error->what()}};
    co_return Response::json(first_error->status(), core::json_text(out));
  }

  Handle upload_json(BodyReader& body) {
    auto o = co_await read_json_object(body, json_body_limit(cx_.config));
    service::UploadMeta meta;
    meta.name = string_field(o, "name");
    meta.description = string_field(o, "description");
    meta.tags = tags_field(o);
    if (meta.name.empty() && o.contains("url")) meta.name = fetch::file_name_from_url(string_field(o, "url"));
    auto upload = co_await json_image(o, cx_);
    auto stored = co_await ingest(upload, meta);
    co_return created(stored);
  }

  ApiContext& cx_;
  const UploadIntake& intake_;
};

class UploadRoutes {
 public:
  explicit UploadRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle upload(Request& req, BodyReader& body) {
    UploadIntake intake{req.scope, [this, &req](service::Upload& upload, const service::UploadMeta& meta) {
                          return cx_.images.ingest(req.scope, upload, meta);
                        }};
    co_return co_await take_upload(cx_, req, body, intake);
  }

 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

Handle take_upload(ApiContext& cx, Request& req, BodyReader& body, const UploadIntake& intake) {
  Intake run(cx, intake);
  co_return co_await run.take(req, body);
}

void install_upload_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<UploadRoutes>(rc);
  add_route(server, "POST", "/v1/images", Access::write, self, &UploadRoutes::upload);
}

}  // namespace progimage::http
