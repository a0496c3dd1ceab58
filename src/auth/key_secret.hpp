#pragma once
// Secrets of the API keys that the catalog manages: made here, shown once, kept only as a hash.
#include <cstddef>
#include <string>
#include <string_view>

namespace progimage::auth {

/// Every secret begins with it, so that a leaked key is recognisable (secret scanners, logs).
inline constexpr std::string_view kKeySecretPrefix = "pik_";
/// How many leading characters of a secret are kept in clear to tell keys apart in listings.
inline constexpr std::size_t kKeyPrefixLength = 12;

/// A new secret: `pik_` and 44 base62 characters from a CSPRNG (about 262 bits).
std::string new_key_secret();
/// The hash the catalog keeps of a secret: SHA-256, lower-case hex.
std::string key_hash(std::string_view secret);
/// The first kKeyPrefixLength characters of a secret (all of a shorter one), for listings.
std::string key_prefix(std::string_view secret);
/// Whether `secret` hashes to `stored_hash`, compared in constant time.
bool key_matches(std::string_view secret, std::string_view stored_hash);

}  // namespace progimage::auth
