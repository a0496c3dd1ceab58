// Bulk jobs (docs/API.md "Jobs"): POST, GET and DELETE /v1/jobs, the
// results jobs keep, and the key that signs their callbacks.
#include <boost/json.hpp>

#include <charconv>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"
#include "jobs/job_json.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxJobBody = 16u << 20;
constexpr int kDefaultResults = 100;

/// The "query" selector: the search terms of GET /v1/images as JSON, where a
/// tag may also be an array.
catalog::ImageQuery selector_of(const json::value& v) {
  if (!v.is_object()) throw Error(ErrorCode::bad_parameter, "\"query\" must be an object");
  catalog::ImageQuery q;
  for (const auto& [k, val] : v.as_object()) {
    const std::string key(k);
    if ((key == "tag" || key == "tags") && val.is_array()) {
      for (const auto& t : val.as_array()) {
        if (!t.is_string()) throw Error(ErrorCode::bad_parameter, "query.tag must be strings");
        service::add_search_term(q, "tag", t.as_string());
      }
    } else if (val.is_string()) {
      service::add_search_term(q, key, val.as_string());
    } else {
      throw Error(ErrorCode::bad_parameter, "query." + key + " must be a string");
    }
  }
  return q;
}

catalog::JobSource source_of(const json::value& s) {
  if (s.is_string()) return {catalog::ItemKind::image, std::string(s.as_string())};
  if (s.is_object() && s.as_object().size() == 1) {
    const auto& so = s.as_object();
    if (auto* url = so.if_contains("url"); url && url->is_string())
      return {catalog::ItemKind::url, std::string(url->as_string())};
    if (auto* id = so.if_contains("id"); id && id->is_string())
      return {catalog::ItemKind::image, std::string(id->as_string())};
  }
  throw Error(ErrorCode::bad_parameter, "each source is an image id or {\"url\": \"https://...\"}");
}

std::string optional_string(const json::value& v, const char* key) {
  if (v.is_null()) return {};
  if (!v.is_string()) throw Error(ErrorCode::bad_parameter, std::string("\"") + key + "\" must be a string");
  return std::string(v.as_string());
}

class JobRoutes {
 public:
  explicit JobRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle create(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, kMaxJobBody);
    auto request = job_request(o);
    // One transaction, on a processing thread: a 10,000-item insert must not
    // hold an I/O thread.
    auto job = co_await cx_.pool.run([this, &req, &request] { return cx_.jobs.submit(req.scope, request); });
    json::object out{{"id", job.id}, {"status", catalog::job_status_name(job.status)}, {"total", job.total}};
    auto r = Response::json(202, core::json_text(out));
    r.header("Location", "/v1/jobs/" + job.id);
    co_return r;
  }

  Handle get(Request& req, BodyReader&) {
    auto job = cx_.jobs.get(req.scope, req.params[0]);
    std::string cursor;
    int limit = kDefaultResults;
    for (const auto& [k, v] : req.query) {
      if (k == "cursor") {
        cursor = v;
      } else if (k == "limit") {
        limit = page_limit(v);
      } else {
        throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use cursor or limit");
      }
    }
    co_return job_response(job, cursor, limit);
  }

  /// GET /v1/jobs/{id}/results/{n}: a result kept instead of stored.
  Handle result(Request& req, BodyReader&) {
    std::int64_t position = -1;
    const auto& n = req.params[1];
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), position);
    if (ec != std::errc() || p != n.data() + n.size()) position = -1;
    auto kept = cx_.jobs.output(req.scope, req.params[0], position);
    auto span = std::get<service::FileSpan>(std::move(kept.body));
    const auto seconds_left = std::max<std::int64_t>(0, (kept.expires_at_ms - core::unix_now_ms()) / 1000);
    Response r;
    r.header("Content-Type", std::string(core::mime_type(kept.format)));
    r.header("Cache-Control", "private, max-age=" + std::to_string(seconds_left));
    r.file = FileRange{std::move(span.path), span.offset, span.length, std::move(span.owner)};
    co_return r;
  }

  /// GET /v1/callbacks/secret (admin): the key that signs callbacks, when
  /// the server generated it (a configured one is not repeated).
  Handle callback_secret(Request&, BodyReader&) {
    json::object out;
    if (!cx_.config.callback_secret.empty()) {
      out = {{"source", "configuration"}, {"secret", nullptr}};
    } else {
      auto secret = co_await cx_.pool.run([this] { return cx_.jobs.callback_secret({}); });
      out = {{"source", "generated"}, {"secret", secret}};
    }
    out["algorithm"] = "HMAC-SHA256";
    out["header"] = "X-ProgImage-Signature";
    co_return Response::json(200, core::json_text(out));
  }

  Handle cancel(Request& req, BodyReader&) {
    auto job = cx_.jobs.cancel(req.scope, req.params[0]);
    co_return job_response(job, "", kDefaultResults);
  }

 private:
  service::JobRequest job_request(const json::object& o) const {
    service::JobRequest request;
    for (const auto& [k, v] : o) {
      if (k == "sources") {
        if (!v.is_array()) throw Error(ErrorCode::bad_parameter, "\"sources\" must be an array");
        for (const auto& s : v.as_array()) request.sources.push_back(source_of(s));
      } else if (k == "query") {
        request.selector = selector_of(v);
      } else if (k == "params") {
        if (v.is_string()) request.transform = cx_.images.parse(ops::split_query(v.as_string()));
        else if (v.is_object()) request.transform = cx_.images.parse(v.as_object());
        else if (!v.is_null()) throw Error(ErrorCode::bad_parameter, "\"params\" must be a query string or an object");
      } else if (k == "format") {
        request.format = optional_string(v, "format");
      } else if (k == "store") {
        if (!v.is_bool()) throw Error(ErrorCode::bad_parameter, "\"store\" must be true or false");
        request.store = v.as_bool();
      } else if (k == "callback_url") {
        request.callback_url = optional_string(v, "callback_url");
      } else {
        throw Error(ErrorCode::bad_parameter,
                    "unknown field \"" + std::string(k) +
                        "\"; a job takes sources or query, params, format, store and callback_url");
      }
    }
    return request;
  }

  Response job_response(const catalog::JobRecord& job, const std::string& cursor, int limit) {
    auto page = cx_.jobs.results(job.id, cursor, limit);
    return Response::json(200, core::json_text(jobs::job_json(job, page, url_secret())));
  }

  std::string url_secret() const {
    const auto& secrets = cx_.config.signing_secrets;
    return secrets.empty() ? std::string() : secrets.front();
  }

  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_job_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<JobRoutes>(rc);
  add_route(server, "POST", "/v1/jobs", Access::write, self, &JobRoutes::create);
  add_route(server, "GET", "/v1/jobs/{id}", Access::read, self, &JobRoutes::get);
  add_route(server, "DELETE", "/v1/jobs/{id}", Access::write, self, &JobRoutes::cancel);
  add_route(server, "GET", "/v1/jobs/{id}/results/{n}", Access::read, self, &JobRoutes::result);
  add_route(server, "GET", "/v1/callbacks/secret", Access::admin, self, &JobRoutes::callback_secret);
}

}  // namespace progimage::http
