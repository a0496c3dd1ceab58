// The OpenAPI description (docs/openapi.json, embedded in the binary and
// served at GET /openapi.json) kept honest against the real server:
//  - it is JSON, OpenAPI 3.1.x, its $refs resolve and its path templates have
//    their path parameters;
//  - every documented path + method is routed by the server (no 404 "no such
//    endpoint", no 405), and every route of the server is documented;
//  - the documented ranges and enums of the query parameters are what the
//    server accepts and refuses;
//  - real answers of the server match the documented response schemas.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

// The server's routes as the install_*_routes functions of src/http/*_routes.cpp
// register them. A route added there must be added here and documented in
// docs/openapi.json. (The router also answers HEAD for every GET route.)
const std::vector<std::pair<std::string, std::string>> kServerRoutes = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/openapi.json"},
    {"POST", "/v1/images"},
    {"GET", "/v1/images"},
    {"GET", "/v1/images/{id}"},
    {"GET", "/v1/images/{id}.{ext}"},
    {"PATCH", "/v1/images/{id}"},
    {"DELETE", "/v1/images/{id}"},
    {"GET", "/v1/images/{id}/info"},
    {"GET", "/v1/images/{id}/similar"},
    {"POST", "/v1/similar"},
    {"GET", "/v1/images/{id}/explain"},
    {"GET", "/v1/images/{id}/derivatives"},
    {"DELETE", "/v1/images/{id}/derivatives"},
    {"GET", "/v1/stats"},
    {"POST", "/v1/transform"},
    {"GET", "/v1/transform"},
    {"POST", "/v1/jobs"},
    {"GET", "/v1/jobs/{id}"},
    {"DELETE", "/v1/jobs/{id}"},
    {"GET", "/v1/jobs/{id}/results/{n}"},
    {"GET", "/v1/callbacks/secret"},
    {"GET", "/v1/images/{id}/variants/{name}"},
    {"POST", "/v1/keys"},
    {"GET", "/v1/keys"},
    {"DELETE", "/v1/keys/{id}"},
    {"PUT", "/v1/tenants/{tenant}/quota"},
    {"GET", "/v1/tenants/{tenant}/quota"},
    {"GET", "/v1/usage"},
    {"GET", "/v1/tags"},
    {"POST", "/v1/upload-links"},
    {"GET", "/v1/upload-links"},
    {"DELETE", "/v1/upload-links/{id}"},
    {"POST", "/v1/uploads/{token}"},
    {"OPTIONS", "/v1/resumable/"},
    {"POST", "/v1/resumable/"},
    {"HEAD", "/v1/resumable/{id}"},
    {"PATCH", "/v1/resumable/{id}"},
    {"DELETE", "/v1/resumable/{id}"},
    {"POST", "/v1/resumable/{id}"},
};

// The transform parameters the server accepts, aliases included (kParameters
// and the preset/sig special cases in src/ops/parse.cpp, and `exp`, which
// RouteContext::signed_spec reads). Each must be documented on the operations
// that take transform parameters.
const std::vector<std::string> kServerTransformParameters = {
    "w",          "width",      "h",         "height",   "dpr",       "fit",        "gravity",  "crop",
    "enlarge",    "rotate",     "flip",      "autorotate", "blur",    "sharpen",    "grayscale", "greyscale",
    "sepia",      "negate",     "brightness", "saturation", "hue",    "contrast",   "gamma",    "tint",
    "mask",       "watermark",  "wm_gravity", "wm_opacity", "wm_scale", "bg",       "background", "trim",
    "format",     "q",          "quality",   "lossless", "progressive", "effort",  "strip",    "page",
    "animated",   "fallback",   "preset",    "sig",      "exp",
};

const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

// An id of the right shape that no image has.
constexpr const char* kMadeUpId = "openapiNoSuchImage0001";

// Values for required query parameters when probing: a loopback URL is refused
// by the fetcher (502) without any network, after the parameters are checked.
const std::map<std::string, std::string> kRequiredQueryValues = {
    {"url", "http://127.0.0.1:9/openapi-test.png"},
};

// Valid values the schema's bounds do not give: an `exp` in the past is valid
// but answers 403 url_expired, so the probe takes one far ahead (2100-01-01).
const std::map<std::string, std::vector<std::string>> kValidQueryValues = {
    {"exp", {"4102444800"}},
};

/// "?name=value&..." for the operation's required query parameters, or "".
std::string required_query(const std::vector<const boost::json::object*>& params);

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// The path with {id}, {ext}, {name} (a variant: one of the default presets) and {tenant} filled in.
std::string concrete(const std::string& templ, const std::string& id = kMadeUpId) {
  std::string out = std::regex_replace(templ, std::regex("\\{id\\}"), id);
  out = std::regex_replace(out, std::regex("\\{tenant\\}"), "default");
  out = std::regex_replace(out, std::regex("\\{ext\\}"), "webp");
  out = std::regex_replace(out, std::regex("\\{name\\}"), "thumb");
  out = std::regex_replace(out, std::regex("\\{n\\}"), "0");
  out = std::regex_replace(out, std::regex("\\{token\\}"), id);
  return out;
}

/// The document in the source tree, found from this file's path.
fs::path source_document() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "docs" / "openapi.json";
}

