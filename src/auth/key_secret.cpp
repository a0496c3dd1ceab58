#include "auth/key_secret.hpp"

#include "core/hash.hpp"
#include "core/id.hpp"

namespace progimage::auth {

std::string new_key_secret() {
  // Two ids of 22 base62 characters each: 262 random bits, base62 so that a
  // double click selects the whole key.
  return std::string(kKeySecretPrefix) + core::new_id() + core::new_id();
}

// A fast hash is the right one here. Slow, salted password hashes (bcrypt,
// argon2) exist to stretch secrets of little entropy that people choose;
// these secrets carry more than 128 random bits, so no speed of hashing makes
// guessing one feasible, and a salt would only stop the lookup by hash that
// authenticates a request in one indexed query instead of milliseconds of CPU.
std::string key_hash(std::string_view secret) { return core::sha256_hex(secret); }

std::string key_prefix(std::string_view secret) { return std::string(secret.substr(0, kKeyPrefixLength)); }

bool key_matches(std::string_view secret, std::string_view stored_hash) {
  return core::secure_equals(key_hash(secret), stored_hash);
}

}  // namespace progimage::auth
