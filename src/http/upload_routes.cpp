// POST /v1/images: raw bytes, multipart/form-data with any number of files,
// or JSON {"data"} / {"url"} (docs/API.md "Images").
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

class UploadRoutes {
 public:
  explicit UploadRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle upload(Request& req, BodyReader& body) {
    auto type = media_type(req.header("Content-Type"));
    // Before the body is read: over quota is refused without taking the bytes.
    // Only raw bodies say their image's size; the others count as one more image.
    const bool raw = !core::iequals(type, "multipart/form-data") && !core::iequals(type, "application/json");
    cx_.tenants.check_quota(req.scope, raw ? req.content_length.value_or(0) : 0);
    if (core::iequals(type, "multipart/form-data")) co_return co_await upload_multipart(req, body);
    if (core::iequals(type, "application/json")) co_return co_await upload_json(req, body);
    if (!type.empty() && !core::iequals(type, "application/octet-stream") && !core::iequals(type.substr(0, 6), "image/"))
      throw Error(ErrorCode::unsupported_media,
                  "Content-Type " + std::string(type) +
                      " is not accepted; send image bytes (image/* or application/octet-stream), "
                      "multipart/form-data or JSON {\"data\": base64}");
    auto upload = co_await read_upload(body, cx_.images);
    service::UploadMeta meta;
    meta.name = req.query_value("name").value_or("");
    meta.description = req.query_value("description").value_or("");
    meta.tags = split_tags(req.query_value("tags").value_or(""));
    auto stored = co_await ingest(req.scope, upload, meta);
    co_return created(stored);
  }

 private:
  boost::asio::awaitable<service::IngestResult> ingest(const core::Scope& scope, service::Upload& upload,
                                                      const service::UploadMeta& meta) {
    co_return co_await cx_.pool.run([this, &scope, &upload, &meta] { return cx_.images.ingest(scope, upload, meta); });
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
        auto r = co_await ingest(req.scope, part.upload, meta);
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

  Handle upload_json(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, json_body_limit(cx_.config));
    service::UploadMeta meta;
    meta.name = string_field(o, "name");
    meta.description = string_field(o, "description");
    meta.tags = tags_field(o);
    // Plain statements around co_await: GCC 12 mishandles temporaries in conditional co_await.
    std::optional<service::Upload> upload;
    if (o.contains("url")) {
      std::string url = string_field(o, "url");
      if (meta.name.empty()) meta.name = fetch::file_name_from_url(url);
      auto fetched = co_await fetch_upload(url, cx_);
      upload.emplace(std::move(fetched));
    } else {
      upload.emplace(decode_upload(o, cx_.images));
    }
    auto stored = co_await ingest(req.scope, *upload, meta);
    co_return created(stored);
  }

  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_upload_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<UploadRoutes>(rc);
  add_route(server, "POST", "/v1/images", Access::write, self, &UploadRoutes::upload);
}

}  // namespace progimage::http