/// The value at a local JSON pointer ("#/components/schemas/Image"), or nullptr.
const json::value* resolve_pointer(const json::value& doc, std::string_view ref) {
  if (!ref.starts_with("#")) return nullptr;
  ref.remove_prefix(1);
  const json::value* cur = &doc;
  while (!ref.empty()) {
    if (ref.front() != '/') return nullptr;
    ref.remove_prefix(1);
    auto slash = ref.find('/');
    std::string token(ref.substr(0, slash));
    ref = slash == std::string_view::npos ? std::string_view{} : ref.substr(slash);
    std::string unescaped;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size()) {
        unescaped += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        unescaped += token[i];
      }
    }
    if (cur->is_object()) {
      cur = cur->as_object().if_contains(unescaped);
    } else if (cur->is_array()) {
      std::size_t i = std::stoul(unescaped);
      cur = i < cur->as_array().size() ? &cur->as_array()[i] : nullptr;
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

/// Follows $ref chains.
const json::value& deref(const json::value& doc, const json::value& v) {
  const json::value* cur = &v;
  for (int i = 0; i < 16 && cur->is_object(); ++i) {
    auto* r = cur->as_object().if_contains("$ref");
    if (!r || !r->is_string()) break;
    auto* next = resolve_pointer(doc, r->as_string());
    if (!next) break;
    cur = next;
  }
  return *cur;
}

void collect_refs(const json::value& v, const std::string& where, std::vector<std::pair<std::string, std::string>>& out) {
  if (v.is_object()) {
    for (const auto& kv : v.as_object()) {
      std::string here = where + "/" + std::string(kv.key());
      if (kv.key() == "$ref" && kv.value().is_string()) out.emplace_back(here, std::string(kv.value().as_string()));
      collect_refs(kv.value(), here, out);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.as_array().size(); ++i)
      collect_refs(v.as_array()[i], where + "/" + std::to_string(i), out);
  }
}

struct Operation {
  std::string path;    // template, e.g. /v1/images/{id}
  std::string method;  // lower case
  const json::object* op;
};

std::vector<Operation> operations(const json::value& doc) {
  std::vector<Operation> out;
  auto* paths = doc.as_object().if_contains("paths");
  if (!paths || !paths->is_object()) return out;
  for (const auto& p : paths->as_object()) {
    if (!p.value().is_object()) continue;
    for (const auto& m : p.value().as_object())
      if (kMethods.count(std::string(m.key())) && m.value().is_object())
        out.push_back({std::string(p.key()), std::string(m.key()), &m.value().as_object()});
  }
  return out;
}

/// The operation's parameters (path-level ones included), $refs resolved.
std::vector<const json::object*> parameters(const json::value& doc, const Operation& o) {
  std::vector<const json::object*> out;
  auto add = [&](const json::value* list) {
    if (!list || !list->is_array()) return;
    for (const auto& p : list->as_array()) {
      const auto& r = deref(doc, p);
      if (r.is_object()) out.push_back(&r.as_object());
    }
  };
  add(doc.at("paths").at(o.path).as_object().if_contains("parameters"));
  add(o.op->if_contains("parameters"));
  return out;
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string required_query(const std::vector<const json::object*>& params) {
  std::string out;
  for (const auto* p : params) {
    auto* req = p->if_contains("required");
    if (str(*p, "in") != "query" || !req || !req->is_bool() || !req->as_bool()) continue;
    std::string name = str(*p, "name");
    auto it = kRequiredQueryValues.find(name);
    EXPECT_NE(it, kRequiredQueryValues.end()) << "no test value for the required query parameter " << name;
    if (it == kRequiredQueryValues.end()) continue;
    out += (out.empty() ? "?" : "&") + name + "=" + url_encode(it->second);
  }
  return out;
}

// ---------------------------------------------------------------- a small JSON Schema check

/// Checks `v` against a JSON Schema (2020-12 subset: $ref, type, const, enum,
/// required, properties, additionalProperties, items, allOf, anyOf, oneOf,
/// minimum, maximum, pattern). Appends messages to `errors`.
class SchemaCheck {
 public:
  explicit SchemaCheck(const json::value& doc) : doc_(doc) {}

  bool check(const json::value& v, const json::value& schema_in, const std::string& where,
             std::vector<std::string>& errors) const {
    const json::value& schema = deref(doc_, schema_in);
    if (!schema.is_object()) return true;
    const auto& s = schema.as_object();
    std::size_t before = errors.size();
    auto fail = [&](const std::string& msg) { errors.push_back(where + ": " + msg + " (got " + json::serialize(v).substr(0, 200) + ")"); };

    if (auto* t = s.if_contains("type")) {
      bool ok = false;
      if (t->is_string()) ok = has_type(v, t->as_string());
      else if (t->is_array())
        for (const auto& e : t->as_array()) ok = ok || (e.is_string() && has_type(v, e.as_string()));
      if (!ok) {
        fail("type is not " + json::serialize(*t));
        return false;
      }
    }
    if (auto* c = s.if_contains("const"); c && !(*c == v)) fail("is not " + json::serialize(*c));
    if (auto* e = s.if_contains("enum"); e && e->is_array()) {
      bool found = false;
      for (const auto& x : e->as_array()) found = found || x == v;
      if (!found) fail("is not in " + json::serialize(*e));
    }
    if (v.is_number()) {
      double d = v.to_number<double>();
      if (auto* m = s.if_contains("minimum"); m && m->is_number() && d < m->to_number<double>()) fail("below minimum");
      if (auto* m = s.if_contains("maximum"); m && m->is_number() && d > m->to_number<double>()) fail("above maximum");
    }
    if (v.is_string()) {
      if (auto* p = s.if_contains("pattern"); p && p->is_string()) {
        std::regex re(std::string(p->as_string()));
        if (!std::regex_search(std::string(v.as_string()), re)) fail("does not match " + std::string(p->as_string()));
      }
    }
    if (v.is_object()) {
      const auto& o = v.as_object();
      if (auto* req = s.if_contains("required"); req && req->is_array())
        for (const auto& k : req->as_array())
          if (k.is_string() && !o.contains(k.as_string())) fail("lacks required \"" + std::string(k.as_string()) + "\"");
      const json::object* props = nullptr;
      if (auto* p = s.if_contains("properties"); p && p->is_object()) props = &p->as_object();
      for (const auto& kv : o) {
        std::string here = where + "." + std::string(kv.key());
        if (props && props->contains(kv.key())) {
          check(kv.value(), props->at(kv.key()), here, errors);
        } else if (auto* ap = s.if_contains("additionalProperties")) {
          if (ap->is_bool() && !ap->as_bool()) errors.push_back(here + ": not allowed by the schema");
          else if (ap->is_object()) check(kv.value(), *ap, here, errors);
        }
      }
    }
    if (v.is_array()) {
      if (auto* items = s.if_contains("items"))
        for (std::size_t i = 0; i < v.as_array().size(); ++i)
          check(v.as_array()[i], *items, where + "[" + std::to_string(i) + "]", errors);
    }
    if (auto* all = s.if_contains("allOf"); all && all->is_array())
      for (const auto& sub : all->as_array()) check(v, sub, where, errors);
    for (const char* kind : {"anyOf", "oneOf"}) {
      auto* list = s.if_contains(kind);
      if (!list || !list->is_array()) continue;
      int matches = 0;
      std::vector<std::string> sub_errors;
      for (const auto& sub : list->as_array()) {
        std::vector<std::string> e;
        check(v, sub, where, e);
        if (e.empty()) ++matches;
        else sub_errors.insert(sub_errors.end(), e.begin(), e.end());
      }
      if (matches == 0) {
        fail(std::string("matches no branch of ") + kind);
        errors.insert(errors.end(), sub_errors.begin(), sub_errors.end());
      } else if (std::string_view(kind) == "oneOf" && matches > 1) {
        fail("matches " + std::to_string(matches) + " branches of oneOf");
      }
    }
    return errors.size() == before;
  }

 private:
  static bool has_type(const json::value& v, std::string_view t) {
    if (t == "null") return v.is_null();
    if (t == "boolean") return v.is_bool();
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") {
      if (v.is_int64() || v.is_uint64()) return true;
      return v.is_double() && std::trunc(v.as_double()) == v.as_double();
    }
    return false;
  }

  const json::value& doc_;
};

// ---------------------------------------------------------------- without the server

/// The file in the source tree parses with Boost.JSON and is an OpenAPI 3.1 document.
TEST(OpenApiDocument, SourceFileIsValidJson) {
  auto path = source_document();
  if (!fs::exists(path)) GTEST_SKIP() << path << " is not here (tests run away from the source tree)";
  std::string text = read_file(path);
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  ASSERT_FALSE(ec) << path << " is not valid JSON: " << ec.message();
  ASSERT_TRUE(doc.is_object());
  EXPECT_TRUE(jstring(doc, "openapi").starts_with("3.1.")) << "openapi is \"" << jstring(doc, "openapi") << "\"";
  EXPECT_FALSE(jstring(doc, "info.title").empty());
  EXPECT_FALSE(jstring(doc, "info.version").empty());
  // configure_file() embeds the file with @ONLY: an @NAME@ in it would be replaced.
  EXPECT_FALSE(std::regex_search(text, std::regex("@[A-Za-z_0-9]+@"))) << "an @VAR@ would be substituted by CMake";
  EXPECT_EQ(text.find(")OPENAPI\""), std::string::npos) << "would end the raw string literal it is embedded in";
}

// ---------------------------------------------------------------- against the server

class OpenApiTest : public SharedServerTest<OpenApiTest> {
 protected:
  /// GET /openapi.json, parsed; fails the test when it is not an OpenAPI 3.1 JSON document.
  static const json::value& doc() {
    static json::value cached;
    static bool loaded = false;
    if (!loaded) {
      auto r = http().get("/openapi.json");
      EXPECT_EQ(r.status, 200) << r.describe();
      boost::system::error_code ec;
      cached = json::parse(r.body, ec);
      EXPECT_FALSE(ec) << "/openapi.json is not JSON: " << ec.message();
      if (ec || !cached.is_object()) cached = json::object{};
      loaded = true;
    }
    return cached;
  }
};

TEST_F(OpenApiTest, ServedDocumentIsOpenApi31) {
  auto r = http().get("/openapi.json");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.header("Content-Type").starts_with("application/json")) << r.header("Content-Type");
  boost::system::error_code ec;
  json::value d = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << "not JSON: " << ec.message();
  ASSERT_TRUE(d.is_object());
  EXPECT_TRUE(jstring(d, "openapi").starts_with("3.1.")) << "openapi is \"" << jstring(d, "openapi") << "\"";
  EXPECT_FALSE(jstring(d, "info.title").empty());
  EXPECT_FALSE(jstring(d, "info.version").empty());
  ASSERT_NE(jfind(d, "paths"), nullptr);
  EXPECT_TRUE(jfind(d, "paths")->is_object());
  EXPECT_NE(jfind(d, "components.securitySchemes"), nullptr);

  // The binary embeds the current file (a stale build would serve an old one).
  auto path = source_document();
  if (fs::exists(path)) {
    auto source = json::parse(read_file(path), ec);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(source == d) << "/openapi.json differs from " << path << "; rebuild progimage";
  }
}

