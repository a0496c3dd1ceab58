#pragma once
// Public keys of a JSON Web Key Set (RFC 7517), turned into PEM for libjwt.
#include <string>
#include <string_view>
#include <vector>

namespace progimage::auth {

enum class KeyType { rsa, ec_p256 };

/// A verification key from a JWKS: RSA for RS256, EC P-256 for ES256.
struct PublicKey {
  std::string kid;  // may be empty
  KeyType type;
  std::string pem;  // SubjectPublicKeyInfo
};

struct JwksKeys {
  std::vector<PublicKey> keys;
  /// Keys left out, each with the reason: meant for encryption (`use: enc`), of
  /// another type or curve, or for another `alg` than RS256 or ES256.
  std::vector<std::string> skipped;
};

/// Reads a JWKS document (`{"keys": [...]}`). Keys of kty RSA (n, e; 2048 bits
/// or more) and of kty EC on P-256 (x, y) are kept. Throws
/// core::Error(bad_parameter) on a document that is not a JWKS, a usable key
/// that is malformed or invalid, two usable keys of one type with one kid, or
/// no usable key at all.
JwksKeys parse_jwks(std::string_view json);
/// parse_jwks() on a file's content; a file that cannot be read is a bad_parameter too.
JwksKeys load_jwks(const std::string& path);

/// PEM of an RSA public key from the big-endian bytes of its modulus and exponent.
std::string rsa_public_pem(std::string_view n, std::string_view e);
/// PEM of a P-256 public key from the 32 big-endian bytes of each coordinate.
std::string ec_p256_public_pem(std::string_view x, std::string_view y);

}  // namespace progimage::auth
