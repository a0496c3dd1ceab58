#pragma once
// Byte encodings the client needs: percent-encoding, base64, HMAC-SHA256.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace progimage::detail {

/// Percent-encodes every byte but the RFC 3986 unreserved `A-Z a-z 0-9 - . _ ~`
/// and those in `also_keep`, with upper-case hex.
std::string percent_encode(std::string_view s, std::string_view also_keep = {});
/// Decodes `%XX` (and `+` as a space, as the server reads queries); nullopt
/// for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s);

/// `key=value&...` of the pairs in their order, keys and values percent-encoded.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& pairs);

std::string base64(std::string_view bytes);
/// RFC 4648 §5 (`-`, `_`), without `=` padding.
std::string base64url_nopad(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view message);

}  // namespace progimage::detail