TEST_F(OpenApiTest, DocumentIsWellFormed) {
  const auto& d = doc();
  // Every $ref resolves.
  std::vector<std::pair<std::string, std::string>> refs;
  collect_refs(d, "#", refs);
  EXPECT_FALSE(refs.empty());
  for (const auto& [where, ref] : refs)
    EXPECT_NE(resolve_pointer(d, ref), nullptr) << where << ": $ref " << ref << " does not resolve";

  std::set<std::string> operation_ids;
  auto ops = operations(d);
  EXPECT_FALSE(ops.empty());
  static const std::regex templ("\\{([^}]+)\\}");
  for (const auto& o : ops) {
    std::string what = upper(o.method) + " " + o.path;
    // operationId unique, responses present.
    std::string id = str(*o.op, "operationId");
    EXPECT_FALSE(id.empty()) << what << " has no operationId";
    EXPECT_TRUE(operation_ids.insert(id).second) << what << ": operationId " << id << " is not unique";
    auto* responses = o.op->if_contains("responses");
    EXPECT_TRUE(responses && responses->is_object() && !responses->as_object().empty()) << what << " has no responses";
    // Every {name} of the path is a required path parameter, and every path parameter is in the path.
    std::set<std::string> in_template;
    for (std::sregex_iterator it(o.path.begin(), o.path.end(), templ), end; it != end; ++it) in_template.insert((*it)[1]);
    std::set<std::string> declared;
    for (const auto* p : parameters(d, o)) {
      if (str(*p, "in") != "path") continue;
      declared.insert(str(*p, "name"));
      auto* req = p->if_contains("required");
      EXPECT_TRUE(req && req->is_bool() && req->as_bool()) << what << ": path parameter " << str(*p, "name") << " is not required";
    }
    EXPECT_EQ(in_template, declared) << what << ": path template and path parameters differ";
    // Security requirements name declared schemes.
    if (auto* sec = o.op->if_contains("security"); sec && sec->is_array()) {
      for (const auto& req : sec->as_array())
        for (const auto& kv : req.as_object())
          EXPECT_NE(jfind(d, "components.securitySchemes." + std::string(kv.key())), nullptr) << what;
    }
  }
  for (const auto& req : d.as_object().at("security").as_array())
    for (const auto& kv : req.as_object())
      EXPECT_NE(jfind(d, "components.securitySchemes." + std::string(kv.key())), nullptr);

  // The error code enum is exactly the server's codes (src/core/error.hpp).
  std::set<std::string> server_codes;
  for (int i = 0; i <= static_cast<int>(core::ErrorCode::internal); ++i)
    server_codes.insert(std::string(core::code_name(static_cast<core::ErrorCode>(i))));
  std::set<std::string> documented;
  if (auto* e = jfind(d, "components.schemas.ErrorCode.enum"); e && e->is_array())
    for (const auto& c : e->as_array()) documented.insert(std::string(c.as_string()));
  EXPECT_EQ(documented, server_codes) << "components.schemas.ErrorCode.enum differs from src/core/error.hpp";
}

