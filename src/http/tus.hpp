#pragma once
// The framing of the tus 1.0 resumable-upload protocol (tus.io): its
// version, extensions and header values, as pure functions. The routes
// (resumable_routes.cpp) and the service do the rest.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::http::tus {

inline constexpr std::string_view kVersion = "1.0.0";
inline constexpr std::string_view kExtensions = "creation,creation-with-upload,termination,expiration";
/// The Content-Type of PATCH bodies (and of creation-with-upload).
inline constexpr std::string_view kChunkMediaType = "application/offset+octet-stream";

/// True when a request's Tus-Resumable names the version spoken here.
bool is_supported_version(std::string_view tus_resumable) noexcept;

/// Upload-Offset and Upload-Length: ASCII digits only (no sign, no blanks),
/// at most 18 of them; nullopt for anything else.
std::optional<std::int64_t> parse_size(std::string_view value) noexcept;

struct MetadataPair {
  std::string key;
  std::string value;  // decoded
  bool operator==(const MetadataPair&) const = default;
};

/// Why an Upload-Metadata header is malformed; nullopt when it is not.
struct MetadataResult {
  std::vector<MetadataPair> pairs;
  std::string error;  // empty when it parsed
};

/// Parses Upload-Metadata: comma-separated `key base64value` pairs (or a bare
/// `key` for an empty value), keys unique and of printable ASCII without
/// space or comma. Blanks around a pair are ignored, and so are empty items.
MetadataResult parse_metadata(std::string_view header);

/// The header text of `pairs` (standard base64 with padding); keys as given.
std::string format_metadata(const std::vector<MetadataPair>& pairs);

/// The value of `key`, or nullopt.
std::optional<std::string> metadata_value(const std::vector<MetadataPair>& pairs, std::string_view key);

/// An HTTP date (RFC 9110 IMF-fixdate), as Upload-Expires needs:
/// `Wed, 25 Jun 2014 16:00:00 GMT`.
std::string http_date(std::int64_t unix_seconds);

}  // namespace progimage::http::tus
