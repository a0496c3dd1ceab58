#include "http/api.hpp"

#include <charconv>

#include "core/time.hpp"
#include "http/routes.hpp"
#include "ops/sign.hpp"

namespace progimage::http {

namespace {

/// `exp` of a signed URL: whole Unix seconds.
std::int64_t unix_seconds_parameter(const std::string& text) {
  std::int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size() || value < 0)
    throw core::Error(core::ErrorCode::bad_parameter, "exp must be a time in whole Unix seconds, got \"" + text + "\"");
  return value;
}

}  // namespace

void register_api(Server& server, ApiContext& context, core::NodeRole role) {
  auto rc = std::make_shared<RouteContext>(context);
  install_health_routes(server, rc);
  if (role == core::NodeRole::worker) return;
  install_openapi_route(server, rc);
  install_upload_routes(server, rc);
  install_image_routes(server, rc);
  install_transform_routes(server, rc);
  install_derivative_routes(server, rc);
  install_job_routes(server, rc);
  install_tenant_routes(server, rc);
  install_upload_link_routes(server, rc);
  install_resumable_routes(server, rc);
  install_similar_routes(server, rc);
}

ops::TransformSpec RouteContext::signed_spec(const Request& req, bool converting, std::string_view ignored) const {
  bool transforms = converting;
  std::optional<std::int64_t> expires;
  ops::QueryParams params;
  for (const auto& kv : req.query) {
    if (kv.first == "exp") {
      // A URL with an expiry is a signed URL, even of the plain original.
      expires = unix_seconds_parameter(kv.second);
      transforms = true;
      continue;
    }
    if (kv.first == "sig" || (!ignored.empty() && kv.first == ignored)) continue;
    if (ops::is_transform_parameter(kv.first)) transforms = true;
    params.push_back(kv);
  }
  const auto& secrets = api.config.signing_secrets;
  if (transforms && !secrets.empty() && !ops::verify_signature(secrets, req.path, req.query))
    throw core::Error(core::ErrorCode::bad_signature, "the URL signature is missing or does not match");
  if (expires && core::unix_now() > *expires)
    throw core::Error(core::ErrorCode::url_expired,
                      "this URL expired at " + core::format_rfc3339(*expires) + "; ask its issuer for a new one");
  return api.images.parse(params);
}

boost::asio::awaitable<service::Derivative> RouteContext::derivative(const core::ImageRecord& image,
                                                                      const service::RenderPlan& plan) {
  if (auto hit = api.images.cached(plan)) co_return std::move(*hit);
  co_return co_await flights_.run(plan.key, [&]() -> boost::asio::awaitable<service::Derivative> {
    co_return co_await api.pool.run([&] { return api.images.render(image, plan); });
  });
}

int int_parameter(std::string_view name, const std::string& text, int lo, int hi) {
  int n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < lo || n > hi)
    throw core::Error(core::ErrorCode::bad_parameter, std::string(name) + " must be an integer from " +
                                                          std::to_string(lo) + " to " + std::to_string(hi) +
                                                          ", got \"" + text + "\"");
  return n;
}

Response derivative_response(service::Derivative d, const service::RenderPlan& plan) {
  Response r;
  r.header("Content-Type", d.mime);
  r.header("X-Cache", d.cache_hit ? "hit" : "miss");
  (d.cache_hit ? r.work.cache_hits : r.work.cache_misses) = 1;
  if (!d.cache_hit) r.work.transforms = 1;
  if (plan.vary_accept) r.header("Vary", "Accept");
  r.shared_body = std::move(d.bytes);
  return r;
}

}  // namespace progimage::http
