#include "auth/jwks.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <fstream>
#include <optional>
#include <sstream>

#include "auth/openssl.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"

namespace progimage::auth {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;

namespace detail {

std::string public_pem(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1) throw std::bad_alloc();
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "rejected by OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace detail

namespace {

using detail::openssl_error;

constexpr int kMinRsaBits = 2048;  // RFC 7518 §3.3
constexpr std::size_t kP256CoordinateBytes = 32;

[[noreturn]] void refuse(const std::string& what) { throw Error(ErrorCode::bad_parameter, what); }

detail::Bignum to_bignum(std::string_view bytes) {
  detail::Bignum bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                              static_cast<int>(bytes.size()), nullptr));
  if (!bn) throw std::bad_alloc();
  return bn;
}

/// An EVP_PKEY of `type` ("RSA", "EC") from the public parameters `params`,
/// checked by OpenSSL (RSA: n and e sound; EC: the point lies on the curve).
detail::Pkey key_from_params(const char* type, const detail::ParamBuilder& builder) {
  detail::Params params(OSSL_PARAM_BLD_to_param(builder.get()));
  detail::PkeyContext ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx) throw std::bad_alloc();
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    refuse(std::string("not a valid ") + type + " public key: " + openssl_error());
  detail::Pkey key(raw);
  detail::PkeyContext check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1)
    refuse(std::string("not a valid ") + type + " public key: " + openssl_error());
  return key;
}

/// A base64url member of a JWK, decoded.
std::string member_bytes(const json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  if (!v || !v->is_string()) refuse("member \"" + std::string(name) + "\" is missing or not a string");
  auto bytes = core::base64_decode(v->as_string());
  if (!bytes || bytes->empty()) refuse("member \"" + std::string(name) + "\" is not base64url");
  return std::move(*bytes);
}

std::string_view string_member(const json::object& jwk, std::string_view name) {
  const auto* v = jwk.if_contains(name);
  if (!v) return {};
  if (!v->is_string()) refuse("member \"" + std::string(name) + "\" is not a string");
  return v->as_string();
}

/// Why a key is of no use for verifying RS256/ES256 tokens, or nullopt when it is.
std::optional<std::string> unusable(std::string_view kty, std::string_view crv, std::string_view alg,
                                    std::string_view use) {
  if (use == "enc") return "it is meant for encryption (use enc)";
  if (kty != "RSA" && kty != "EC") return "kty " + std::string(kty) + " is not supported (RSA or EC)";
  if (kty == "EC" && crv != "P-256") return "curve " + std::string(crv) + " is not supported (P-256)";
  const std::string_view own_alg = kty == "RSA" ? "RS256" : "ES256";
  if (!alg.empty() && alg != own_alg) return "alg " + std::string(alg) + " is not supported (" + std::string(own_alg) + ")";
  return std::nullopt;
}

PublicKey read_key(const json::object& jwk) {
  PublicKey key;
  key.kid = std::string(string_member(jwk, "kid"));
  if (string_member(jwk, "kty") == "RSA") {
    key.type = KeyType::rsa;
    key.pem = rsa_public_pem(member_bytes(jwk, "n"), member_bytes(jwk, "e"));
  } else {
    key.type = KeyType::ec_p256;
    key.pem = ec_p256_public_pem(member_bytes(jwk, "x"), member_bytes(jwk, "y"));
  }
  return key;
}

/// The kid of a JWK for messages, empty when there is none (or it is not a string).
std::string_view kid_of(const json::object& jwk) {
  const auto* v = jwk.if_contains("kid");
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

std::string key_name(std::size_t index, std::string_view kid) {
  std::string name = "key " + std::to_string(index + 1);
  if (!kid.empty()) name += " (kid " + std::string(kid) + ")";
  return name;
}

void refuse_duplicate_kids(const std::vector<PublicKey>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i)
    for (std::size_t j = i + 1; j < keys.size(); ++j)
      if (!keys[i].kid.empty() && keys[i].kid == keys[j].kid && keys[i].type == keys[j].type)
        refuse("JWKS: two keys of one type have the kid " + keys[i].kid);
}

}  // namespace

std::string rsa_public_pem(std::string_view n, std::string_view e) {
  detail::ParamBuilder builder(OSSL_PARAM_BLD_new());
  auto bn_n = to_bignum(n);
  auto bn_e = to_bignum(e);
  if (BN_num_bits(bn_n.get()) < kMinRsaBits)
    refuse("the RSA key has " + std::to_string(BN_num_bits(bn_n.get())) + " bits; at least " +
           std::to_string(kMinRsaBits) + " are needed");
  if (!builder || OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    throw std::bad_alloc();
  return detail::public_pem(key_from_params("RSA", builder).get());
}

std::string ec_p256_public_pem(std::string_view x, std::string_view y) {
  if (x.size() != kP256CoordinateBytes || y.size() != kP256CoordinateBytes)
    refuse("a P-256 coordinate must be 32 bytes");
  // SEC 1 uncompressed point: 0x04 || x || y.
  const std::string point = '\x04' + std::string(x) + std::string(y);
  detail::ParamBuilder builder(OSSL_PARAM_BLD_new());
  if (!builder || OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    throw std::bad_alloc();
  return detail::public_pem(key_from_params("EC", builder).get());
}

JwksKeys parse_jwks(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  const json::array* list = nullptr;
  if (!ec && doc.is_object())
    if (auto* k = doc.as_object().if_contains("keys"); k && k->is_array()) list = &k->as_array();
  if (!list) refuse("JWKS: expected a JSON object with a \"keys\" array");
  JwksKeys out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& item = (*list)[i];
    if (!item.is_object()) refuse("JWKS: " + key_name(i, {}) + " is not an object");
    const auto& jwk = item.as_object();
    try {
      if (auto why = unusable(string_member(jwk, "kty"), string_member(jwk, "crv"), string_member(jwk, "alg"),
                              string_member(jwk, "use"))) {
        out.skipped.push_back(key_name(i, kid_of(jwk)) + ": " + *why);
        continue;
      }
      out.keys.push_back(read_key(jwk));
    } catch (const Error& e) {
      refuse("JWKS: " + key_name(i, kid_of(jwk)) + ": " + e.what());
    }
  }
  refuse_duplicate_kids(out.keys);
  if (out.keys.empty()) refuse("JWKS: no RS256 or ES256 verification key in it");
  return out;
}

JwksKeys load_jwks(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) refuse("JWKS file " + path + " cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_jwks(text.str());
  } catch (const Error& e) {
    refuse(path + ": " + e.what());
  }
}

}  // namespace progimage::auth
