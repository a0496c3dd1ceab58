#pragma once
// Shared by the route files: what every resource's routes hold, binding
// handler members to routes, and the pieces two resources use alike.
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>

#include "http/api.hpp"
#include "http/single_flight.hpp"

namespace progimage::http {

using Handle = boost::asio::awaitable<Response>;

/// The API's context plus the state the routes share.
class RouteContext {
 public:
  explicit RouteContext(ApiContext& api) : api(api) {}

  ApiContext& api;

  /// The transform parameters of a GET, the URL signature checked when
  /// secrets are configured and the request transforms (`converting`: the
  /// path asks for another format). `ignored` names query parameters that
  /// belong to the route itself.
  ops::TransformSpec signed_spec(const Request& req, bool converting, std::string_view ignored = {}) const;

  /// The derivative for an answer: from the cache, else rendered on the
  /// processing pool, once however many requests miss it at the same time.
  boost::asio::awaitable<service::Derivative> derivative(const core::ImageRecord& image,
                                                         const service::RenderPlan& plan);

 private:
  SingleFlight flights_;
};

/// The bytes of a derivative with Content-Type, X-Cache and (for
/// format=auto) Vary; callers add their caching headers.
Response derivative_response(service::Derivative d, const service::RenderPlan& plan);

/// The most a list answers at once (`limit`).
inline constexpr int kMaxPageLimit = 1000;
/// An integer query parameter from `lo` to `hi`, else bad_parameter naming it.
int int_parameter(std::string_view name, const std::string& text, int lo, int hi);
/// A list's `limit` parameter: 1 to kMaxPageLimit, else bad_parameter.
inline int page_limit(const std::string& text) { return int_parameter("limit", text, 1, kMaxPageLimit); }

/// Routes `method pattern` to `(*self).*fn`; the route keeps `self` alive.
template <class Routes>
void add_route(Server& server, const char* method, const char* pattern, Access access,
               const std::shared_ptr<Routes>& self, Handle (Routes::*fn)(Request&, BodyReader&),
               ErrorAnswer error_answer = {}) {
  server.route(
      method, pattern, access, [self, fn](Request& r, BodyReader& b) { return ((*self).*fn)(r, b); },
      std::move(error_answer));
}

/// How bodies of the kind POST /v1/images takes become images: into whose
/// tenant, through what (ImageService::ingest, or an upload link's use), and
/// with what limit beyond the server's.
struct UploadIntake {
  core::Scope scope;
  /// Stores one upload (on the processing pool).
  std::function<service::IngestResult(service::Upload&, const service::UploadMeta&)> ingest;
  /// Image bytes allowed (0: the server's limit only); a body that cannot
  /// fit is refused (413) before it is read or while it streams.
  std::int64_t max_bytes = 0;
};

/// The bodies of POST /v1/images (raw, multipart, JSON data or url) and its
/// answers, through `intake` (upload_routes.cpp).
Handle take_upload(ApiContext& cx, Request& req, BodyReader& body, const UploadIntake& intake);

void install_health_routes(Server& server, const std::shared_ptr<RouteContext>& rc);  // healthz, readyz, metrics
void install_openapi_route(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_upload_routes(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_image_routes(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_transform_routes(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_derivative_routes(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_job_routes(Server& server, const std::shared_ptr<RouteContext>& rc);
void install_tenant_routes(Server& server, const std::shared_ptr<RouteContext>& rc);  // keys, quotas, usage, tags
void install_upload_link_routes(Server& server, const std::shared_ptr<RouteContext>& rc);  // /v1/upload-links, /v1/uploads/{token}
void install_similar_routes(Server& server, const std::shared_ptr<RouteContext>& rc);  // similar images
void install_resumable_routes(Server& server, const std::shared_ptr<RouteContext>& rc);  // tus at /v1/resumable/

}  // namespace progimage::http
