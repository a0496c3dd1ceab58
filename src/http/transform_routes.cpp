// Processing without storing (docs/API.md): POST /v1/transform,
// GET /v1/transform?url=, and the dry run GET /v1/images/{id}/explain.
#include <boost/json.hpp>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"
#include "ops/explain.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

class TransformRoutes {
 public:
  explicit TransformRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  /// POST /v1/transform: the body is the image (raw, one multipart file, or
  /// JSON {"data"|"url"}) or JSON {"source": {"id"|"url"|"data"}, "params"}.
  Handle transform(Request& req, BodyReader& body) {
    auto type = media_type(req.header("Content-Type"));
    if (core::iequals(type, "application/json")) co_return co_await transform_json(req, body);
    auto spec = cx_.images.parse(req.query);
    auto upload = co_await read_image_body(req, body, cx_, "POST /v1/transform");
    co_return co_await render_upload(req, upload, spec);
  }

  /// GET /v1/transform?url=...&{parameters}
  Handle transform_url(Request& req, BodyReader&) {
    auto url = req.query_value("url");
    if (!url || url->empty())
      throw Error(ErrorCode::bad_parameter, "url is required: /v1/transform?url=https://...&w=300");
    auto spec = rc_->signed_spec(req, true, "url");
    auto upload = co_await fetch_upload(*url, cx_);
    co_return co_await render_upload(req, upload, spec);
  }

  /// GET /v1/images/{id}/explain?{parameters}
  Handle explain(Request& req, BodyReader&) {
    auto spec = rc_->signed_spec(req, false);
    auto rec = cx_.images.get_for_render(req.scope, req.params[0], spec.fallback);
    auto plan = cx_.images.plan(rec, std::move(spec), "", req.header("Accept"));
    auto steps = co_await cx_.pool.run([&] { return cx_.images.explain(rec, plan); });
    json::object out;
    out["canonical"] = plan.canonical;
    boost::system::error_code ec;
    auto parsed_steps = json::parse(steps.steps_json, ec);
    out["steps"] = ec ? json::value(ops::explain_steps(plan.spec)) : parsed_steps;
    out["output"] = json::object{{"format", plan.format}, {"width", steps.width}, {"height", steps.height}};
    out["cached"] = cx_.images.is_cached(plan);
    co_return Response::json(200, core::json_text(out));
  }

 private:
  Handle transform_json(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, json_body_limit(cx_.config));
    const json::object* source = &o;
    if (auto* s = o.if_contains("source")) {
      if (!s->is_object()) throw Error(ErrorCode::bad_request, "\"source\" must be an object");
      source = &s->as_object();
    }
    auto spec = params_of(req, o);
    if (auto* id = source->if_contains("id")) {
      if (!id->is_string()) throw Error(ErrorCode::bad_request, "\"id\" must be a string");
      auto rec = cx_.images.get(req.scope, std::string(id->as_string()));
      co_return co_await transform_stored(req, rec, spec);
    }
    auto upload = co_await json_image(*source, cx_);
    co_return co_await render_upload(req, upload, spec);
  }

  /// The parameters of a JSON transform: "params" (an object or a query
  /// string) or the URL's query, not both.
  ops::TransformSpec params_of(const Request& req, const json::object& o) const {
    auto* p = o.if_contains("params");
    if (!p) return cx_.images.parse(req.query);
    for (const auto& [k, v] : req.query)
      if (ops::is_transform_parameter(k))
        throw Error(ErrorCode::bad_request, "give the parameters either in the query or in \"params\", not both");
    if (p->is_object()) return cx_.images.parse(p->as_object());
    if (p->is_string()) return cx_.images.parse(ops::split_query(p->as_string()));
    throw Error(ErrorCode::bad_request, "\"params\" must be an object or a query string");
  }

  Handle render_upload(Request& req, service::Upload& upload, const ops::TransformSpec& spec) {
    auto out = co_await cx_.pool.run([this, &upload, &spec, &req] {
      return cx_.images.transform(req.scope, upload, spec, req.header("Accept"));
    });
    Response r;
    r.body = std::move(out.output.bytes);
    r.header("Content-Type", out.output.mime);
    r.header("Cache-Control", "no-store");
    if (out.vary_accept) r.header("Vary", "Accept");
    r.work.transforms = 1;
    co_return r;
  }

  /// A stored image through the derivative cache, as GET would serve it.
  Handle transform_stored(Request& req, const core::ImageRecord& rec, const ops::TransformSpec& spec) {
    auto plan = cx_.images.plan(rec, spec, "", req.header("Accept"));
    auto d = co_await rc_->derivative(rec, plan);
    co_return derivative_response(std::move(d), plan);
  }

  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_transform_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<TransformRoutes>(rc);
  add_route(server, "POST", "/v1/transform", Access::write, self, &TransformRoutes::transform);
  add_route(server, "GET", "/v1/transform", Access::read, self, &TransformRoutes::transform_url);
  add_route(server, "GET", "/v1/images/{id}/explain", Access::read, self, &TransformRoutes::explain);
}

}  // namespace progimage::http
