#pragma once
// URL signing for GET transforms (API.md Conventions). The scheme is in
// README.md so that the SDK and other clients can implement it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/parse.hpp"

namespace progimage::ops {

/// The canonical query for signing: every pair except `sig`, sorted by key
/// then value (bytewise, on the decoded strings), key and value each
/// percent-encoded except the RFC 3986 unreserved set A-Z a-z 0-9 - . _ ~
/// (upper-case hex), joined as k=v with '&'. Independent of our defaults.
std::string signing_query(const QueryParams& params);

/// The signed message: path + "?" + signing_query(params); the '?' is there
/// even when the query is empty.
std::string signing_message(std::string_view path, const QueryParams& params);

/// base64url without padding of HMAC-SHA256(secret, signing_message(path, params)).
/// `path` is the decoded URL path, e.g. "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp".
std::string sign_url(std::string_view secret, std::string_view path, const QueryParams& params);

/// What a signed URL carries after its '?': `raw_query` (still
/// percent-encoded, without `sig`), then `exp=<expires>` when given, then
/// `sig=` over `path` (decoded) and all of them — the one way every signer
/// here (job results, `progimage sign`) builds a signed URL.
std::string signed_query(std::string_view secret, std::string_view path, std::string raw_query,
                         std::optional<std::int64_t> expires = std::nullopt);

/// True when params hold exactly one `sig` that equals sign_url(secret, ...)
/// for one of `secrets` (several during a rotation). Compares in constant
/// time. False when there is no sig, more than one, or no secret.
bool verify_signature(const std::vector<std::string>& secrets, std::string_view path,
                      const QueryParams& params);

}  // namespace progimage::ops
