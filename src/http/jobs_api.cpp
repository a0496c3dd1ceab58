#include "http/jobs_api.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <charconv>
#include <set>

#include "core/json.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "fetch/url.hpp"
#include "jobs/job_json.hpp"
#include "ops/canonical.hpp"
#include "ops/parse.hpp"

namespace progimage::http {

namespace asio = boost::asio;
namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxSources = 10'000;
constexpr std::size_t kMaxJobBody = 16u << 20;
constexpr int kDefaultResults = 100;
constexpr const char* kVariantRetryAfter = "1";


std::string output_format(const ops::TransformSpec& spec, const std::string& source_format) {
  if (!spec.format.empty() && spec.format != "auto") return spec.format;
  return imaging::is_output_format(source_format) ? source_format : "png";
}

std::string time_bound(const json::value& v, const char* key) {
  if (!v.is_string()) throw Error(ErrorCode::bad_parameter, std::string("query.") + key + " must be a string");
  return std::string(v.as_string());
}

/// The `query` selector: the same filters as GET /v1/images.
catalog::ImageQuery parse_selector(const json::value& v) {
  if (!v.is_object()) throw Error(ErrorCode::bad_parameter, "\"query\" must be an object");
  catalog::ImageQuery q;
  for (const auto& [k, val] : v.as_object()) {
    if (k == "tag" || k == "tags") {
      if (val.is_string()) {
        q.tags.emplace_back(val.as_string());
      } else if (val.is_array()) {
        for (const auto& t : val.as_array()) {
          if (!t.is_string()) throw Error(ErrorCode::bad_parameter, "query.tag must be strings");
          q.tags.emplace_back(t.as_string());
        }
      } else {
        throw Error(ErrorCode::bad_parameter, "query.tag must be a string or an array of strings");
      }
    } else if (k == "format" || k == "camera" || k == "q") {
      if (!val.is_string()) throw Error(ErrorCode::bad_parameter, "query." + std::string(k) + " must be a string");
      (k == "format" ? q.format : k == "camera" ? q.camera : q.text) = std::string(val.as_string());
    } else if (k == "from" || k == "to") {
      auto text = time_bound(val, k == "from" ? "from" : "to");
      auto t = core::parse_rfc3339(text);
      if (!t) throw Error(ErrorCode::bad_parameter, "query." + std::string(k) + " must be RFC 3339 or YYYY-MM-DD");
      if (k == "from") q.from = *t;
      else q.to = text.size() == 10 ? *t + 86399 : *t;  // a bare date covers the whole day
    } else {
      throw Error(ErrorCode::bad_parameter,
                  "unknown query field \"" + std::string(k) + "\"; use tag, from, to, format, camera or q");
    }
  }
  return q;
}

class JobsApi {
 public:
  explicit JobsApi(JobsApiDeps& d) : d_(d), catalog_(d.images.catalog()) {}

  static void install(Server& s, const std::shared_ptr<JobsApi>& self) {
    auto bind = [&self](auto fn) {
      return [self, fn](Request& r, BodyReader& b) -> asio::awaitable<Response> { return ((*self).*fn)(r, b); };
    };
    s.route("POST", "/v1/jobs", Access::write, bind(&JobsApi::create));
    s.route("GET", "/v1/jobs/{id}", Access::read, bind(&JobsApi::get));
    s.route("DELETE", "/v1/jobs/{id}", Access::write, bind(&JobsApi::cancel));
    s.route("GET", "/v1/images/{id}/variants/{name}", Access::read, bind(&JobsApi::variant));
  }

