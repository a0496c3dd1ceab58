// /v1/keys (managed API keys), /v1/tenants/{tenant}/quota, /v1/usage and /v1/tags.
#include <boost/json.hpp>

#include <charconv>

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/time.hpp"
#include "http/request_body.hpp"
#include "http/routes.hpp"
#include "service/usage_meter.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxAdminBody = 64 * 1024;

json::object key_json(const catalog::ApiKeyRecord& k) {
  json::object o{{"id", k.id}, {"prefix", k.prefix}, {"role", k.role}, {"tenant", k.tenant}, {"name", k.name},
                 {"created_at", core::format_rfc3339(k.created_at)}};
  if (k.last_used_at) o["last_used_at"] = core::format_rfc3339(*k.last_used_at);
  else o["last_used_at"] = nullptr;
  if (k.rate_per_second)
    o["rate_limit"] = json::object{{"per_second", *k.rate_per_second}, {"burst", k.rate_burst.value_or(0)}};
  else o["rate_limit"] = nullptr;
  return o;
}

/// A JSON number as a double (integers too), or bad_parameter naming it.
double number_field(const json::value& v, const char* name) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be a number");
}

std::int64_t limit_field(const json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  if (!v || v->is_null()) return 0;
  if (v->is_int64() && v->as_int64() >= 0) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->as_uint64());
  throw Error(ErrorCode::bad_parameter, std::string("\"") + name + "\" must be a whole number of at least 0 (0: no limit)");
}

service::NewKey new_key_of(const json::object& o) {
  service::NewKey key;
  for (const auto& [k, v] : o) {
    if (k == "role") {
      auto role = v.is_string() ? core::parse_role(std::string_view(v.as_string())) : std::nullopt;
      if (!role) throw Error(ErrorCode::bad_parameter, "\"role\" must be read, write or admin");
      key.role = *role;
    } else if (k == "name" || k == "tenant") {
      if (!v.is_string()) throw Error(ErrorCode::bad_parameter, "\"" + std::string(k) + "\" must be a string");
      (k == "name" ? key.name : key.tenant) = std::string(v.as_string());
    } else if (k == "rate_limit") {
      if (v.is_null()) continue;
      if (!v.is_object()) throw Error(ErrorCode::bad_parameter, "\"rate_limit\" must be {\"per_second\", \"burst\"}");
      auth::RateLimit rate;
      const auto& r = v.as_object();
      auto* per_second = r.if_contains("per_second");
      if (!per_second) throw Error(ErrorCode::bad_parameter, "\"rate_limit\" needs \"per_second\"");
      rate.per_second = number_field(*per_second, "rate_limit.per_second");
      auto* burst = r.if_contains("burst");
      rate.burst = burst ? number_field(*burst, "rate_limit.burst") : std::max(1.0, rate.per_second);
      key.rate = rate;
    } else {
      throw Error(ErrorCode::bad_parameter, "unknown field \"" + std::string(k) + "\"; use role, name, tenant, rate_limit");
    }
  }
  if (!o.contains("role")) throw Error(ErrorCode::bad_parameter, "\"role\" is required: read, write or admin");
  return key;
}

json::object quota_json(const service::QuotaStatus& q) {
  auto limit = [](std::int64_t v) -> json::value {
    if (v == 0) return nullptr;
    return v;
  };
  return json::object{{"tenant", q.tenant},
                      {"bytes", limit(q.quota.max_bytes)},
                      {"images", limit(q.quota.max_images)},
                      {"used", json::object{{"bytes", q.use.bytes}, {"images", q.use.images}}}};
}

json::object counts_json(const std::string& day, const catalog::UsageCounts& c) {
  return json::object{{"date", day},
                      {"requests", c.requests},     {"bytes_in", c.bytes_in},         {"bytes_out", c.bytes_out},
                      {"transforms", c.transforms}, {"cache_hits", c.cache_hits},     {"cache_misses", c.cache_misses},
                      {"uploads", c.uploads}};
}

/// {"tenants": [{"tenant", "days": [...]}], "keys": [{"key", "tenant", "days": [...]}]}
json::object usage_json(const service::UsageReport& report) {
  std::map<std::string, std::map<std::string, catalog::UsageCounts>> by_tenant;  // tenant -> day -> counts
  std::map<std::pair<std::string, std::string>, json::array> by_client;       // (tenant, client) -> days
  for (const auto& row : report.rows) {
    by_tenant[row.tenant][row.day] += row.counts;
    if (row.client.empty()) continue;
    auto day = counts_json(row.day, row.counts);
    by_client[{row.tenant, row.client}].push_back(std::move(day));
  }
  std::map<std::string, std::map<std::string, catalog::TenantUse>> stored;
  for (const auto& s : report.stored) {
    stored[s.tenant][s.day] = s.use;
    by_tenant[s.tenant];  // a tenant that only stores still shows
  }
  json::array tenants;
  for (const auto& [tenant, days] : by_tenant) {
    std::map<std::string, json::object> merged;
    for (const auto& [day, counts] : days) merged[day] = counts_json(day, counts);
    for (const auto& [day, use] : stored[tenant]) {
      auto& d = merged.try_emplace(day, counts_json(day, {})).first->second;
      d["stored_bytes"] = use.bytes;
      d["stored_images"] = use.images;
    }
    json::array out;
    for (auto& [day, d] : merged) {
      if (!d.contains("stored_bytes")) {
        d["stored_bytes"] = nullptr;
        d["stored_images"] = nullptr;
      }
      out.push_back(std::move(d));
    }
    tenants.push_back(json::object{{"tenant", tenant}, {"days", std::move(out)}});
  }
  json::array keys;
  for (auto& [who, days] : by_client)
    keys.push_back(json::object{{"key", who.second}, {"tenant", who.first}, {"days", std::move(days)}});
  return json::object{{"from", report.from_day}, {"to", report.to_day}, {"tenants", std::move(tenants)},
                      {"keys", std::move(keys)}};
}