TEST_F(OpenApiTest, EveryDocumentedOperationIsRouted) {
  // The detection itself: an unknown route and a wrong method look like this.
  auto unknown = http().get("/v1/openapi-test-no-such-route");
  ASSERT_TRUE(is_error(unknown, 404, "not_found"));
  ASSERT_NE(unknown.body.find("no such endpoint"), std::string::npos) << unknown.describe();
  auto wrong = http().request("PUT", "/v1/images");
  ASSERT_EQ(wrong.status, 405) << wrong.describe();

  auto ops = operations(doc());
  ASSERT_FALSE(ops.empty());
  for (const auto& o : ops) {
    std::string what = upper(o.method) + " " + o.path;
    std::string path = concrete(o.path);
    auto r = http().request(upper(o.method), path + required_query(parameters(doc(), o)));
    ASSERT_NE(r.status, 0) << what << ": " << r.error;
    EXPECT_NE(r.status, 405) << what << ": the method is not routed; " << r.describe();
    EXPECT_FALSE(r.header("X-Request-Id").empty()) << what;
    if (r.status == 404) {
      if (o.method == "head") {
        // No body to read: the route exists when GET of the same path says not_found for the image.
        auto g = http().get(path);
        EXPECT_EQ(g.body.find("no such endpoint"), std::string::npos) << what << " is not routed: " << g.describe();
      } else {
        EXPECT_TRUE(is_error(r, 404, "not_found")) << what;
        EXPECT_EQ(r.body.find("no such endpoint"), std::string::npos) << what << " is not routed: " << r.describe();
      }
    }
    // The answer is one the document lists for this operation (an empty request to a made-up id).
    auto* responses = o.op->if_contains("responses");
    if (responses && responses->is_object()) {
      EXPECT_TRUE(responses->as_object().contains(std::to_string(r.status)))
          << what << " answered " << r.status << ", which its responses do not list; " << r.describe();
    }
  }
}

TEST_F(OpenApiTest, EveryServerRouteIsDocumented) {
  const auto& d = doc();
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& o : operations(d)) documented.insert({upper(o.method), o.path});
  std::set<std::pair<std::string, std::string>> routed;
  for (const auto& [method, path] : kServerRoutes) {
    routed.insert({method, path});
    EXPECT_TRUE(documented.count({method, path})) << method << " " << path << " is served but not in /openapi.json";
  }
  // Conversely nothing is documented that the list does not have (HEAD of a GET route is served by the router).
  for (const auto& [method, path] : documented) {
    bool served = routed.count({method, path}) || (method == "HEAD" && routed.count({"GET", path}));
    EXPECT_TRUE(served) << method << " " << path << " is documented but not in Api::install's routes";
  }
}

/// Values a parameter schema says are valid and invalid, as query text.
struct Probe {
  std::vector<std::string> valid, invalid;
};

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

void probe_schema(const json::value& doc, const json::value& schema_in, Probe& out, bool& free_text) {
  const auto& schema = deref(doc, schema_in);
  if (!schema.is_object()) return;
  const auto& s = schema.as_object();
  if (auto* any = s.if_contains("anyOf"); any && any->is_array()) {
    for (const auto& sub : any->as_array()) probe_schema(doc, sub, out, free_text);
    return;
  }
  if (auto* e = s.if_contains("enum"); e && e->is_array()) {
    for (const auto& v : e->as_array())
      if (v.is_string()) out.valid.emplace_back(v.as_string());
    return;
  }
  std::string type = str(s, "type");
  auto num = [&](const char* k) -> std::optional<double> {
    auto* v = s.if_contains(k);
    if (v && v->is_number()) return v->to_number<double>();
    return std::nullopt;
  };
  if (type == "boolean") {
    out.valid.insert(out.valid.end(), {"true", "false"});
  } else if (type == "integer" || type == "number") {
    bool integer = type == "integer";
    double step = integer ? 1 : 0.5;
    auto lo = num("minimum"), hi = num("maximum"), xlo = num("exclusiveMinimum");
    auto text = [&](double v) { return integer ? std::to_string(static_cast<long long>(v)) : number_text(v); };
    if (lo) out.valid.push_back(text(*lo)), out.invalid.push_back(text(*lo - step));
    if (hi) out.valid.push_back(text(*hi)), out.invalid.push_back(text(*hi + step));
    if (xlo) out.invalid.push_back(text(*xlo)), out.valid.push_back(text(*xlo + (integer ? 1 : 0.001)));
    if (!lo && !hi && !xlo) out.valid.push_back("0");
    out.invalid.push_back("abc");
    if (integer) out.invalid.push_back("1.5");
  } else if (type == "string") {
    if (auto* ex = s.if_contains("example"); ex && ex->is_string()) out.valid.emplace_back(ex->as_string());
    if (!s.contains("pattern")) free_text = true;
  }
}

