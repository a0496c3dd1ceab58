// Resumable uploads over tus 1.0 (tus.io) at /v1/resumable/: OPTIONS, POST
// (creation, creation-with-upload), HEAD, PATCH, DELETE (termination), with
// expiration; docs/API.md "Resumable uploads". The use cases are
// service::ResumableUploads; here is the protocol.
#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"
#include "http/tus.hpp"

namespace progimage::http {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr const char* kUploadsPath = "/v1/resumable/";
/// The header that names the image a finished upload became.
constexpr const char* kImageIdHeader = "ProgImage-Image-Id";

void require_version(const Request& req) {
  if (!tus::is_supported_version(req.header("Tus-Resumable")))
    throw Error(ErrorCode::precondition_failed,
                "this server speaks tus " + std::string(tus::kVersion) + ": send Tus-Resumable: " +
                    std::string(tus::kVersion));
}

std::int64_t size_header(const Request& req, const char* name) {
  auto value = req.header(name);
  if (value.empty()) throw Error(ErrorCode::bad_request, std::string(name) + " is required");
  auto n = tus::parse_size(value);
  if (!n) throw Error(ErrorCode::bad_request, std::string(name) + " must be a whole number of bytes");
  return *n;
}

bool has_body(const Request& req) {
  return req.content_length.value_or(0) > 0 || !req.header("Transfer-Encoding").empty();
}

void require_chunk_type(const Request& req) {
  if (!core::iequals(media_type(req.header("Content-Type")), tus::kChunkMediaType))
    throw Error(ErrorCode::unsupported_media,
                "the bytes of an upload are sent as Content-Type: " + std::string(tus::kChunkMediaType));
}

/// Who asks: a key's scope, or nobody (the upload URL or a link is the proof).
service::Caller caller_of(const Request& req) {
  if (!req.principal) return std::nullopt;
  return req.scope;
}

/// The image's name, description and tags from the upload's metadata.
service::UploadMeta upload_meta_of(const std::string& metadata) {
  auto pairs = tus::parse_metadata(metadata).pairs;
  service::UploadMeta meta;
  meta.name = tus::metadata_value(pairs, "filename").value_or(tus::metadata_value(pairs, "name").value_or(""));
  meta.description = tus::metadata_value(pairs, "description").value_or("");
  meta.tags = split_tags(tus::metadata_value(pairs, "tags").value_or(""));
  return meta;
}

/// Every answer but OPTIONS says the protocol version.
Response tus_response(unsigned status) {
  Response r;
  r.status = status;
  r.header("Tus-Resumable", std::string(tus::kVersion));
  return r;
}

/// The error answer of tus requests: the JSON error plus the headers tus asks for.
Response tus_error(const Error& e) {
  auto r = Response::error(e);
  r.header("Tus-Resumable", std::string(tus::kVersion));
  if (e.code() == ErrorCode::precondition_failed) r.header("Tus-Version", std::string(tus::kVersion));
  return r;
}

/// Upload-Offset, Upload-Expires while unfinished, the image once finished.
void describe(Response& r, const catalog::ResumableUploadRecord& rec, std::int64_t offset) {
  r.header("Upload-Offset", std::to_string(offset));
  if (rec.image_id.empty()) r.header("Upload-Expires", tus::http_date(rec.expires_at));
  else r.header(kImageIdHeader, rec.image_id);
}

class ResumableRoutes {
 public:
  explicit ResumableRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle options(Request&, BodyReader&) {
    Response r;
    r.status = 204;
    r.header("Tus-Resumable", std::string(tus::kVersion));
    r.header("Tus-Version", std::string(tus::kVersion));
    r.header("Tus-Extension", std::string(tus::kExtensions));
    r.header("Tus-Max-Size", std::to_string(cx_.resumable.options().max_size));
    co_return r;
  }

  Handle create(Request& req, BodyReader& body) {
    require_version(req);
    if (!req.header("Upload-Defer-Length").empty())
      throw Error(ErrorCode::bad_request, "a deferred length is not supported: send Upload-Length");
    service::NewResumable wanted;
    wanted.length = size_header(req, "Upload-Length");
    auto metadata = tus::parse_metadata(req.header("Upload-Metadata"));
    if (!metadata.error.empty()) throw Error(ErrorCode::bad_request, metadata.error);
    std::vector<tus::MetadataPair> kept;
    for (auto& pair : metadata.pairs) {
      if (pair.key == "link") wanted.link_token = std::move(pair.value);
      else kept.push_back(std::move(pair));
    }
    wanted.metadata = tus::format_metadata(kept);
    const bool with_bytes = has_body(req);
    if (with_bytes) require_chunk_type(req);
    const auto caller = caller_of(req);
    auto made = co_await cx_.pool.run([this, &caller, &wanted] {
      return std::optional(cx_.resumable.create(caller, wanted));
    });
    req.scope = core::Scope::of(made->state.record.tenant);  // usage counts for the upload's tenant
    auto r = tus_response(201);
    r.header("Location", kUploadsPath + made->token);
    auto rec = made->state.record;
    std::int64_t offset = 0;
    if (with_bytes) {
      auto writer = co_await cx_.pool.run([this, &made, &caller] {
        return std::optional(cx_.resumable.writer(made->token, caller, 0));
      });
      co_await append(body, *writer, r);
      rec = writer->record();
      offset = writer->offset();
    }
    describe(r, rec, offset);
    co_return r;
  }

