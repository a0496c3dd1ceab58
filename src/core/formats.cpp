#include "core/formats.hpp"

#include <array>

#include "core/text.hpp"

namespace progimage::core {

namespace {

// jp2 is written but not read: Debian 12's openjpeg crashes on valid files.
constexpr std::array<FormatInfo, 10> kFormats{{
    {"jpeg", "jpg jpeg", "image/jpeg", false, true, true},
    {"png", "png", "image/png", true, true, true},
    {"webp", "webp", "image/webp", true, true, true},
    {"avif", "avif", "image/avif", true, true, true},
    {"heic", "heic", "image/heic", true, true, true},
    {"jxl", "jxl", "image/jxl", true, true, true},
    {"gif", "gif", "image/gif", true, true, true},
    {"tiff", "tiff tif", "image/tiff", true, true, true},
    {"jp2", "jp2", "image/jp2", true, false, true},
    {"svg", "svg", "image/svg+xml", true, true, true},
}};

bool has_extension(const FormatInfo& f, std::string_view ext) {
  std::string_view rest = f.extensions;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    if (iequals(rest.substr(0, space), ext)) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

std::span<const FormatInfo> formats() noexcept { return kFormats; }

const FormatInfo* find_format(std::string_view name) noexcept {
  for (const auto& f : kFormats)
    if (f.name == name) return &f;
  return nullptr;
}

std::optional<std::string> output_format_for_extension(std::string_view ext) {
  for (const auto& f : kFormats)
    if (f.writable && has_extension(f, ext)) return std::string(f.name);
  return std::nullopt;
}

bool is_output_format(std::string_view name) noexcept {
  const auto* f = find_format(name);
  return f && f->writable;
}

std::string_view mime_type(std::string_view name) noexcept {
  const auto* f = find_format(name);
  return f ? f->mime : "application/octet-stream";
}

bool format_has_alpha(std::string_view name) noexcept {
  const auto* f = find_format(name);
  return f && f->alpha;
}

const std::string& output_extensions_text() {
  static const std::string text = [] {
    std::string out;
    for (const auto& f : kFormats)
      if (f.writable) out += (out.empty() ? "" : " ") + std::string(f.extensions);
    return out;
  }();
  return text;
}

}  // namespace progimage::core