TEST_F(OpenApiTest, DocumentedQueryParameterRangesAreWhatTheServerAccepts) {
  const auto& d = doc();
  // Query parameters whose valid values only pass together with another one.
  const std::map<std::string, std::string> companions = {
      {"wm_gravity", "watermark=" + std::string(kMadeUpId)},
      {"wm_opacity", "watermark=" + std::string(kMadeUpId)},
      {"wm_scale", "watermark=" + std::string(kMadeUpId)},
  };
  // GET /v1/jobs/{id} looks the job up before its parameters: probe a real
  // one (a query that selects nothing makes a job that is finished at once).
  auto job = http().request("POST", "/v1/jobs", R"({"query": {"tag": "openapi-test-no-such-tag"}})",
                            {{"Content-Type", "application/json"}});
  ASSERT_EQ(job.status, 202) << job.describe();
  auto job_body = job.json();
  ASSERT_TRUE(job_body) << job.describe();
  const std::string job_id = jstring(*job_body, "id");
  int checked = 0;
  for (const auto& o : operations(d)) {
    if (o.method != "get" && o.method != "post") continue;  // HEAD is GET without a body
    std::string what = upper(o.method) + " " + o.path;
    // The answer without optional parameters; a valid parameter must not change
    // it (parameters are checked before the image is looked up or fetched).
    std::string required = required_query(parameters(d, o));
    std::string path = (o.path.starts_with("/v1/jobs/") ? concrete(o.path, job_id) : concrete(o.path)) +
                       (required.empty() ? "?" : required + "&");
    auto base = http().request(upper(o.method), path.substr(0, path.size() - 1));
    std::set<std::string> names;
    for (const auto* p : parameters(d, o)) {
      if (str(*p, "in") != "query") continue;
      std::string name = str(*p, "name");
      names.insert(name);
      if (kRequiredQueryValues.count(name)) continue;
      auto* schema = p->if_contains("schema");
      if (!schema) continue;
      Probe probe;
      bool free_text = false;
      probe_schema(d, *schema, probe, free_text);
      if (auto it = kValidQueryValues.find(name); it != kValidQueryValues.end()) probe.valid = it->second;
      // Whatever is not free text refuses a made-up word (a space and '!' match no documented pattern).
      if (!free_text && !probe.valid.empty()) probe.invalid.push_back("bogus value!");
      std::string extra = companions.count(name) ? "&" + companions.at(name) : "";
      for (const auto& v : probe.valid) {
        auto r = http().request(upper(o.method), path + name + "=" + url_encode(v) + extra);
        EXPECT_EQ(r.status, base.status) << what << ": " << name << "=" << v << " is documented as valid; " << r.describe();
        ++checked;
      }
      for (const auto& v : probe.invalid) {
        auto r = http().request(upper(o.method), path + name + "=" + url_encode(v) + extra);
        EXPECT_TRUE(is_error(r, 400, "bad_parameter")) << what << ": " << name << "=" << v << " is documented as invalid";
        ++checked;
      }
    }
    // Operations that take transform parameters document every one the server knows.
    if (names.count("w")) {
      for (const auto& t : kServerTransformParameters) {
        if ((t == "sig" || t == "exp") && o.method == "post") continue;  // POST /v1/transform is not signed
        EXPECT_TRUE(names.count(t)) << what << " does not document the transform parameter " << t;
      }
    }
  }
  EXPECT_GT(checked, 100);
}

/// The schema of a documented JSON response, or nullptr.
const json::value* response_schema(const json::value& d, const std::string& path, const std::string& method, long status) {
  auto* op = jfind(d, "paths");
  if (!op) return nullptr;
  auto* p = op->as_object().if_contains(path);
  if (!p) return nullptr;
  auto* m = p->as_object().if_contains(method);
  if (!m) return nullptr;
  auto* rs = m->as_object().if_contains("responses");
  if (!rs) return nullptr;
  auto* r = rs->as_object().if_contains(std::to_string(status));
  if (!r) return nullptr;
  const auto& resolved = deref(d, *r);
  auto* content = resolved.as_object().if_contains("content");
  if (!content) return nullptr;
  auto* j = content->as_object().if_contains("application/json");
  if (!j) return nullptr;
  return j->as_object().if_contains("schema");
}

/// The answer is JSON that matches the schema `d` documents for its status at path + method.
void expect_documented_answer(const json::value& d, const Response& r, const std::string& method,
                              const std::string& path) {
  std::string what = upper(method) + " " + path;
  auto* schema = response_schema(d, path, method, r.status);
  ASSERT_NE(schema, nullptr) << what << ": no JSON schema documented for status " << r.status << "; " << r.describe();
  auto body = r.json();
  ASSERT_TRUE(body.has_value()) << what << ": not JSON; " << r.describe();
  std::vector<std::string> errors;
  SchemaCheck(d).check(*body, *schema, what + " " + std::to_string(r.status), errors);
  for (const auto& e : errors) ADD_FAILURE() << e;
}