  Handle head(Request& req, BodyReader&) {
    require_version(req);
    const auto caller = caller_of(req);
    const std::string token = req.params[0];
    auto state = co_await cx_.pool.run([this, &token, &caller] { return cx_.resumable.find(token, caller); });
    req.scope = core::Scope::of(state.record.tenant);
    auto r = tus_response(200);
    if (!state.finished() && state.has_all_bytes()) {
      // All bytes arrived but no image came of them (a crash between): finish now.
      auto writer = co_await cx_.pool.run([this, &state] { return cx_.resumable.unfinished_writer(state); });
      if (writer) {
        auto stored = co_await cx_.pool.run([this, &writer] {
          return cx_.resumable.complete(*writer, upload_meta_of(writer->record().metadata));
        });
        state.record.image_id = stored.image.id;
        r.work.uploads = 1;
      }
    }
    r.header("Upload-Length", std::to_string(state.record.length));
    if (!state.record.metadata.empty()) r.header("Upload-Metadata", state.record.metadata);
    r.header("Cache-Control", "no-store");
    describe(r, state.record, state.offset);
    co_return r;
  }

  Handle patch(Request& req, BodyReader& body) {
    require_version(req);
    require_chunk_type(req);
    const auto offset = size_header(req, "Upload-Offset");
    const auto caller = caller_of(req);
    const std::string token = req.params[0];
    auto writer = co_await cx_.pool.run([this, &token, &caller, &offset] {
      return std::optional(cx_.resumable.writer(token, caller, offset));
    });
    req.scope = core::Scope::of(writer->record().tenant);
    if (req.content_length && offset + *req.content_length > writer->record().length)
      throw Error(ErrorCode::payload_too_large, "the body goes past the Upload-Length of " +
                                                    std::to_string(writer->record().length) + " bytes");
    auto r = tus_response(204);
    co_await append(body, *writer, r);
    describe(r, writer->record(), writer->offset());
    co_return r;
  }

  /// Streams the body into the upload, then makes it durable, and stores the
  /// image when the last byte is in. What arrives before a cut is kept.
  boost::asio::awaitable<void> append(BodyReader& body, service::ResumableUploads::Writer& writer, Response& r) {
    std::vector<char> buf(kChunk);
    for (;;) {
      auto n = co_await body.read_some(buf.data(), buf.size());
      if (n == 0) break;
      writer.write(std::string_view(buf.data(), n));
    }
    auto stored = co_await cx_.pool.run([this, &writer] {
      writer.sync();  // acknowledged bytes survive a power loss
      std::optional<service::IngestResult> result;
      if (writer.has_all_bytes()) result = cx_.resumable.complete(writer, upload_meta_of(writer.record().metadata));
      return result;
    });
    if (stored) r.work.uploads = 1;
  }

  Handle terminate(Request& req, BodyReader&) {
    require_version(req);
    const auto caller = caller_of(req);
    const std::string token = req.params[0];
    [[maybe_unused]] bool done = co_await cx_.pool.run([this, &token, &caller] {
      cx_.resumable.terminate(token, caller);
      return true;
    });
    co_return tus_response(204);
  }

  /// POST on an upload URL with X-HTTP-Method-Override, for clients that cannot send PATCH or DELETE.
  Handle overridden(Request& req, BodyReader& body) {
    auto method = req.header("X-HTTP-Method-Override");
    if (core::iequals(method, "PATCH")) co_return co_await patch(req, body);
    if (core::iequals(method, "DELETE")) co_return co_await terminate(req, body);
    if (core::iequals(method, "HEAD")) co_return co_await head(req, body);
    require_version(req);
    throw Error(ErrorCode::bad_request, "POST on an upload URL needs X-HTTP-Method-Override: PATCH, DELETE or HEAD");
  }


 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_resumable_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<ResumableRoutes>(rc);
  // Errors, those of authentication and the rate limit too, answer with tus's headers.
  add_route(server, "OPTIONS", "/v1/resumable/", Access::open, self, &ResumableRoutes::options);
  add_route(server, "POST", "/v1/resumable/", Access::write_or_link, self, &ResumableRoutes::create, tus_error);
  add_route(server, "HEAD", "/v1/resumable/{id}", Access::write_or_link, self, &ResumableRoutes::head, tus_error);
  add_route(server, "PATCH", "/v1/resumable/{id}", Access::write_or_link, self, &ResumableRoutes::patch, tus_error);
  add_route(server, "DELETE", "/v1/resumable/{id}", Access::write_or_link, self, &ResumableRoutes::terminate, tus_error);
  add_route(server, "POST", "/v1/resumable/{id}", Access::write_or_link, self, &ResumableRoutes::overridden, tus_error);
}

}  // namespace progimage::http
