#pragma once
// Key pairs made with OpenSSL, their JWKs, and tokens minted with libjwt (or by hand).
#include <jwt.h>

#include <boost/json.hpp>

#include <filesystem>
#include <string>
#include <string_view>

#include "auth/openssl.hpp"

namespace progimage::auth::testing {

struct KeyPair {
  detail::Pkey key;
  std::string private_pem;
  std::string public_pem;
  boost::json::object jwk;  // public members only, with the kid given
};

KeyPair rsa_key(const std::string& kid, int bits = 2048);
KeyPair ec_key(const std::string& kid, const char* curve = "P-256");

/// Keys made once per test program (RSA generation takes a while).
struct SharedKeys {
  KeyPair rsa1, rsa2, ec1, ec2;
};
const SharedKeys& shared_keys();

std::string b64url(std::string_view bytes);
std::string b64url_json(const boost::json::value& v);

/// A token signed by libjwt (jwt_encode_str) with `alg` and `key` (secret or private PEM).
std::string mint(jwt_alg_t alg, std::string_view key, const boost::json::object& claims,
                 const std::string& kid = {});
/// A token whose header is written by hand, signed HS256 with core::hmac_sha256.
std::string hs256_by_hand(const boost::json::object& header, const boost::json::object& claims,
                          std::string_view secret);
/// An ES256 token signed with OpenSSL directly (DER signature turned into JOSE's R || S).
std::string es256_by_openssl(const KeyPair& key, const boost::json::object& claims);

/// A directory removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const noexcept { return path_; }
  /// Writes `{"keys": [...]}` with the given JWKs into the file `name` and returns its path.
  std::string write_jwks(const std::string& name, const boost::json::array& keys) const;
  std::string write(const std::string& name, std::string_view text) const;

 private:
  std::filesystem::path path_;
};

}  // namespace progimage::auth::testing