TEST_F(OpenApiTest, AnswersMatchTheDocumentedSchemas) {
  const auto& d = doc();
  SchemaCheck schemas(d);
  int checked = 0;
  auto expect_documented = [&](const Response& r, const std::string& method, const std::string& path) {
    expect_documented_answer(d, r, method, path);
    ++checked;
  };

  expect_documented(http().get("/healthz"), "get", "/healthz");
  expect_documented(http().get("/readyz"), "get", "/readyz");

  // Uploads: raw (201 with Location), the same bytes again (200 duplicate), JSON base64, multipart 207.
  std::string png = make_image(24, 16, 7301, ".png");
  auto up = upload_raw(http(), png, "name=a.png&description=at%20the%20%23beach&tags=x,y");
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  expect_documented(up.response, "post", "/v1/images");
  EXPECT_EQ(up.response.header("Location"), "/v1/images/" + up.id);
  auto again = upload_raw(http(), png);
  ASSERT_EQ(again.response.status, 200) << again.response.describe();
  expect_documented(again.response, "post", "/v1/images");
  std::string jpeg = make_image(20, 12, 7302, ".jpg");
  auto js = http().request("POST", "/v1/images",
                           json::serialize(json::object{{"data", base64(jpeg)}, {"name", "b.jpg"}, {"tags", json::array{"t"}}}),
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(js.status, 201) << js.describe();
  expect_documented(js, "post", "/v1/images");
  auto multi = http().post_multipart("/v1/images", {{"file", make_image(8, 8, 7303, ".png"), "c.png", "image/png"},
                                                    {"file", "not an image at all", "d.png", "image/png"},
                                                    {"description", "two parts", "", ""}});
  ASSERT_EQ(multi.status, 207) << multi.describe();
  expect_documented(multi, "post", "/v1/images");
  auto multi_bad = http().post_multipart("/v1/images", {{"file", "still not an image", "e.png", "image/png"}});
  ASSERT_EQ(multi_bad.status, 415) << multi_bad.describe();
  // All parts failed: the first part's error status, with a MultipartResult body.
  {
    std::vector<std::string> errors;
    schemas.check(*multi_bad.json(), json::value{{"$ref", "#/components/schemas/MultipartResult"}}, "multipart 415", errors);
    for (const auto& e : errors) ADD_FAILURE() << e;
  }

  const std::string id = up.id;
  expect_documented(http().get("/v1/images"), "get", "/v1/images");
  expect_documented(http().get("/v1/images?limit=1&tag=x"), "get", "/v1/images");
  expect_documented(http().get("/v1/images/" + id + "/info"), "get", "/v1/images/{id}/info");
  expect_documented(http().get("/v1/images/" + id + "/explain?w=12&h=12&fit=cover&format=webp"), "get",
                    "/v1/images/{id}/explain");
  expect_documented(http().get("/v1/images/" + id + "/similar?max_distance=64"), "get", "/v1/images/{id}/similar");
  expect_documented(http().get("/v1/images/" + id + "/similar?max_distance=32&limit=5"), "get",
                    "/v1/images/{id}/similar");
  expect_documented(http().request("POST", "/v1/similar", make_image(40, 30, 7, ".jpg")), "post", "/v1/similar");
  expect_documented(http().request("POST", "/v1/similar", "not an image"), "post", "/v1/similar");

  // A derivative: documented headers, then it is listed.
  auto webp = http().get("/v1/images/" + id + ".webp?w=10");
  ASSERT_EQ(webp.status, 200) << webp.describe();
  for (const char* h : {"ETag", "Cache-Control", "X-Cache", "X-Request-Id"})
    EXPECT_TRUE(webp.has_header(h)) << "GET /v1/images/{id}.{ext} answered without " << h;
  auto original = http().get("/v1/images/" + id, {{"Range", "bytes=0-9"}});
  ASSERT_EQ(original.status, 206) << original.describe();
  EXPECT_TRUE(original.has_header("Content-Range"));
  expect_documented(http().get("/v1/images/" + id + "/derivatives"), "get", "/v1/images/{id}/derivatives");

  auto patched = http().request("PATCH", "/v1/images/" + id,
                                R"({"description": "new #words", "tags": ["k"], "focus": {"x": 0.25, "y": 0.75}})",
                                {{"Content-Type", "application/json"}});
  ASSERT_EQ(patched.status, 200) << patched.describe();
  expect_documented(patched, "patch", "/v1/images/{id}");

  // Errors are the documented Error object.
  expect_documented(http().get("/v1/images/" + std::string(kMadeUpId) + "/info"), "get", "/v1/images/{id}/info");
  expect_documented(http().get("/v1/images/" + id + "?w=0"), "get", "/v1/images/{id}");
  expect_documented(http().get("/v1/images?limit=0"), "get", "/v1/images");
  expect_documented(http().request("PATCH", "/v1/images/" + id, R"({"name": "x"})", {{"Content-Type", "application/json"}}),
                    "patch", "/v1/images/{id}");
  auto t = http().request("POST", "/v1/transform", R"({"source": {"id": ")" + std::string(kMadeUpId) + R"("}})",
                          {{"Content-Type", "application/json"}});
  expect_documented(t, "post", "/v1/transform");

  // POST /v1/transform answers image bytes.
  auto tr = http().request("POST", "/v1/transform?w=8&format=png", png, {{"Content-Type", "image/png"}});
  ASSERT_EQ(tr.status, 200) << tr.describe();
  EXPECT_EQ(sniff_format(tr.body), "png");
  EXPECT_EQ(tr.header("Cache-Control"), "no-store");
  auto tj = http().request("POST", "/v1/transform",
                           R"({"source": {"id": ")" + id + R"("}, "params": {"w": 8, "format": "png", "crop": [0, 0, 8, 8]}})",
                           {{"Content-Type", "application/json"}});
  ASSERT_EQ(tj.status, 200) << tj.describe();
  EXPECT_TRUE(tj.has_header("X-Cache"));

  // GET /v1/transform: parameters are checked, then the loopback URL is refused by the fetcher.
  expect_documented(http().get("/v1/transform"), "get", "/v1/transform");
  expect_documented(http().get("/v1/transform?w=0&url=" + url_encode(kRequiredQueryValues.at("url"))), "get", "/v1/transform");
  expect_documented(http().get("/v1/transform?w=8&url=" + url_encode(kRequiredQueryValues.at("url"))), "get", "/v1/transform");

  // Jobs: a small one over the stored image, its progress and results (pages), a cancel of the finished job.
  auto created = http().request("POST", "/v1/jobs", R"({"sources": [")" + id + R"("], "params": "w=8&format=png"})",
                                {{"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 202) << created.describe();
  expect_documented(created, "post", "/v1/jobs");
  auto created_body = created.json();
  ASSERT_TRUE(created_body) << created.describe();
  const std::string job_id = jstring(*created_body, "id");
  EXPECT_EQ(created.header("Location"), "/v1/jobs/" + job_id);
  expect_documented(http().get("/v1/jobs/" + job_id), "get", "/v1/jobs/{id}");
  Response job;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30); std::chrono::steady_clock::now() < end;) {
    job = http().get("/v1/jobs/" + job_id + "?limit=1");
    auto body = job.json();
    if (job.status != 200 || !body || !jstring(*body, "finished_at").empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(job.status, 200) << job.describe();
  {
    auto body = job.json();
    ASSERT_TRUE(body) << job.describe();
    EXPECT_EQ(jstring(*body, "status"), "completed") << job.describe();
    auto* results = jfind(*body, "results");
    ASSERT_TRUE(results && results->is_array() && results->as_array().size() == 1) << job.describe();
    EXPECT_FALSE(jstring(results->as_array()[0], "url").empty()) << job.describe();  // a derivative of a stored source
  }
  expect_documented(job, "get", "/v1/jobs/{id}");
  expect_documented(http().request("DELETE", "/v1/jobs/" + job_id), "delete", "/v1/jobs/{id}");
  expect_documented(http().get("/v1/jobs/" + std::string(kMadeUpId)), "get", "/v1/jobs/{id}");
  expect_documented(http().get("/v1/jobs/" + job_id + "?limit=0"), "get", "/v1/jobs/{id}");
  expect_documented(http().request("POST", "/v1/jobs", R"({"sources": []})", {{"Content-Type", "application/json"}}),
                    "post", "/v1/jobs");

  // A preset variant: 202 pending (JSON) until it is made, then the image with its headers.
  Response variant;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30); std::chrono::steady_clock::now() < end;) {
    variant = http().get("/v1/images/" + id + "/variants/thumb");
    if (variant.status != 202) break;
    EXPECT_FALSE(variant.header("Retry-After").empty());
    expect_documented(variant, "get", "/v1/images/{id}/variants/{name}");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(variant.status, 200) << variant.describe();
  EXPECT_EQ(sniff_format(variant.body), "png");
  for (const char* h : {"ETag", "Cache-Control", "X-Cache", "X-Request-Id"})
    EXPECT_TRUE(variant.has_header(h)) << "GET /v1/images/{id}/variants/{name} answered without " << h;
  expect_documented(http().get("/v1/images/" + id + "/variants/openapi-no-such-variant"), "get",
                    "/v1/images/{id}/variants/{name}");

  // Stats (admin; this server has no keys, so it is open).
  auto stats = http().get("/v1/stats");
  ASSERT_EQ(stats.status, 200) << stats.describe();
  expect_documented(stats, "get", "/v1/stats");
  auto stats_body = stats.json();
  ASSERT_TRUE(stats_body);
  auto* popular = jfind(*stats_body, "popular_format");
  EXPECT_TRUE(popular && popular->is_object()) << stats.describe();

  // Tags, usage, keys and quotas (every request of this open server acts as an operator).
  const Headers json_body{{"Content-Type", "application/json"}};
  expect_documented(http().get("/v1/tags"), "get", "/v1/tags");
  expect_documented(http().get("/v1/tags?limit=0"), "get", "/v1/tags");
  expect_documented(http().get("/v1/usage"), "get", "/v1/usage");
  expect_documented(http().get("/v1/usage?key=self&from=2026-01-01&to=2026-01-31"), "get", "/v1/usage");
  expect_documented(http().get("/v1/usage?from=yesterday"), "get", "/v1/usage");
  expect_documented(http().get("/v1/keys"), "get", "/v1/keys");
  expect_documented(http().request("PUT", "/v1/tenants/default/quota", R"({"bytes": 0})", json_body), "put",
                    "/v1/tenants/{tenant}/quota");
  expect_documented(http().request("PUT", "/v1/tenants/default/quota", R"({"files": 1})", json_body), "put",
                    "/v1/tenants/{tenant}/quota");
  expect_documented(http().get("/v1/tenants/default/quota"), "get", "/v1/tenants/{tenant}/quota");

  // Upload links: made, listed, used without a key, refused once used up, revoked.
  auto link = http().request("POST", "/v1/upload-links",
                             R"({"expires_in": "PT1H", "max_uploads": 1, "formats": ["png"], "tags": ["linked"]})",
                             {{"Content-Type", "application/json"}});
  ASSERT_EQ(link.status, 201) << link.describe();
  expect_documented(link, "post", "/v1/upload-links");
  const std::string link_id = jstring(*link.json(), "id");
  const std::string link_url = jstring(*link.json(), "url");
  expect_documented(http().get("/v1/upload-links"), "get", "/v1/upload-links");
  expect_documented(http().request("POST", "/v1/upload-links", R"({"max_uploads": 0})", {{"Content-Type", "application/json"}}),
                    "post", "/v1/upload-links");
  auto via_link = http().request("POST", link_url, make_image(10, 10, 7304, ".png"), {{"Content-Type", "image/png"}});
  ASSERT_EQ(via_link.status, 201) << via_link.describe();
  expect_documented(via_link, "post", "/v1/uploads/{token}");
  expect_documented(http().request("POST", link_url, make_image(10, 10, 7305, ".png"), {{"Content-Type", "image/png"}}),
                    "post", "/v1/uploads/{token}");
  expect_documented(http().request("POST", "/v1/uploads/" + std::string(kMadeUpId), png, {{"Content-Type", "image/png"}}),
                    "post", "/v1/uploads/{token}");
  expect_documented(http().request("DELETE", "/v1/upload-links/" + std::string(kMadeUpId)), "delete",
                    "/v1/upload-links/{id}");
  EXPECT_EQ(http().request("DELETE", "/v1/upload-links/" + link_id).status, 204);

  // Resumable uploads: the errors are the documented Error object (success answers have no body).
  expect_documented(http().request("POST", "/v1/resumable/", {}, {{"Upload-Length", "10"}}), "post", "/v1/resumable/");
  expect_documented(http().request("POST", "/v1/resumable/", {}, {{"Tus-Resumable", "1.0.0"}}), "post", "/v1/resumable/");
  expect_documented(http().request("PATCH", "/v1/resumable/" + std::string(kMadeUpId), "x",
                                   {{"Tus-Resumable", "1.0.0"}, {"Upload-Offset", "0"},
                                    {"Content-Type", "application/offset+octet-stream"}}),
                    "patch", "/v1/resumable/{id}");

  auto del = http().request("DELETE", "/v1/images/" + id + "/derivatives");
  EXPECT_EQ(del.status, 204) << del.describe();
  EXPECT_GE(checked, 34);
}

// ---------------------------------------------------------------- against a server with keys

/// Keys, limits, quotas and refusals of credentials need a server that is not open.
class OpenApiAccessTest : public SharedServerTest<OpenApiAccessTest> {
 public:
  static constexpr const char* kOperator = "openapi-operator-key-0123456789";
  static ServerOptions server_options() {
    return {.args = {"--workers", "0", "--api-key", std::string(kOperator) + ":admin:*"}};
  }
};

Headers bearer(const std::string& credential) {
  return {{"Authorization", "Bearer " + credential}, {"Content-Type", "application/json"}};
}

TEST_F(OpenApiAccessTest, AnswersMatchTheDocumentedSchemas) {
  auto served = http().get("/openapi.json");
  ASSERT_EQ(served.status, 200) << served.describe();
  const json::value d = json::parse(served.body);
  const auto op = bearer(kOperator);
  auto expect_documented = [&](const Response& r, const std::string& method, const std::string& path) {
    expect_documented_answer(d, r, method, path);
  };

  // Keys of tenant acme: one held to a request every 2 s, one not limited.
  auto made = http().request("POST", "/v1/keys",
                             R"({"role": "read", "name": "limited", "tenant": "acme",
                                 "rate_limit": {"per_second": 0.5, "burst": 1}})",
                             op);
  ASSERT_EQ(made.status, 201) << made.describe();
  expect_documented(made, "post", "/v1/keys");
  const auto limited = jstring(*made.json(), "key");
  const auto limited_id = jstring(*made.json(), "id");
  EXPECT_FALSE(made.has_header("Location")) << "GET /v1/keys/{id} is not a route";
  EXPECT_EQ(made.header("Cache-Control"), "no-store");
  auto acting = op;
  acting["X-ProgImage-Tenant"] = "acme";
  auto writer_made = http().request("POST", "/v1/keys", R"({"role": "write"})", acting);
  ASSERT_EQ(writer_made.status, 201) << writer_made.describe();
  expect_documented(writer_made, "post", "/v1/keys");
  EXPECT_EQ(jstring(*writer_made.json(), "tenant"), "acme");
  const auto writer = jstring(*writer_made.json(), "key");
  expect_documented(http().get("/v1/keys", op), "get", "/v1/keys");
  expect_documented(http().request("POST", "/v1/keys", R"({"role": "read", "extra": 1})", op), "post", "/v1/keys");

  // The rate: the burst passes, the next request is 429 with Retry-After.
  auto first = http().get("/v1/images", bearer(limited));
  EXPECT_EQ(first.status, 200) << first.describe();
  auto second = http().get("/v1/images", bearer(limited));
  ASSERT_TRUE(is_error(second, 429, "rate_limited")) << second.describe();
  EXPECT_FALSE(second.header("Retry-After").empty());
  expect_documented(second, "get", "/v1/images");

  // Credentials refused: none, a token nobody can verify, a role too low, another tenant.
  auto none = http().get("/v1/images");
  EXPECT_TRUE(is_error(none, 401, "unauthorized")) << none.describe();
  expect_documented(none, "get", "/v1/images");
  auto token = http().get("/v1/tags", bearer("eyJhbGciOiJub25lIn0.e30."));
  EXPECT_TRUE(is_error(token, 401, "bad_token")) << token.describe();
  expect_documented(token, "get", "/v1/tags");
  expect_documented(http().request("POST", "/v1/keys", R"({"role": "read"})", bearer(writer)), "post", "/v1/keys");
  expect_documented(http().request("PUT", "/v1/tenants/acme/quota", R"({"images": 9})", bearer(writer)), "put",
                    "/v1/tenants/{tenant}/quota");
  expect_documented(http().get("/v1/usage", bearer(writer)), "get", "/v1/usage");
  auto other = http().get("/v1/tenants/other/quota", bearer(writer));
  EXPECT_TRUE(is_error(other, 404, "not_found")) << other.describe();
  expect_documented(other, "get", "/v1/tenants/{tenant}/quota");

  // A quota of one image: the first upload is stored, the second refused.
  auto quota = http().request("PUT", "/v1/tenants/acme/quota", R"({"images": 1})", op);
  ASSERT_EQ(quota.status, 200) << quota.describe();
  expect_documented(quota, "put", "/v1/tenants/{tenant}/quota");
  auto up = upload_raw(http(), make_image(16, 16, 7401), {}, "image/png", {{"Authorization", "Bearer " + writer}});
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  auto over = upload_raw(http(), make_image(16, 16, 7402), {}, "image/png", {{"Authorization", "Bearer " + writer}});
  EXPECT_TRUE(is_error(over.response, 403, "quota_exceeded")) << over.response.describe();
  expect_documented(over.response, "post", "/v1/images");
  expect_documented(http().get("/v1/tenants/acme/quota", bearer(writer)), "get", "/v1/tenants/{tenant}/quota");

  // Usage and tags as the tenant's key and as the operator.
  expect_documented(http().get("/v1/usage?key=self", bearer(writer)), "get", "/v1/usage");
  auto usage = http().get("/v1/usage", op);
  ASSERT_EQ(usage.status, 200) << usage.describe();
  expect_documented(usage, "get", "/v1/usage");
  EXPECT_NE(usage.body.find(R"("tenant":"acme")"), std::string::npos) << usage.body;
  expect_documented(http().get("/v1/tags", bearer(writer)), "get", "/v1/tags");

  // Revoked: refused from the next request; revoking again is not found.
  EXPECT_EQ(http().request("DELETE", "/v1/keys/" + limited_id, {}, op).status, 204);
  expect_documented(http().request("DELETE", "/v1/keys/" + limited_id, {}, op), "delete", "/v1/keys/{id}");
  auto revoked = http().get("/v1/images", bearer(limited));
  EXPECT_TRUE(is_error(revoked, 401, "unauthorized")) << revoked.describe();
}

}  // namespace
}  // namespace progimage::contract