 private:
  asio::awaitable<Response> create(Request&, BodyReader& body) {
    auto text = co_await body.read_all(kMaxJobBody);
    boost::system::error_code ec;
    auto parsed = json::parse(text, ec);
    if (ec || !parsed.is_object()) throw Error(ErrorCode::bad_request, "the body is not a JSON object");
    const auto& o = parsed.as_object();

    catalog::JobSpec spec;
    spec.max_attempts = d_.config.job_attempts;
    std::vector<catalog::JobSource> sources;
    std::optional<catalog::ImageQuery> selector;
    ops::TransformSpec transform;
    std::string format;
    for (const auto& [k, v] : o) {
      if (k == "sources") {
        if (!v.is_array()) throw Error(ErrorCode::bad_parameter, "\"sources\" must be an array");
        if (v.as_array().size() > kMaxSources)
          throw Error(ErrorCode::bad_parameter, "a job takes at most 10000 sources, got " +
                                                    std::to_string(v.as_array().size()) +
                                                    "; split it, or select stored images with \"query\"");
        for (const auto& s : v.as_array()) sources.push_back(source_of(s));
      } else if (k == "query") {
        selector = parse_selector(v);
      } else if (k == "params") {
        if (v.is_string()) transform = ops::parse_query(ops::split_query(v.as_string()), d_.config.presets);
        else if (v.is_object()) transform = ops::parse_json(v.as_object(), d_.config.presets);
        else if (!v.is_null()) throw Error(ErrorCode::bad_parameter, "\"params\" must be a query string or an object");
      } else if (k == "format") {
        if (v.is_null()) continue;
        if (!v.is_string()) throw Error(ErrorCode::bad_parameter, "\"format\" must be a string");
        format = std::string(v.as_string());
      } else if (k == "store") {
        if (!v.is_bool()) throw Error(ErrorCode::bad_parameter, "\"store\" must be true or false");
        spec.store = v.as_bool();
      } else if (k == "callback_url") {
        if (v.is_null()) continue;
        if (!v.is_string()) throw Error(ErrorCode::bad_parameter, "\"callback_url\" must be a string");
        spec.callback_url = std::string(v.as_string());
        try {
          fetch::parse_remote_url(spec.callback_url);
        } catch (const Error&) {
          throw Error(ErrorCode::bad_parameter, "\"callback_url\" must be an http or https URL");
        }
      } else {
        throw Error(ErrorCode::bad_parameter,
                    "unknown field \"" + std::string(k) +
                        "\"; a job takes sources or query, params, format, store and callback_url");
      }
    }
    if (selector && !sources.empty())
      throw Error(ErrorCode::bad_parameter, "give either \"sources\" or \"query\", not both");
    if (!selector && sources.empty())
      throw Error(ErrorCode::bad_parameter, "a job needs \"sources\" (image ids or {\"url\": ...}) or \"query\"");
    if (!format.empty()) {
      if (format == "jpg") format = "jpeg";
      if (format == "tif") format = "tiff";
      if (!imaging::is_output_format(format))
        throw Error(ErrorCode::bad_parameter,
                    "\"format\" " + format + " is not an output format; use jpeg png webp avif heic jxl gif tiff jp2 svg");
      if (!transform.format.empty() && transform.format != format)
        throw Error(ErrorCode::bad_parameter, "\"format\" and the format in \"params\" differ");
      transform.format = format;
    }
    if (transform.format == "auto")
      throw Error(ErrorCode::bad_parameter, "format=auto needs an Accept header; a job needs a fixed format");
    if (!spec.store)
      for (const auto& s : sources)
        if (s.kind == catalog::ItemKind::url)
          throw Error(ErrorCode::bad_parameter,
                      "URL sources need \"store\": true (their results become stored images)");
    transform.fallback.clear();
    spec.params = ops::canonical(transform);
    spec.format = transform.format;

    // One transaction, on a processing thread: a 10,000-item insert must not
    // hold an I/O thread.
    auto job = co_await d_.pool.run([this, &spec, &sources, &selector] {
      return catalog_.create_job(spec, sources, selector);
    });
    if (d_.notify_workers) d_.notify_workers();
    json::object out{{"id", job.id}, {"status", catalog::job_status_name(job.status)}, {"total", job.total}};
    auto r = Response::json(202, core::json_text(out));
    r.header("Location", "/v1/jobs/" + job.id);
    co_return r;
  }

  static catalog::JobSource source_of(const json::value& s) {
    if (s.is_string()) return {catalog::ItemKind::image, std::string(s.as_string())};
    if (s.is_object()) {
      const auto& so = s.as_object();
      if (so.size() == 1 && so.contains("url") && so.at("url").is_string()) {
        std::string url(so.at("url").as_string());
        fetch::parse_remote_url(url);  // bad_parameter for a malformed one
        return {catalog::ItemKind::url, std::move(url)};
      }
      if (so.size() == 1 && so.contains("id") && so.at("id").is_string())
        return {catalog::ItemKind::image, std::string(so.at("id").as_string())};
    }
    throw Error(ErrorCode::bad_parameter, "each source is an image id or {\"url\": \"https://...\"}");
  }

