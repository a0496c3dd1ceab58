#pragma once
// The multipart/form-data body of one upload (POST /v1/images), built by
// libcurl's curl_mime: a file part streamed from disk, or from memory, plus
// the upload's text fields.
#include <filesystem>
#include <string_view>

#include "http.hpp"
#include "progimage/types.hpp"

namespace progimage::detail {

/// `file` when it is not empty, else `bytes` (which the caller keeps alive).
Body upload_form(const std::filesystem::path& file, std::string_view bytes, const UploadOptions& options);

/// Tags as the API's text fields and query parameters take them: `a,b`.
std::string join_tags(const std::vector<std::string>& tags);

}  // namespace progimage::detail
