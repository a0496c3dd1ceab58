#include "json.hpp"

#include <string>

namespace progimage::detail {
namespace json = boost::json;
namespace {

const json::value* member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

std::string text(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::string> optional_text(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

std::optional<double> optional_number(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

std::optional<std::int64_t> optional_integer(const json::object& o, std::string_view key) {
  auto n = optional_number(o, key);
  if (!n) return std::nullopt;
  const auto* v = member(o, key);
  return v->is_int64() ? v->get_int64() : static_cast<std::int64_t>(*n);
}

std::int64_t integer(const json::object& o, std::string_view key, std::int64_t fallback = 0) {
  return optional_integer(o, key).value_or(fallback);
}

int small_integer(const json::object& o, std::string_view key, int fallback = 0) {
  return static_cast<int>(integer(o, key, fallback));
}

bool boolean(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  return v && v->is_bool() && v->get_bool();
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array& array_at(const json::object& o, std::string_view key) {
  static const json::array empty;
  const auto* v = member(o, key);
  return v && v->is_array() ? v->get_array() : empty;
}

std::vector<std::string> strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& v : array_at(o, key))
    if (v.is_string()) out.emplace_back(v.get_string());
  return out;
}

/// Each object of the array `key`, read by `read`.
template <class T, class Read>
std::vector<T> each_object(const json::object& o, std::string_view key, Read read) {
  std::vector<T> out;
  for (const auto& v : array_at(o, key))
    if (v.is_object()) out.push_back(read(v.get_object()));
  return out;
}

std::optional<std::string> cursor(const json::object& o) { return optional_text(o, "next_cursor"); }

std::optional<RateLimit> read_rate_limit(const json::object& o) {
  const auto* r = object_at(o, "rate_limit");
  if (!r) return std::nullopt;
  return RateLimit{optional_number(*r, "per_second").value_or(0), small_integer(*r, "burst")};
}

JobResult read_job_result(const json::object& o, int position) {
  JobResult r;
  r.position = position;
  r.source = text(o, "source");
  r.status = text(o, "status");
  r.attempts = small_integer(o, "attempts");
  r.image_id = text(o, "image_id");
  r.url = text(o, "url");
  r.expires_at = text(o, "expires_at");
  if (const auto* e = object_at(o, "error")) {
    r.error_code = text(*e, "code");
    r.error_message = text(*e, "message");
  }
  return r;
}

[[noreturn]] void bad_response(const Reply& reply, std::string_view what) {
  throw Error(reply.status, "bad_response",
              "HTTP " + std::to_string(reply.status) + ": " + std::string(what), reply.header("X-Request-Id"));
}

}  // namespace

Error to_error(const Reply& reply) {
  if (reply.status == 0) {
    const char* code = reply.transfer == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connection_failed";
    return Error(0, code, reply.transfer_error.empty() ? curl_easy_strerror(reply.transfer) : reply.transfer_error);
  }
  const std::string request_id = reply.header("X-Request-Id");
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  const json::object* error = !ec && v.is_object() ? object_at(v.get_object(), "error") : nullptr;
  if (error && member(*error, "code") && member(*error, "code")->is_string())
    return Error(reply.status, text(*error, "code"), text(*error, "message"), request_id);
  return Error(reply.status, "bad_response",
               "HTTP " + std::to_string(reply.status) + " without the API's error JSON", request_id);
}

json::object parse_object(const Reply& reply) {
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) bad_response(reply, "the answer is not a JSON object");
  return std::move(v.get_object());
}

Image read_image(const json::object& o) {
  Image i;
  i.id = text(o, "id");
  i.url = text(o, "url");
  i.sha256 = text(o, "sha256");
  i.format = text(o, "format");
  i.width = small_integer(o, "width");
  i.height = small_integer(o, "height");
  i.size = integer(o, "size");
  i.frames = small_integer(o, "frames", 1);
  i.has_alpha = boolean(o, "has_alpha");
  i.created_at = text(o, "created_at");
  i.name = text(o, "name");
  i.description = text(o, "description");
  i.tags = strings(o, "tags");
  if (const auto* camera = object_at(o, "camera")) {
    i.camera_make = optional_text(*camera, "make");
    i.camera_model = optional_text(*camera, "model");
  }
  if (const auto* focus = object_at(o, "focus"))
    i.focus = Focus{optional_number(*focus, "x").value_or(0.5), optional_number(*focus, "y").value_or(0.5)};
  if (const auto* variants = object_at(o, "variants"))
    for (const auto& [name, state] : *variants)
      if (state.is_string()) i.variants[std::string(name)] = std::string(state.get_string());
  i.duplicate = boolean(o, "duplicate");
  i.json = json::serialize(o);
  return i;
}

ImageInfo read_image_info(const json::object& o) {
  ImageInfo info;
  info.image = read_image(o);
  info.icc = optional_text(o, "icc");
  info.pages = small_integer(o, "pages", 1);
  info.phash = optional_text(o, "phash");
  info.dominant_color = optional_text(o, "dominant_color");
  info.blurhash = optional_text(o, "blurhash");
  const auto* exif = member(o, "exif");
  info.exif_json = exif ? json::serialize(*exif) : "null";
  info.json = info.image.json;
  return info;
}

Page<Image> read_image_page(const json::object& o) {
  return {each_object<Image>(o, "images", read_image), cursor(o)};
}

std::vector<SimilarMatch> read_similar(const json::object& o) {
  return each_object<SimilarMatch>(o, "images", [](const json::object& m) {
    const auto* image = object_at(m, "image");
    return SimilarMatch{image ? read_image(*image) : Image{}, small_integer(m, "distance")};
  });
}

std::vector<TagCount> read_tags(const json::object& o) {
  return each_object<TagCount>(o, "tags", [](const json::object& t) { return TagCount{text(t, "tag"), integer(t, "images")}; });
}

std::vector<Derivative> read_derivatives(const json::object& o) {
  return each_object<Derivative>(o, "derivatives", [](const json::object& d) {
    return Derivative{text(d, "params"),     text(d, "format"),     small_integer(d, "width"),
                      small_integer(d, "height"), integer(d, "size"), text(d, "created_at"),
                      text(d, "last_used_at")};
  });
}

Explanation read_explanation(const json::object& o) {
  Explanation e;
  e.canonical = text(o, "canonical");
  if (const auto* output = object_at(o, "output")) {
    e.output_format = text(*output, "format");
    e.output_width = small_integer(*output, "width");
    e.output_height = small_integer(*output, "height");
  }
  e.cached = boolean(o, "cached");
  e.json = json::serialize(o);
  return e;
}

Page<JobResult> read_job_results(const json::object& o, int first_position) {
  Page<JobResult> page;
  int position = first_position;
  for (const auto& v : array_at(o, "results"))
    if (v.is_object()) page.items.push_back(read_job_result(v.get_object(), position++));
  page.next_cursor = cursor(o);
  return page;
}

Job read_job(const json::object& o, int first_position) {
  Job j;
  j.id = text(o, "id");
  j.status = text(o, "status");
  j.total = small_integer(o, "total");
  j.done = small_integer(o, "done");
  j.failed = small_integer(o, "failed");
  j.cancelled = small_integer(o, "cancelled");
  j.created_at = text(o, "created_at");
  j.finished_at = optional_text(o, "finished_at");
  j.params = text(o, "params");
  j.store = boolean(o, "store");
  auto page = read_job_results(o, first_position);
  j.results = std::move(page.items);
  j.next_cursor = std::move(page.next_cursor);
  j.json = json::serialize(o);
  return j;
}

Key read_key(const json::object& o) {
  Key k;
  k.id = text(o, "id");
  k.prefix = text(o, "prefix");
  k.role = text(o, "role");
  k.tenant = text(o, "tenant");
  k.name = text(o, "name");
  k.created_at = text(o, "created_at");
  k.last_used_at = optional_text(o, "last_used_at");
  k.rate_limit = read_rate_limit(o);
  k.secret = text(o, "key");
  k.json = json::serialize(o);
  return k;
}

std::vector<Key> read_keys(const json::object& o) { return each_object<Key>(o, "keys", read_key); }

UploadLink read_upload_link(const json::object& o) {
  UploadLink l;
  l.id = text(o, "id");
  l.url = text(o, "url");
  l.created_at = text(o, "created_at");
  l.expires_at = text(o, "expires_at");
  l.status = text(o, "status");
  l.max_uploads = small_integer(o, "max_uploads");
  l.uses = small_integer(o, "uses");
  l.max_bytes = optional_integer(o, "max_bytes");
  l.formats = strings(o, "formats");
  l.tags = strings(o, "tags");
  l.json = json::serialize(o);
  return l;
}

Page<UploadLink> read_upload_links(const json::object& o) {
  return {each_object<UploadLink>(o, "links", read_upload_link), cursor(o)};
}

Quota read_quota(const json::object& o) {
  Quota q;
  q.tenant = text(o, "tenant");
  q.bytes = optional_integer(o, "bytes");
  q.images = optional_integer(o, "images");
  if (const auto* used = object_at(o, "used")) {
    q.used_bytes = integer(*used, "bytes");
    q.used_images = integer(*used, "images");
  }
  return q;
}

Image read_single_part_upload(const Reply& reply) {
  const json::object o = parse_object(reply);
  const auto& images = array_at(o, "images");
  if (images.empty() || !images[0].is_object()) bad_response(reply, "the upload answer has no image");
  const json::object& part = images[0].get_object();
  if (const auto* error = object_at(part, "error"))
    throw Error(reply.status, text(*error, "code"), text(*error, "message"), reply.header("X-Request-Id"));
  return read_image(part);
}

}  // namespace progimage::detail
