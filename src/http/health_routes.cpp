// /healthz, /readyz, /metrics and /openapi.json.
#include "core/error.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace {

class HealthRoutes {
 public:
  explicit HealthRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle healthz(Request&, BodyReader&) { co_return Response::json(200, R"({"status":"ok"})"); }

  Handle readyz(Request&, BodyReader&) {
    // Inline, not on the processing pool: a full pool must not make a
    // healthy node look unready.
    if (cx_.images.ready()) co_return Response::json(200, R"({"status":"ready"})");
    co_return Response::error(core::ErrorCode::unavailable, "the catalog or the blob store does not answer");
  }

  Handle metrics(Request&, BodyReader&) {
    Response r;
    r.body = cx_.metrics_text();
    r.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    co_return r;
  }

  Handle openapi(Request&, BodyReader&) { co_return Response::json(200, cx_.openapi_json); }

 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_health_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<HealthRoutes>(rc);
  add_route(server, "GET", "/healthz", Access::open, self, &HealthRoutes::healthz);
  add_route(server, "GET", "/readyz", Access::open, self, &HealthRoutes::readyz);
  add_route(server, "GET", "/metrics", Access::open, self, &HealthRoutes::metrics);
}

void install_openapi_route(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<HealthRoutes>(rc);
  add_route(server, "GET", "/openapi.json", Access::open, self, &HealthRoutes::openapi);
}

}  // namespace progimage::http
