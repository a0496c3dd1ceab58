#include "ops/spec.hpp"

#include <string_view>

namespace progimage::ops {

std::optional<std::string> format_from_extension(std::string_view ext) {
  std::string l(ext);
  for (char& c : l)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (l == "jpg" || l == "jpeg") return "jpeg";
  if (l == "tif" || l == "tiff") return "tiff";
  for (std::string_view f : {"png", "webp", "avif", "heic", "jxl", "gif", "jp2", "svg"})
    if (l == f) return l;
  return std::nullopt;
}

}  // namespace progimage::ops
