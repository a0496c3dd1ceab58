// Client: one function per endpoint of docs/API.md, over Impl's send calls.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "encode.hpp"
#include "impl.hpp"
#include "json.hpp"
#include "multipart.hpp"
#include "retry.hpp"

namespace progimage {

namespace json = boost::json;
using detail::Body;
using detail::Reply;
using detail::Request;

namespace detail {

std::string path(std::string_view prefix, std::string_view segment, std::string_view suffix) {
  return std::string(prefix) + percent_encode(segment) + std::string(suffix);
}

std::string with_query(std::string target, const QueryPairs& pairs) {
  QueryPairs kept;
  for (const auto& kv : pairs)
    if (!kv.second.empty()) kept.push_back(kv);
  if (kept.empty()) return target;
  return target + (target.find('?') == std::string::npos ? "?" : "&") + query_string(kept);
}

}  // namespace detail

namespace {

detail::Settings settings_of(const ClientOptions& o) {
  detail::Settings s;
  s.base_url = o.base_url;
  while (!s.base_url.empty() && s.base_url.back() == '/') s.base_url.pop_back();
  if (!o.key.empty()) s.headers.push_back("Authorization: Bearer " + o.key);
  if (!o.tenant.empty()) s.headers.push_back("X-ProgImage-Tenant: " + o.tenant);
  s.connect_timeout = o.connect_timeout;
  s.idle_timeout = o.idle_timeout;
  s.user_agent = o.user_agent;
  return s;
}

Request get_request(std::string target) {
  Request r;
  r.target = std::move(target);
  return r;
}

Request bodiless(std::string method, std::string target) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

Download download_of(const Reply& reply, std::int64_t size) {
  return Download{reply.header("Content-Type"), size, reply.header("X-Cache"), reply.header("ETag")};
}

json::value string_or_null(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::array string_array(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

// ---- options and Impl ----

ClientOptions ClientOptions::from_env() {
  ClientOptions o;
  if (auto v = env("PROGIMAGE_URL"); !v.empty()) o.base_url = v;
  if (auto v = env("PROGIMAGE_KEY"); !v.empty()) o.key = v;
  if (auto v = env("PROGIMAGE_TENANT"); !v.empty()) o.tenant = v;
  if (auto v = env("PROGIMAGE_SIGNING_SECRET"); !v.empty()) o.signing_secret = v;
  return o;
}

std::string Response::header(std::string_view name) const {
  detail::Reply r;
  r.headers = headers;
  return r.header(name);
}

Client::Impl::Impl(ClientOptions o) : options(std::move(o)), transport(settings_of(options)) {}

Reply Client::Impl::send(const Request& request) {
  return detail::send_with_retries(transport, options.retry, request);
}

Reply Client::Impl::send_ok(const Request& request) {
  Reply reply = send(request);
  if (!reply.ok()) throw detail::to_error(reply);
  return reply;
}

json::object Client::Impl::send_for_json(const Request& request) { return detail::parse_object(send_ok(request)); }

json::object Client::Impl::get_json(std::string target) { return send_for_json(get_request(std::move(target))); }

Request Client::Impl::json_request(std::string method, std::string target, const std::string& body_text) const {
  Request r = bodiless(std::move(method), std::move(target));
  r.body = Body::bytes(body_text, "application/json");
  return r;
}

std::string Client::Impl::signed_target(const std::string& path, const Transform& transform, QueryPairs extra,
                                        std::optional<std::int64_t> expires, bool conversion) const {
  if (expires) extra.emplace_back("exp", std::to_string(*expires));
  QueryPairs all(transform.params().begin(), transform.params().end());
  all.insert(all.end(), extra.begin(), extra.end());
  if (!options.signing_secret.empty() && (!all.empty() || conversion))
    extra.emplace_back("sig", sign_url(options.signing_secret, path, all));
  std::string query = transform.query();
  const std::string rest = detail::query_string(extra);
  if (!rest.empty()) query += (query.empty() ? "" : "&") + rest;
  return query.empty() ? path : path + "?" + query;
}

// ---- Client: construction ----

Client::Client(ClientOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(const Client&) = default;
Client& Client::operator=(const Client&) = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const ClientOptions& Client::options() const noexcept { return impl_->options; }

// ---- uploads ----

Image Client::upload_file(const std::filesystem::path& path, UploadOptions options, ProgressCallback on_progress) {
  (void)std::filesystem::file_size(path);  // a missing file throws here, not as a transfer error
  Request r = bodiless("POST", "/v1/images");
  r.body = detail::upload_form(path, {}, options);
  r.on_progress = std::move(on_progress);
  return detail::read_single_part_upload(impl_->send_ok(r));
}

Image Client::upload_bytes(std::string_view bytes, UploadOptions options) {
  Request r = bodiless("POST", "/v1/images");
  r.body = detail::upload_form({}, bytes, options);
  return detail::read_single_part_upload(impl_->send_ok(r));
}

Image Client::upload_url(std::string_view url, UploadOptions options) {
  json::object body{{"url", url}, {"tags", string_array(options.tags)}};
  if (!options.name.empty()) body["name"] = options.name;
  if (!options.description.empty()) body["description"] = options.description;
  const std::string text = json::serialize(body);
  return detail::read_image(impl_->send_for_json(impl_->json_request("POST", "/v1/images", text)));
}

// ---- reading images ----

std::string Client::get(std::string_view id, const Transform& transform) {
  return impl_->send_ok(get_request(impl_->signed_target(detail::path("/v1/images/", id), transform))).body;
}

Download Client::download(std::string_view id, const std::filesystem::path& file, const Transform& transform,
                          ProgressCallback on_progress) {
  // A name beside the file, unique to this call: concurrent downloads never share one.
  std::random_device random;
  const std::filesystem::path partial =
      file.parent_path() / ("." + file.filename().string() + "." + std::to_string(random()) + ".part");
  std::ofstream out;
  auto open = [&] {
    out.close();
    out.clear();
    out.open(partial, std::ios::binary | std::ios::trunc);
    return out.good();
  };
  if (!open())
    throw std::filesystem::filesystem_error("cannot write", partial, std::make_error_code(std::errc::io_error));
  std::int64_t size = 0;
  detail::Sink sink{[&](std::string_view chunk) {
                      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                      size += static_cast<std::int64_t>(chunk.size());
                      return out.good();
                    },
                    [&] {
                      size = 0;
                      return open();
                    }};
  Request r = get_request(impl_->signed_target(detail::path("/v1/images/", id), transform));
  r.sink = &sink;
  r.on_progress = std::move(on_progress);
  try {
    Reply reply = impl_->send_ok(r);
    out.close();
    if (reply.stopped_by_sink || !out)
      throw std::filesystem::filesystem_error("cannot write", partial, std::make_error_code(std::errc::io_error));
    std::filesystem::rename(partial, file);
    return download_of(reply, size);
  } catch (...) {
    out.close();
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw;
  }
}

Download Client::download(std::string_view id, const ByteSink& sink, const Transform& transform) {
  std::int64_t size = 0;
  // No restart: bytes the callback has seen cannot be taken back, so a
  // transfer that broke after them is not retried.
  detail::Sink counting{[&](std::string_view chunk) {
                          size += static_cast<std::int64_t>(chunk.size());
                          return sink(chunk);
                        },
                        {}};
  Request r = get_request(impl_->signed_target(detail::path("/v1/images/", id), transform));
  r.sink = &counting;
  const Reply reply = impl_->send_ok(r);  // before `size` is read
  return download_of(reply, size);
}

ImageInfo Client::info(std::string_view id) {
  return detail::read_image_info(impl_->get_json(detail::path("/v1/images/", id, "/info")));
}

Image Client::patch(std::string_view id, const ImagePatch& patch) {
  json::object body;
  if (patch.description) body["description"] = string_or_null(*patch.description);
  if (patch.tags) body["tags"] = string_array(*patch.tags);
  if (patch.focus) {
    if (*patch.focus) body["focus"] = json::object{{"x", (*patch.focus)->x}, {"y", (*patch.focus)->y}};
    else body["focus"] = nullptr;
  }
  const std::string text = json::serialize(body);
  return detail::read_image(impl_->send_for_json(impl_->json_request("PATCH", detail::path("/v1/images/", id), text)));
}

void Client::remove(std::string_view id) { impl_->send_ok(bodiless("DELETE", detail::path("/v1/images/", id))); }

Paged<Image> Client::search(SearchQuery query) {
  return Paged<Image>([impl = impl_, query = std::move(query)](const std::optional<std::string>& cursor) {
    QueryPairs q{{"q", query.q}, {"format", query.format}, {"camera", query.camera},
                 {"from", query.from}, {"to", query.to}};
    for (const auto& tag : query.tags) q.emplace_back("tag", tag);
    q.emplace_back("limit", std::to_string(query.page_size));
    if (cursor) q.emplace_back("cursor", *cursor);
    return detail::read_image_page(impl->get_json(detail::with_query("/v1/images", q)));
  });
}

std::vector<TagCount> Client::tags(int limit) {
  return detail::read_tags(impl_->get_json(detail::with_query("/v1/tags", {{"limit", std::to_string(limit)}})));
}

std::vector<SimilarMatch> Client::similar(std::string_view id, SimilarOptions options) {
  const QueryPairs q{{"max_distance", std::to_string(options.max_distance)}, {"limit", std::to_string(options.limit)}};
  return detail::read_similar(impl_->get_json(detail::with_query(detail::path("/v1/images/", id, "/similar"), q)));
}

std::vector<SimilarMatch> Client::similar_to(std::string_view bytes, SimilarOptions options) {
  const QueryPairs q{{"max_distance", std::to_string(options.max_distance)}, {"limit", std::to_string(options.limit)}};
  Request r = bodiless("POST", detail::with_query("/v1/similar", q));
  r.body = Body::bytes(bytes, "application/octet-stream");
  return detail::read_similar(impl_->send_for_json(r));
}

std::vector<Derivative> Client::derivatives(std::string_view id) {
  return detail::read_derivatives(impl_->get_json(detail::path("/v1/images/", id, "/derivatives")));
}

void Client::purge_derivatives(std::string_view id) {
  impl_->send_ok(bodiless("DELETE", detail::path("/v1/images/", id, "/derivatives")));
}

Explanation Client::explain(std::string_view id, const Transform& transform) {
  return detail::read_explanation(
      impl_->get_json(impl_->signed_target(detail::path("/v1/images/", id, "/explain"), transform)));
}

std::string Client::variant(std::string_view id, std::string_view name, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const std::string target = detail::path("/v1/images/", id, "/variants/") + detail::percent_encode(name);
  for (;;) {
    Reply reply = impl_->send_ok(get_request(target));
    if (reply.status != 202) return std::move(reply.body);
    // 202: still being made; the server says when to ask again.
    auto after = detail::parse_retry_after(reply.header("Retry-After"), std::chrono::system_clock::now())
                     .value_or(std::chrono::seconds(1));
    if (std::chrono::steady_clock::now() + after > deadline)
      throw Error(202, "timeout", "variant " + std::string(name) + " is still pending", reply.header("X-Request-Id"));
    std::this_thread::sleep_for(after);
  }
}

// ---- processing without storing ----

std::string Client::transform(std::string_view bytes, const Transform& transform) {
  Request r = bodiless("POST", std::string("/v1/transform") + (transform.empty() ? "" : "?" + transform.query()));
  r.body = Body::bytes(bytes, "application/octet-stream");
  return impl_->send_ok(r).body;
}

std::string Client::transform_file(const std::filesystem::path& path, const Transform& transform) {
  Request r = bodiless("POST", std::string("/v1/transform") + (transform.empty() ? "" : "?" + transform.query()));
  r.body = Body::whole_file(path, "application/octet-stream");
  return impl_->send_ok(r).body;
}

std::string Client::transform_url(std::string_view url, const Transform& transform) {
  return impl_->send_ok(get_request(impl_->signed_target("/v1/transform", transform, {{"url", std::string(url)}})))
      .body;
}

// ---- signed URLs ----

std::string Client::url(std::string_view id, const Transform& transform, const UrlOptions& options) const {
  std::optional<std::int64_t> expires;
  if (options.expires_at) expires = std::chrono::duration_cast<std::chrono::seconds>(
                                        options.expires_at->time_since_epoch()).count();
  if (options.expires_in)
    expires = std::chrono::duration_cast<std::chrono::seconds>(
                  (std::chrono::system_clock::now() + *options.expires_in).time_since_epoch())
                  .count();
  const std::string suffix = options.extension.empty() ? "" : "." + options.extension;
  const std::string target =
      impl_->signed_target(detail::path("/v1/images/", id, suffix), transform, {}, expires, !suffix.empty());
  return options.absolute ? impl_->transport.settings().base_url + target : target;
}

// ---- jobs ----

Job Client::submit_job(const JobRequest& request) {
  json::object body;
  if (!request.query_json.empty()) {
    boost::system::error_code ec;
    json::value query = json::parse(request.query_json, ec);
    if (ec || !query.is_object()) throw std::invalid_argument("JobRequest::query_json is not a JSON object");
    body["query"] = std::move(query);
  } else {
    json::array sources;
    for (const auto& s : request.sources) {
      if (!s.url.empty()) sources.emplace_back(json::object{{"url", s.url}});
      else sources.emplace_back(s.image_id);
    }
    body["sources"] = std::move(sources);
  }
  body["params"] = request.params;
  if (!request.format.empty()) body["format"] = request.format;
  body["store"] = request.store;
  if (!request.callback_url.empty()) body["callback_url"] = request.callback_url;
  const std::string text = json::serialize(body);
  return detail::read_job(impl_->send_for_json(impl_->json_request("POST", "/v1/jobs", text)));
}

Job Client::job(std::string_view id) { return detail::read_job(impl_->get_json(detail::path("/v1/jobs/", id))); }

Job Client::wait_job(std::string_view id, const WaitOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    Job j = job(id);
    if (options.on_progress) options.on_progress(j);
    if (j.finished()) return j;
    if (options.timeout.count() > 0 && std::chrono::steady_clock::now() - start + options.poll_interval > options.timeout)
      throw Error(0, "timeout", "job " + j.id + " is still " + j.status + " (" + std::to_string(j.done) + " of " +
                                    std::to_string(j.total) + " done)");
    std::this_thread::sleep_for(options.poll_interval);
  }
}

Job Client::cancel_job(std::string_view id) {
  return detail::read_job(impl_->send_for_json(bodiless("DELETE", detail::path("/v1/jobs/", id))));
}

Paged<JobResult> Client::job_results(std::string_view id, int page_size) {
  return Paged<JobResult>([impl = impl_, target = detail::path("/v1/jobs/", id), page_size,
                           position = 0](const std::optional<std::string>& cursor) mutable {
    QueryPairs q{{"limit", std::to_string(page_size)}};
    if (cursor) q.emplace_back("cursor", *cursor);
    auto page = detail::read_job_results(impl->get_json(detail::with_query(target, q)), position);
    position += static_cast<int>(page.items.size());
    return page;
  });
}

std::string Client::job_result_bytes(std::string_view id, int position) {
  return impl_->send_ok(get_request(detail::path("/v1/jobs/", id, "/results/" + std::to_string(position)))).body;
}

// ---- tenants, keys, usage, administration ----

Key Client::create_key(const KeyRequest& request) {
  json::object body{{"role", request.role}};
  if (!request.name.empty()) body["name"] = request.name;
  if (!request.tenant.empty()) body["tenant"] = request.tenant;
  if (request.rate_limit)
    body["rate_limit"] = json::object{{"per_second", request.rate_limit->per_second}, {"burst", request.rate_limit->burst}};
  const std::string text = json::serialize(body);
  return detail::read_key(impl_->send_for_json(impl_->json_request("POST", "/v1/keys", text)));
}

std::vector<Key> Client::keys() { return detail::read_keys(impl_->get_json("/v1/keys")); }

void Client::revoke_key(std::string_view id) { impl_->send_ok(bodiless("DELETE", detail::path("/v1/keys/", id))); }

UploadLink Client::create_upload_link(const UploadLinkRequest& request) {
  json::object body;
  if (!request.expires_in.empty()) body["expires_in"] = request.expires_in;
  if (!request.expires_at.empty()) body["expires_at"] = request.expires_at;
  body["max_uploads"] = request.max_uploads;
  if (request.max_bytes) body["max_bytes"] = *request.max_bytes;
  if (!request.formats.empty()) body["formats"] = string_array(request.formats);
  if (!request.tags.empty()) body["tags"] = string_array(request.tags);
  const std::string text = json::serialize(body);
  return detail::read_upload_link(impl_->send_for_json(impl_->json_request("POST", "/v1/upload-links", text)));
}

Paged<UploadLink> Client::upload_links(int page_size) {
  return Paged<UploadLink>([impl = impl_, page_size](const std::optional<std::string>& cursor) {
    QueryPairs q{{"limit", std::to_string(page_size)}};
    if (cursor) q.emplace_back("cursor", *cursor);
    return detail::read_upload_links(impl->get_json(detail::with_query("/v1/upload-links", q)));
  });
}

void Client::revoke_upload_link(std::string_view id) {
  impl_->send_ok(bodiless("DELETE", detail::path("/v1/upload-links/", id)));
}

Quota Client::quota(std::string_view tenant) {
  return detail::read_quota(impl_->get_json(detail::path("/v1/tenants/", tenant, "/quota")));
}

Quota Client::set_quota(std::string_view tenant, std::optional<std::int64_t> bytes, std::optional<std::int64_t> images) {
  json::object body;
  body["bytes"] = bytes ? json::value(*bytes) : json::value(nullptr);
  body["images"] = images ? json::value(*images) : json::value(nullptr);
  const std::string text = json::serialize(body);
  return detail::read_quota(
      impl_->send_for_json(impl_->json_request("PUT", detail::path("/v1/tenants/", tenant, "/quota"), text)));
}

Report Client::usage(const UsageQuery& query) {
  const QueryPairs q{{"from", query.from}, {"to", query.to}, {"key", query.key}};
  return Report{json::serialize(impl_->get_json(detail::with_query("/v1/usage", q)))};
}

Report Client::stats() { return Report{json::serialize(impl_->get_json("/v1/stats"))}; }

// A probe answers now: one attempt, never retried (a 503 is the answer).
bool Client::healthy() { return impl_->transport.perform(get_request("/healthz")).status == 200; }
bool Client::ready() { return impl_->transport.perform(get_request("/readyz")).status == 200; }

Response Client::request(std::string_view method, std::string_view path, std::string_view body,
                         std::string_view content_type) {
  Request r = bodiless(std::string(method), std::string(path));
  if (!body.empty() || (method != "GET" && method != "HEAD" && !content_type.empty()))
    r.body = Body::bytes(body, std::string(content_type));
  Reply reply = impl_->send(r);
  if (reply.status == 0) throw detail::to_error(reply);
  return Response{reply.status, std::move(reply.headers), std::move(reply.body)};
}

}  // namespace progimage
