#pragma once
// Request bodies turned into what the routes work with: uploads (raw bytes,
// multipart files, base64 or a remote URL, each staged and hashed as it
// arrives) and JSON objects with typed fields. Shared by POST /v1/images and
// POST /v1/transform.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/api.hpp"
#include "http/message.hpp"
#include "http/multipart.hpp"
#include "service/upload.hpp"

namespace progimage::http {

/// The media type of a Content-Type value, without parameters.
std::string_view media_type(std::string_view content_type);

/// "a,b" -> {"a", "b"}, empty items dropped.
std::vector<std::string> split_tags(std::string_view text);

/// Streams the whole body into a new upload.
boost::asio::awaitable<service::Upload> read_upload(BodyReader& body, service::ImageService& images);

/// A remote image fetched into a new upload, on the fetch threads.
boost::asio::awaitable<service::Upload> fetch_upload(const std::string& url, ApiContext& context);

/// JSON `data` (base64) decoded into a new upload; bad_request without it,
/// bad_base64 when it is not base64.
service::Upload decode_upload(const boost::json::object& o, service::ImageService& images);

/// The image a JSON body names: "url" (fetched) or "data" (base64).
boost::asio::awaitable<service::Upload> json_image(const boost::json::object& o, ApiContext& context);

/// The image of a body that is one image: raw bytes, or the only file part
/// of a multipart body (`route` names the route in the error). JSON bodies
/// are the caller's, who reads their other fields too.
boost::asio::awaitable<service::Upload> read_image_body(Request& req, BodyReader& body, ApiContext& context,
                                                        std::string_view route);

/// One file part of a multipart body, staged as it streamed.
struct UploadedPart {
  service::Upload upload;
  std::string filename;  // as sent (the service cleans it)
};

/// Collects the files and text fields of a multipart body as it streams; the
/// byte limit counts every part.
class UploadCollector final : public MultipartHandler {
 public:
  UploadCollector(service::ImageService& images, std::uint64_t limit) : images_(images), limit_(limit) {}

  void on_part_begin(const PartHeaders& headers) override;
  void on_part_data(std::string_view data) override;
  void on_part_end() override;

  std::vector<UploadedPart> files;
  std::map<std::string, std::string> fields;

 private:
  service::ImageService& images_;
  std::uint64_t limit_;
  std::uint64_t total_ = 0;
  UploadedPart* current_file_ = nullptr;
  std::string* current_field_ = nullptr;
};

/// Streams a multipart/form-data body into `collector`.
boost::asio::awaitable<void> read_multipart(Request& req, BodyReader& body, MultipartHandler& collector);

/// The body as a JSON object, read up to `limit` bytes; bad_request otherwise.
boost::asio::awaitable<boost::json::object> read_json_object(BodyReader& body, std::size_t limit);
/// Largest JSON body: a base64 upload of the largest accepted image.
std::size_t json_body_limit(const core::Config& config);

/// A string field ("" when absent or null); bad_request for another type.
std::string string_field(const boost::json::object& o, const char* key);
/// "tags" as an array of strings or "a,b"; bad_request otherwise.
std::vector<std::string> tags_field(const boost::json::object& o);

}  // namespace progimage::http
