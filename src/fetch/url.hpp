#pragma once
// Checking a remote URL before anything connects, and printing it safely.
#include <string>
#include <string_view>

namespace progimage::fetch {

/// The longest URL accepted.
inline constexpr std::size_t kMaxUrlLength = 8192;

/// A URL that may be fetched: absolute, http or https, with a host.
struct RemoteUrl {
  std::string url;     // as curl normalised it; may still hold user:password
  std::string scheme;  // "http" or "https"
  std::string host;    // as written, IPv6 in brackets; not yet resolved
};

/// Parses with libcurl's own URL parser, so the check and the transfer agree.
/// Throws core::Error bad_parameter for a malformed URL, a scheme other than
/// http/https (file:, ftp:, gopher:, data:, javascript:, ...) or no host. The
/// message never repeats the URL (it may hold credentials).
RemoteUrl parse_remote_url(std::string_view url);

/// The URL without user:password@, for logs and error messages;
/// "(unparseable URL)" when libcurl cannot parse it.
std::string redact_url(std::string_view url);

/// The last path segment of a URL, without query or fragment: the name an
/// image imported from it gets ("" when the path ends in '/').
std::string file_name_from_url(std::string_view url);

}  // namespace progimage::fetch
