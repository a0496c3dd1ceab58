// The derivatives of a stored image (list, purge) and its preset variants
// (docs/API.md "Images").
#include <boost/json.hpp>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace json = boost::json;

namespace {

constexpr const char* kVariantRetryAfter = "1";

class DerivativeRoutes {
 public:
  explicit DerivativeRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle list(Request& req, BodyReader&) {
    auto rec = cx_.images.get(req.scope, req.params[0]);
    json::array arr;
    for (const auto& d : cx_.images.derivatives(rec)) {
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

  Handle purge(Request& req, BodyReader&) {
    auto rec = cx_.images.get(req.scope, req.params[0]);
    co_await cx_.pool.run([this, &rec] {
      cx_.images.purge_derivatives(rec);
      return true;
    });
    co_return Response::no_content();
  }

  /// GET /v1/images/{id}/variants/{name}: the bytes when ready, 202 while
  /// pending, 500 with the error when it failed for good.
  Handle variant(Request& req, BodyReader&) {
    auto rec = cx_.images.get(req.scope, req.params[0]);
    auto state = cx_.images.variant(rec, req.params[1]);
    if (state.status == "failed") {
      json::object err{{"code", state.error ? state.error->code : "internal"},
                       {"message", state.error ? state.error->message : "the variant could not be made"}};
      co_return Response::json(500, core::json_text(json::object{{"status", "failed"}, {"error", std::move(err)}}));
    }
    if (state.status != "ready") {
      auto r = Response::json(202, R"({"status":"pending"})");
      r.header("Retry-After", kVariantRetryAfter);
      co_return r;
    }
    // Ready, but maybe evicted from the cache since: then rendered again the same way.
    auto d = co_await rc_->derivative(rec, state.plan);
    auto r = derivative_response(std::move(d), state.plan);
    r.header("ETag", "\"" + state.plan.key + "\"");
    r.header("Cache-Control", "public, max-age=86400");
    co_return r;
  }

 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_derivative_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<DerivativeRoutes>(rc);
  add_route(server, "GET", "/v1/images/{id}/derivatives", Access::read, self, &DerivativeRoutes::list);
  add_route(server, "DELETE", "/v1/images/{id}/derivatives", Access::write, self, &DerivativeRoutes::purge);
  add_route(server, "GET", "/v1/images/{id}/variants/{name}", Access::read, self, &DerivativeRoutes::variant);
}

}  // namespace progimage::http
