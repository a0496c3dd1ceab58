#pragma once
// The one table of image formats: names, extensions, MIME types, alpha, and
// whether ProgImage reads and writes them. Everything that names a format
// (URL extensions, format=, Content-Type, job specs, the encoders) asks here.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace progimage::core {

struct FormatInfo {
  std::string_view name;        // canonical name: "jpeg", "tiff", ...
  std::string_view extensions;  // space-separated, preferred first: "jpg jpeg"
  std::string_view mime;
  bool alpha;     // can carry an alpha channel (GIF: one bit)
  bool readable;  // accepted as an upload
  bool writable;  // an output format
};

/// Every format, in the order error messages list them.
std::span<const FormatInfo> formats() noexcept;

/// The format of this canonical name, or nullptr.
const FormatInfo* find_format(std::string_view name) noexcept;

/// The output format named by a URL extension or a `format=` value, case
/// insensitive ("JPG" -> jpeg, "tif" -> tiff); nullopt for anything else.
std::optional<std::string> output_format_for_extension(std::string_view ext);

/// True for the formats that can be written; an original's need not be one.
bool is_output_format(std::string_view name) noexcept;

/// "image/jpeg" for "jpeg"; application/octet-stream for unknown names.
std::string_view mime_type(std::string_view name) noexcept;

/// True when the format can carry an alpha channel.
bool format_has_alpha(std::string_view name) noexcept;

/// The output extensions for messages: "jpg jpeg png webp ...".
const std::string& output_extensions_text();

}  // namespace progimage::core
