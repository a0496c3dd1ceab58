#include "test_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "core/hash.hpp"
#include "core/id.hpp"

namespace progimage::auth::testing {

namespace json = boost::json;

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string(what) + ": " + detail::openssl_error());
}

std::string private_pem(EVP_PKEY* key) {
  detail::Bio out(BIO_new(BIO_s_mem()));
  require(out && PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

/// A BIGNUM parameter of a key as big-endian bytes, left-padded to `width` when given.
std::string bn_param(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* raw = nullptr;
  require(EVP_PKEY_get_bn_param(key, name, &raw) == 1, name);
  detail::Bignum bn(raw);
  std::string out(width ? width : BN_num_bytes(bn.get()), '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  require((width ? BN_bn2binpad(bn.get(), bytes, width) : BN_bn2bin(bn.get(), bytes)) >= 0, "BN_bn2bin");
  return out;
}

KeyPair pair_of(detail::Pkey key) {
  KeyPair pair;
  pair.private_pem = private_pem(key.get());
  pair.public_pem = detail::public_pem(key.get());
  pair.key = std::move(key);
  return pair;
}

struct JwtString {
  void operator()(char* s) const noexcept { std::free(s); }
};

}  // namespace

KeyPair rsa_key(const std::string& kid, int bits) {
  detail::Pkey key(EVP_RSA_gen(static_cast<unsigned>(bits)));
  require(key != nullptr, "EVP_RSA_gen");
  auto pair = pair_of(std::move(key));
  pair.jwk = {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"},
              {"n", b64url(bn_param(pair.key.get(), OSSL_PKEY_PARAM_RSA_N))},
              {"e", b64url(bn_param(pair.key.get(), OSSL_PKEY_PARAM_RSA_E))}};
  return pair;
}

KeyPair ec_key(const std::string& kid, const char* curve) {
  detail::Pkey key(EVP_EC_gen(curve));
  require(key != nullptr, "EVP_EC_gen");
  auto pair = pair_of(std::move(key));
  const int width = std::string_view(curve) == "P-256" ? 32 : std::string_view(curve) == "P-384" ? 48 : 66;
  pair.jwk = {{"kty", "EC"}, {"kid", kid}, {"crv", curve},
              {"x", b64url(bn_param(pair.key.get(), OSSL_PKEY_PARAM_EC_PUB_X, width))},
              {"y", b64url(bn_param(pair.key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, width))}};
  return pair;
}

const SharedKeys& shared_keys() {
  static const SharedKeys keys{rsa_key("rsa-1"), rsa_key("rsa-2"), ec_key("ec-1"), ec_key("ec-2")};
  return keys;
}

std::string b64url(std::string_view bytes) { return core::base64_encode(bytes, true, false); }
std::string b64url_json(const json::value& v) { return b64url(json::serialize(v)); }

std::string mint(jwt_alg_t alg, std::string_view key, const json::object& claims, const std::string& kid) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::bad_alloc();
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
  if (jwt_add_grants_json(jwt.get(), json::serialize(claims).c_str()) != 0) throw std::runtime_error("grants");
  if (!kid.empty() && jwt_add_header(jwt.get(), "kid", kid.c_str()) != 0) throw std::runtime_error("kid");
  if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) != 0)
    throw std::runtime_error("jwt_set_alg");
  std::unique_ptr<char, JwtString> token(jwt_encode_str(jwt.get()));
  if (!token) throw std::runtime_error("jwt_encode_str");
  return token.get();
}

std::string hs256_by_hand(const json::object& header, const json::object& claims, std::string_view secret) {
  const std::string signing_input = b64url_json(header) + "." + b64url_json(claims);
  return signing_input + "." + b64url(core::hmac_sha256(secret, signing_input));
}

std::string es256_by_openssl(const KeyPair& key, const json::object& claims) {
  const json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", key.jwk.at("kid")}};
  const std::string signing_input = b64url_json(header) + "." + b64url_json(claims);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t size = 0;
  require(ctx && EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) == 1 &&
              EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1,
          "EVP_DigestSign");
  std::string der(size, '\0');
  require(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &size,
                         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1,
          "EVP_DigestSign");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(size)),
                                                            &ECDSA_SIG_free);
  require(sig != nullptr, "d2i_ECDSA_SIG");
  std::string jose(64, '\0');  // RFC 7518 §3.4: R and S, 32 bytes each
  auto* out = reinterpret_cast<unsigned char*>(jose.data());
  require(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32) == 32 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32) == 32,
          "BN_bn2binpad");
  return signing_input + "." + b64url(jose);
}

TempDir::TempDir()
    : path_(std::filesystem::temp_directory_path() / ("progimage-auth-" + core::new_id())) {
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view text) const {
  const auto file = path_ / name;
  std::ofstream(file, std::ios::binary) << text;
  return file.string();
}

std::string TempDir::write_jwks(const std::string& name, const json::array& keys) const {
  return write(name, json::serialize(json::object{{"keys", keys}}));
}

}  // namespace progimage::auth::testing
