#pragma once
// SHA-256 and HMAC-SHA256 over OpenSSL, plus hex and base64 helpers.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace progimage::core {

/// Incremental SHA-256; feed chunks with update(), then hex_digest() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<std::uint8_t, 32> digest();
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string to_hex(std::string_view bytes);
/// 16 hex digits (either case) as a 64-bit value, such as a perceptual hash;
/// nullopt for anything else.
std::optional<std::uint64_t> parse_hex64(std::string_view hex);
/// Constant-time comparison (for signatures and keys).
bool secure_equals(std::string_view a, std::string_view b) noexcept;

std::string base64_encode(std::string_view bytes, bool url_safe = false, bool pad = true);
/// Accepts standard and URL-safe alphabets, with or without padding; nullopt on bad input.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace progimage::core
