#include "multipart.hpp"

#include <stdexcept>

namespace progimage::detail {
namespace {

void add_text_field(curl_mime* mime, const char* name, const std::string& value) {
  if (value.empty()) return;
  curl_mimepart* part = curl_mime_addpart(mime);
  curl_mime_name(part, name);
  curl_mime_data(part, value.data(), value.size());
}

}  // namespace

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) out += (out.empty() ? "" : ",") + t;
  return out;
}

Body upload_form(const std::filesystem::path& file, std::string_view bytes, const UploadOptions& options) {
  // The name of the file part is the image's name; a path names it by default.
  std::string filename = !options.name.empty() ? options.name : file.empty() ? "" : file.filename().string();
  return Body::multipart([file, bytes, filename = std::move(filename), description = options.description,
                          tags = join_tags(options.tags)](CURL* easy) {
    curl_mime* mime = curl_mime_init(easy);
    if (!mime) throw std::bad_alloc();
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, "image");
    if (!file.empty()) curl_mime_filedata(part, file.c_str());  // libcurl streams and rewinds it
    else curl_mime_data(part, bytes.data(), bytes.size());
    // Without a file name, the part's own type marks it as the file.
    curl_mime_filename(part, filename.empty() ? nullptr : filename.c_str());
    curl_mime_type(part, "application/octet-stream");
    add_text_field(mime, "description", description);
    add_text_field(mime, "tags", tags);
    return mime;
  });
}

}  // namespace progimage::detail
