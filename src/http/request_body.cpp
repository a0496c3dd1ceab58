#include "http/request_body.hpp"

#include <boost/json.hpp>

#include <vector>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"

namespace progimage::http {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxTextField = 64 * 1024;

}  // namespace

std::string_view media_type(std::string_view content_type) {
  auto t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return t;
}

std::vector<std::string> split_tags(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    if (comma != 0) out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

boost::asio::awaitable<service::Upload> read_upload(BodyReader& body, service::ImageService& images) {
  service::Upload upload = images.begin_upload();
  std::vector<char> buf(kChunk);
  for (;;) {
    auto n = co_await body.read_some(buf.data(), buf.size());
    if (n == 0) break;
    upload.write(std::string_view(buf.data(), n));
  }
  co_return upload;
}

boost::asio::awaitable<service::Upload> fetch_upload(const std::string& url, ApiContext& context) {
  auto fetched = co_await context.fetch_pool.run([&context, &url] {
    return std::optional<service::Upload>(context.images.fetch(url));
  });
  co_return std::move(*fetched);
}

service::Upload decode_upload(const json::object& o, service::ImageService& images) {
  auto* data = o.if_contains("data");
  if (!data || !data->is_string()) throw Error(ErrorCode::bad_request, "JSON body needs \"data\" (base64) or \"url\"");
  auto decoded = core::base64_decode(std::string_view(data->as_string()));
  if (!decoded) throw Error(ErrorCode::bad_base64, "\"data\" is not valid base64");
  service::Upload upload = images.begin_upload();
  upload.write(*decoded);
  return upload;
}

boost::asio::awaitable<service::Upload> json_image(const json::object& o, ApiContext& context) {
  if (!o.contains("url")) co_return decode_upload(o, context.images);
  std::string url = string_field(o, "url");
  auto fetched = co_await fetch_upload(url, context);
  co_return std::move(fetched);
}

boost::asio::awaitable<service::Upload> read_image_body(Request& req, BodyReader& body, ApiContext& context,
                                                        std::string_view route) {
  if (!core::iequals(media_type(req.header("Content-Type")), "multipart/form-data")) {
    auto raw = co_await read_upload(body, context.images);
    co_return std::move(raw);
  }
  UploadCollector collector(context.images, context.config.max_upload_bytes);
  co_await read_multipart(req, body, collector);
  if (collector.files.size() != 1)
    throw Error(ErrorCode::bad_multipart, std::string(route) + " takes exactly one file part");
  co_return std::move(collector.files.front().upload);
}

void UploadCollector::on_part_begin(const PartHeaders& h) {
  const bool is_file = h.filename.has_value() ||
                       (!h.content_type.empty() && !core::iequals(media_type(h.content_type), "text/plain"));
  current_file_ = nullptr;
  current_field_ = nullptr;
  if (is_file) {
    files.push_back({images_.begin_upload(), h.filename.value_or("")});
    current_file_ = &files.back();
  } else {
    current_field_ = &fields[h.name];
    current_field_->clear();
  }
}

void UploadCollector::on_part_data(std::string_view data) {
  total_ += data.size();
  if (total_ > limit_)
    throw Error(ErrorCode::payload_too_large,
                "request body is larger than the limit of " + std::to_string(limit_) + " bytes");
  if (current_file_) {
    current_file_->upload.write(data);
  } else if (current_field_) {
    if (current_field_->size() + data.size() > kMaxTextField)
      throw Error(ErrorCode::bad_multipart, "a text field is longer than 64 KiB");
    current_field_->append(data);
  }
}

void UploadCollector::on_part_end() {
  current_file_ = nullptr;
  current_field_ = nullptr;
}

boost::asio::awaitable<void> read_multipart(Request& req, BodyReader& body, MultipartHandler& collector) {
  auto boundary = boundary_from_content_type(req.header("Content-Type"));
  if (!boundary) throw Error(ErrorCode::bad_multipart, "multipart/form-data needs a boundary parameter");
  MultipartParser parser(*boundary, collector);
  std::vector<char> buf(kChunk);
  for (;;) {
    auto n = co_await body.read_some(buf.data(), buf.size());
    if (n == 0) break;
    parser.feed(std::string_view(buf.data(), n));
  }
  parser.finish();
}

boost::asio::awaitable<json::object> read_json_object(BodyReader& body, std::size_t limit) {
  auto text = co_await body.read_all(limit);
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) throw Error(ErrorCode::bad_request, "the body is not a JSON object");
  co_return std::move(v.as_object());
}

std::size_t json_body_limit(const core::Config& config) {
  return static_cast<std::size_t>(config.max_upload_bytes) / 3 * 4 + 65536;
}

std::string string_field(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return {};
  if (!v->is_string()) throw Error(ErrorCode::bad_request, std::string("\"") + key + "\" must be a string");
  return std::string(v->as_string());
}

std::vector<std::string> tags_field(const json::object& o) {
  std::vector<std::string> tags;
  auto* v = o.if_contains("tags");
  if (!v || v->is_null()) return tags;
  if (v->is_string()) return split_tags(v->as_string());
  if (!v->is_array()) throw Error(ErrorCode::bad_request, "\"tags\" must be an array of strings");
  for (auto& t : v->as_array()) {
    if (!t.is_string()) throw Error(ErrorCode::bad_request, "\"tags\" must be an array of strings");
    tags.emplace_back(t.as_string());
  }
  return tags;
}

}  // namespace progimage::http