class TenantRoutes {
 public:
  explicit TenantRoutes(std::shared_ptr<RouteContext> rc) : rc_(std::move(rc)), cx_(rc_->api) {}

  Handle create_key(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, kMaxAdminBody);
    auto wanted = new_key_of(o);
    auto made = co_await cx_.pool.run(
        [this, &req, &wanted] { return cx_.tenants.create_key(*req.principal, req.scope, std::move(wanted)); });
    auto out = key_json(made.record);
    out["key"] = made.secret;
    auto r = Response::json(201, core::json_text(out));
    r.header("Cache-Control", "no-store");
    co_return r;
  }

  Handle list_keys(Request& req, BodyReader&) {
    json::array keys;
    for (const auto& k : cx_.tenants.keys(req.scope)) keys.push_back(key_json(k));
    co_return Response::json(200, core::json_text(json::object{{"keys", std::move(keys)}}));
  }

  Handle revoke_key(Request& req, BodyReader&) {
    const auto& id = req.params[0];
    [[maybe_unused]] bool revoked = co_await cx_.pool.run([this, &req, &id] {
      cx_.tenants.revoke_key(req.scope, id);
      return true;
    });
    co_return Response::no_content();
  }

  Handle put_quota(Request& req, BodyReader& body) {
    auto o = co_await read_json_object(body, kMaxAdminBody);
    for (const auto& [k, v] : o)
      if (k != "bytes" && k != "images")
        throw Error(ErrorCode::bad_parameter, "unknown field \"" + std::string(k) + "\"; use bytes and images");
    catalog::TenantQuota quota{limit_field(o, "bytes"), limit_field(o, "images")};
    const auto& tenant = req.params[0];
    auto status = co_await cx_.pool.run(
        [this, &req, &tenant, &quota] { return cx_.tenants.set_quota(*req.principal, tenant, quota); });
    co_return Response::json(200, core::json_text(quota_json(status)));
  }

  Handle get_quota(Request& req, BodyReader&) {
    auto status = cx_.tenants.quota(req.scope, req.params[0]);
    co_return Response::json(200, core::json_text(quota_json(status)));
  }

  /// GET /v1/usage?from&to&key (an admin: any key of its scope; others: key=self only).
  Handle usage(Request& req, BodyReader&) {
    std::string from, to, client;
    for (const auto& [k, v] : req.query) {
      if (k == "from") from = v;
      else if (k == "to") to = v;
      else if (k == "key") client = v == "self" ? req.principal->client_id() : v;
      else throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use from, to and key");
    }
    if (req.principal->role != core::Role::admin && client != req.principal->client_id())
      throw Error(ErrorCode::forbidden, "a read or write key sees its own usage only: ask with key=self");
    auto report = co_await cx_.pool.run(
        [this, &req, &client, &from, &to] { return cx_.usage.report(req.scope, client, from, to); });
    co_return Response::json(200, core::json_text(usage_json(report)));
  }

  Handle tags(Request& req, BodyReader&) {
    int limit = kMaxPageLimit;
    for (const auto& [k, v] : req.query) {
      if (k != "limit") throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use limit");
      limit = page_limit(v);
    }
    auto counts = co_await cx_.pool.run([this, &req, limit] { return cx_.images.tags(req.scope, limit); });
    json::array out;
    for (const auto& [tag, images] : counts) out.push_back(json::object{{"tag", tag}, {"images", images}});
    co_return Response::json(200, core::json_text(json::object{{"tags", std::move(out)}}));
  }

 private:
  std::shared_ptr<RouteContext> rc_;
  ApiContext& cx_;
};

}  // namespace

void install_tenant_routes(Server& server, const std::shared_ptr<RouteContext>& rc) {
  auto self = std::make_shared<TenantRoutes>(rc);
  add_route(server, "POST", "/v1/keys", Access::admin, self, &TenantRoutes::create_key);
  add_route(server, "GET", "/v1/keys", Access::admin, self, &TenantRoutes::list_keys);
  add_route(server, "DELETE", "/v1/keys/{id}", Access::admin, self, &TenantRoutes::revoke_key);
  add_route(server, "PUT", "/v1/tenants/{tenant}/quota", Access::admin, self, &TenantRoutes::put_quota);
  add_route(server, "GET", "/v1/tenants/{tenant}/quota", Access::read, self, &TenantRoutes::get_quota);
  add_route(server, "GET", "/v1/usage", Access::read, self, &TenantRoutes::usage);
  add_route(server, "GET", "/v1/tags", Access::read, self, &TenantRoutes::tags);
}

}  // namespace progimage::http
