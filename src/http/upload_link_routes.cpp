// /v1/upload-links (admin: make, list, revoke) and /v1/uploads/{token} (no
// key: the token is the proof), docs/API.md "Upload links".
#include <boost/json.hpp>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxLinkBody = 64 * 1024;
constexpr int kDefaultLinkPage = 50;  // as for GET /v1/images

json::array string_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

json::object link_json(const catalog::UploadLinkRecord& l, std::int64_t now) {
  json::object o{{"id", l.id},
                 {"created_at", core::format_rfc3339(l.created_at)},
                 {"expires_at", core::format_rfc3339(l.expires_at)},
                 {"max_uploads", l.max_uploads},
                 {"uses", l.uses},
                 {"formats", string_array(l.formats)},
                 {"tags", string_array(l.tags)},
                 {"status", service::upload_link_status(l, now)}};
  if (l.max_bytes) o["max_bytes"] = *l.max_bytes;
  else o["max_bytes"] = nullptr;
  return o;
}

std::int64_t whole_number(const json::value& v, const char* name) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.as_uint64());
  if (v.is_double() && v.as_double() == static_cast<double>(static_cast<std::int64_t>(v.as_double())))
    return static_cast<std::int64_t>(v.as_double());
  throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be a whole number");
}

std::vector<std::string> string_list(const json::value& v, const char* name) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be an array of strings");
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

std::string text_field(const json::value& v, const char* name) {
  if (!v.is_string()) throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be a string");
  return std::string(v.as_string());
}

service::NewUploadLink new_link_of(const json::object& o) {
  service::NewUploadLink link;
  for (const auto& [k, v] : o) {
    if (k == "expires_in") {
      auto text = text_field(v, "expires_in");
      auto d = core::parse_duration(text);
      if (!d || d->count() <= 0)
        throw Error(ErrorCode::bad_parameter, "\"expires_in\" must be an ISO 8601 duration such as PT1H or P7D");
      link.expires_in = *d;
    } else if (k == "expires_at") {
      auto text = text_field(v, "expires_at");
      auto t = core::parse_rfc3339(text);
      if (!t) throw Error(ErrorCode::bad_parameter, "\"expires_at\" must be an RFC 3339 time");
      link.expires_at = *t;
    } else if (k == "max_uploads") {
      link.max_uploads = whole_number(v, "max_uploads");
    } else if (k == "max_bytes") {
      if (!v.is_null()) link.max_bytes = whole_number(v, "max_bytes");
    } else if (k == "formats") {
      link.formats = string_list(v, "formats");
    } else if (k == "tags") {
      link.tags = v.is_string() ? split_tags(v.as_string()) : string_list(v, "tags");
    } else {
      throw Error(ErrorCode::bad_parameter, "unknown field \"" + std::string(k) +
                                                "\"; use expires_in or expires_at, max_uploads, max_bytes, formats, tags");
    }
  }
  return link;
}

class UploadLinkRoutes {
 public:
  explicit UploadLinkRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle create(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, kMaxLinkBody);
    auto wanted = new_link_of(o);
    auto made = co_await cx_.pool.run([this, &req, &wanted] { return cx_.upload_links.create(req.scope, wanted); });
    auto out = link_json(made.record, core::unix_now());
    out["url"] = service::upload_link_path(made.token);
    auto r = Response::json(201, core::json_text(out));
    r.header("Cache-Control", "no-store");
    co_return r;
  }

  Handle list(Request& req, BodyReader&) {
    std::string cursor;
    int limit = kDefaultLinkPage;
    for (const auto& [k, v] : req.query) {
      if (k == "cursor") cursor = v;
      else if (k == "limit") limit = page_limit(v);
      else throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use limit or cursor");
    }
    auto page = co_await cx_.pool.run([&] { return cx_.upload_links.list(req.scope, cursor, limit); });
    const auto now = core::unix_now();
    json::array links;
    for (const auto& l : page.links) links.push_back(link_json(l, now));
    json::object out{{"links", std::move(links)}};
    if (page.next_cursor.empty()) out["next_cursor"] = nullptr;
    else out["next_cursor"] = page.next_cursor;
    co_return Response::json(200, core::json_text(out));
  }

  Handle revoke(Request& req, BodyReader&) {
    const auto& id = req.params[0];
    [[maybe_unused]] bool revoked = co_await cx_.pool.run([this, &req, &id] {
      cx_.upload_links.revoke(req.scope, id);
      return true;
    });
    co_return Response::no_content();
  }

  /// POST /v1/uploads/{token}: what POST /v1/images does, into the link's
  /// tenant. Refusals that need no body (unknown, expired, used up, too
  /// large by Content-Length) come before it is read; the use itself is
  /// taken just before the image is stored.
  Handle upload(Request& req, BodyReader& body) {
    const std::string token = req.params[0];
    auto link = co_await cx_.pool.run([this, &token] { return cx_.upload_links.usable(token); });
    req.scope = core::Scope::of(link.tenant);  // usage counts for the link's tenant
    UploadIntake intake{req.scope,
                        [this, &token](service::Upload& upload, const service::UploadMeta& meta) {
                          return cx_.upload_links.ingest(token, upload, meta);
                        },
                        link.max_bytes.value_or(0)};
    co_return co_await take_upload(cx_, req, body, intake);
  }

 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_upload_link_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<UploadLinkRoutes>(rc);
  add_route(server, "POST", "/v1/upload-links", Access::admin, self, &UploadLinkRoutes::create);
  add_route(server, "GET", "/v1/upload-links", Access::admin, self, &UploadLinkRoutes::list);
  add_route(server, "DELETE", "/v1/upload-links/{id}", Access::admin, self, &UploadLinkRoutes::revoke);
  add_route(server, "POST", "/v1/uploads/{token}", Access::open, self, &UploadLinkRoutes::upload);
}

}  // namespace progimage::http
