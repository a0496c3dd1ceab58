// upload_resumable(): a tus 1.0 client of /v1/resumable/ (docs/API.md,
// "Resumable uploads"). Chunks are PATCHed from the file; after a failed
// chunk the server's offset (HEAD) says where to go on, so nothing is sent
// twice and nothing is skipped.
#include <charconv>
#include <thread>

#include "encode.hpp"
#include "impl.hpp"
#include "json.hpp"
#include "multipart.hpp"
#include "retry.hpp"

namespace progimage {
namespace {

using detail::Reply;
using detail::Request;

constexpr const char* kTusHeader = "Tus-Resumable: 1.0.0";

std::int64_t offset_of(const Reply& reply) {
  const std::string text = reply.header("Upload-Offset");
  std::int64_t v = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < 0)
    throw Error(reply.status, "bad_response", "the resumable upload's answer has no valid Upload-Offset",
                reply.header("X-Request-Id"));
  return v;
}

/// The location's path: the server sends one, a proxy may make it absolute.
std::string location_path(std::string location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    auto slash = location.find('/', location.find("//") + 2);
    location = slash == std::string::npos ? "/" : location.substr(slash);
  }
  return location;
}

std::string upload_metadata(const std::string& filename, const UploadOptions& options) {
  std::string out;
  auto add = [&out](const char* key, const std::string& value) {
    if (value.empty()) return;
    out += (out.empty() ? "" : ",") + std::string(key) + " " + detail::base64(value);
  };
  add("filename", filename);
  add("description", options.description);
  add("tags", detail::join_tags(options.tags));
  return out;
}

class ResumableUpload {
 public:
  ResumableUpload(Client::Impl& impl, const std::filesystem::path& path, const UploadOptions& options,
                  const ResumableOptions& resumable)
      : impl_(impl), path_(path), options_(options), resumable_(resumable),
        size_(static_cast<std::int64_t>(std::filesystem::file_size(path))) {}

  /// The stored image's id.
  std::string run() {
    std::int64_t offset = 0;
    if (resumable_.resume_location.empty()) {
      create();
    } else {
      location_ = location_path(resumable_.resume_location);
      offset = head();
    }
    int failures = 0;
    while (image_id_.empty()) {
      if (offset >= size_) {
        // Every byte is in but no image was named (a 503 kept the bytes): HEAD stores it.
        offset = head();
        if (!image_id_.empty()) break;
        if (++failures >= impl_.options.retry.max_attempts)
          throw Error(0, "unavailable", "the resumable upload holds every byte but no image was stored");
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      Reply reply = patch(offset);
      if (reply.ok()) {
        offset = offset_of(reply);
        image_id_ = reply.header("ProgImage-Image-Id");
        failures = 0;
        continue;
      }
      // 409: the server holds another offset (an earlier chunk's bytes arrived); HEAD tells it.
      auto delay = detail::retry_delay(impl_.options.retry, ++failures, reply, true);
      if (!delay && !(reply.status == 409 && failures < impl_.options.retry.max_attempts))
        throw detail::to_error(reply);
      if (delay) std::this_thread::sleep_for(*delay);
      offset = head();
    }
    return image_id_;
  }

 private:
  void create() {
    Request r;
    r.method = "POST";
    r.target = "/v1/resumable/";
    r.headers = {kTusHeader, "Upload-Length: " + std::to_string(size_)};
    const std::string metadata =
        upload_metadata(options_.name.empty() ? path_.filename().string() : options_.name, options_);
    if (!metadata.empty()) r.headers.push_back("Upload-Metadata: " + metadata);
    Reply reply = impl_.send_ok(r);
    location_ = location_path(reply.header("Location"));
    if (location_.empty())
      throw Error(reply.status, "bad_response", "the resumable upload was made without a Location",
                  reply.header("X-Request-Id"));
    if (resumable_.on_created) resumable_.on_created(location_);
  }

  /// The server's offset (and the image, once stored).
  std::int64_t head() {
    Request r;
    r.method = "HEAD";
    r.target = location_;
    r.headers = {kTusHeader};
    Reply reply = impl_.send_ok(r);
    image_id_ = reply.header("ProgImage-Image-Id");
    return offset_of(reply);
  }

  Reply patch(std::int64_t offset) {
    const std::int64_t length = std::min(std::max<std::int64_t>(1, resumable_.chunk_size), size_ - offset);
    Request r;
    r.method = "PATCH";
    r.target = location_;
    r.headers = {kTusHeader, "Upload-Offset: " + std::to_string(offset)};
    r.body = detail::Body::file_range(path_, offset, length, "application/offset+octet-stream");
    if (resumable_.on_progress)
      r.on_progress = [this, offset](const Progress& p) { resumable_.on_progress(Progress{offset + p.bytes_done, size_}); };
    return impl_.transport.perform(r);
  }

  Client::Impl& impl_;
  const std::filesystem::path& path_;
  const UploadOptions& options_;
  const ResumableOptions& resumable_;
  const std::int64_t size_;
  std::string location_;
  std::string image_id_;
};

}  // namespace

Image Client::upload_resumable(const std::filesystem::path& path, UploadOptions options,
                               const ResumableOptions& resumable) {
  const std::string id = ResumableUpload(*impl_, path, options, resumable).run();
  return detail::read_image(impl_->get_json(detail::path("/v1/images/", id, "/info")));
}

}  // namespace progimage