  catalog::JobRecord find_job(const std::string& id) {
    std::optional<catalog::JobRecord> job;
    if (core::looks_like_id(id)) job = catalog_.get_job(id);
    if (!job) throw Error(ErrorCode::not_found, "no job with id " + id);
    return std::move(*job);
  }

  asio::awaitable<Response> get(Request& req, BodyReader&) {
    auto job = find_job(req.params[0]);
    std::string cursor;
    int limit = kDefaultResults;
    for (const auto& [k, v] : req.query) {
      if (k == "cursor") {
        cursor = v;
      } else if (k == "limit") {
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
        if (ec != std::errc() || p != v.data() + v.size() || limit < 1 || limit > 1000)
          throw Error(ErrorCode::bad_parameter, "limit must be an integer from 1 to 1000, got \"" + v + "\"");
      } else {
        throw Error(ErrorCode::bad_parameter, "unknown parameter " + k + "; use cursor or limit");
      }
    }
    auto page = catalog_.job_results(job.id, cursor, limit);
    co_return Response::json(200, core::json_text(jobs::job_json(job, page, url_secret())));
  }

  asio::awaitable<Response> cancel(Request& req, BodyReader&) {
    auto id = find_job(req.params[0]).id;
    auto job = catalog_.cancel_job(id, core::unix_now());
    if (!job) throw Error(ErrorCode::not_found, "no job with id " + id);
    auto page = catalog_.job_results(id, "", kDefaultResults);
    co_return Response::json(200, core::json_text(jobs::job_json(*job, page, url_secret())));
  }

  asio::awaitable<Response> variant(Request& req, BodyReader&) {
    auto rec = d_.images.get(req.params[0]);
    const auto& name = req.params[1];
    auto preset = d_.config.variants.find(name);
    if (preset == d_.config.variants.end()) {
      std::string names;
      for (const auto& [n, q] : d_.config.variants) names += (names.empty() ? "" : ", ") + n;
      throw Error(ErrorCode::not_found, "no variant named " + name + "; the variants are " + names);
    }
    auto state = catalog_.get_variant(rec.id, name);
    if (!state) {
      // An image stored before this preset existed: make it now.
      catalog_.queue_variant(rec.id, name);
      if (d_.notify_workers) d_.notify_workers();
      state = catalog::VariantState{"pending", "", std::nullopt};
    }
    if (state->status == "failed") {
      json::object err{{"code", state->error ? state->error->code : "internal"},
                       {"message", state->error ? state->error->message : "the variant could not be made"}};
      co_return Response::json(500, core::json_text(json::object{{"status", "failed"}, {"error", std::move(err)}}));
    }
    if (state->status != "ready") {
      auto r = Response::json(202, R"({"status":"pending"})");
      r.header("Retry-After", kVariantRetryAfter);
      co_return r;
    }
    auto d = d_.images.cached(state->derivative_key);
    if (!d) {
      // Evicted from the cache since: render it again the same way.
      auto spec = ops::parse_query(ops::split_query(preset->second), d_.config.presets);
      auto format = output_format(spec, rec.format);
      spec.format = format;
      auto canonical = ops::canonical(spec);
      auto key = service::ImageService::derivative_key(rec.sha256, canonical, format);
      d = co_await d_.pool.run([&] { return d_.images.render(rec, spec, canonical, format, key); });
    }
    Response r;
    r.shared_body = std::move(d->bytes);
    r.header("Content-Type", d->mime);
    r.header("ETag", "\"" + d->key + "\"");
    r.header("Cache-Control", "public, max-age=86400");
    r.header("X-Cache", d->cache_hit ? "hit" : "miss");
    co_return r;
  }

  std::string url_secret() const {
    return d_.config.signing_secrets.empty() ? std::string() : d_.config.signing_secrets.front();
  }

  JobsApiDeps& d_;
  catalog::Catalog& catalog_;
};

}  // namespace

void register_jobs_api(Server& server, JobsApiDeps& deps) {
  JobsApi::install(server, std::make_shared<JobsApi>(deps));
}

}  // namespace progimage::http
