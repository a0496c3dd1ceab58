#include "auth/jwks.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "test_keys.hpp"

using namespace progimage;
using namespace progimage::auth;
using namespace progimage::auth::testing;
namespace json = boost::json;

namespace {

/// The message of the core::Error(bad_parameter) that parse_jwks throws for `doc`.
std::string refusal(const json::value& doc) {
  try {
    parse_jwks(json::serialize(doc));
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << json::serialize(doc);
  return {};
}

json::object with(json::object jwk, std::string_view name, json::value v) {
  jwk[name] = std::move(v);
  return jwk;
}

}  // namespace

TEST(Jwks, RsaAndEcKeysBecomeThePemOfTheGeneratedKeys) {
  const auto& k = shared_keys();
  const auto jwks = parse_jwks(json::serialize(json::object{{"keys", {k.rsa1.jwk, k.ec1.jwk}}}));
  ASSERT_EQ(jwks.keys.size(), 2u);
  EXPECT_EQ(jwks.keys[0].kid, "rsa-1");
  EXPECT_EQ(jwks.keys[0].type, KeyType::rsa);
  EXPECT_EQ(jwks.keys[0].pem, k.rsa1.public_pem);
  EXPECT_EQ(jwks.keys[1].kid, "ec-1");
  EXPECT_EQ(jwks.keys[1].type, KeyType::ec_p256);
  EXPECT_EQ(jwks.keys[1].pem, k.ec1.public_pem);
  EXPECT_TRUE(jwks.skipped.empty());
}

TEST(Jwks, KeysOfNoUseForVerifyingAreSkippedWithTheReason) {
  const auto& k = shared_keys();
  json::array keys{k.rsa1.jwk,
                   with(k.rsa2.jwk, "use", "enc"),
                   json::object{{"kty", "oct"}, {"kid", "s"}, {"k", "c2VjcmV0"}},
                   json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
                   ec_key("p384", "P-384").jwk,
                   with(k.rsa2.jwk, "alg", "PS256")};
  const auto jwks = parse_jwks(json::serialize(json::object{{"keys", keys}}));
  ASSERT_EQ(jwks.keys.size(), 1u);
  EXPECT_EQ(jwks.keys[0].kid, "rsa-1");
  ASSERT_EQ(jwks.skipped.size(), 5u);
  EXPECT_EQ(jwks.skipped[0], "key 2 (kid rsa-2): it is meant for encryption (use enc)");
  EXPECT_EQ(jwks.skipped[1], "key 3 (kid s): kty oct is not supported (RSA or EC)");
  EXPECT_EQ(jwks.skipped[2], "key 4: kty OKP is not supported (RSA or EC)");
  EXPECT_EQ(jwks.skipped[3], "key 5 (kid p384): curve P-384 is not supported (P-256)");
  EXPECT_EQ(jwks.skipped[4], "key 6 (kid rsa-2): alg PS256 is not supported (RS256)");
}

TEST(Jwks, OneKidMayNameKeysOfTwoTypes) {
  const auto& k = shared_keys();
  const auto jwks = parse_jwks(json::serialize(json::object{{"keys", {k.rsa1.jwk, with(k.ec1.jwk, "kid", "rsa-1")}}}));
  EXPECT_EQ(jwks.keys.size(), 2u);
}

TEST(Jwks, DocumentsThatAreNoKeySetAreRefused) {
  EXPECT_NE(refusal(json::string("not an object")).find("\"keys\" array"), std::string::npos);
  EXPECT_NE(refusal(json::object{{"keys", json::object{}}}).find("\"keys\" array"), std::string::npos);
  EXPECT_NE(refusal(json::object{{"keys", json::array{}}}).find("no RS256 or ES256"), std::string::npos);
  EXPECT_NE(refusal(json::object{{"keys", {42}}}).find("key 1 is not an object"), std::string::npos);
  EXPECT_THROW(parse_jwks("{\"keys\": ["), core::Error);
}

TEST(Jwks, MalformedOrWeakKeysAreRefused) {
  const auto& k = shared_keys();
  auto refused = [](const json::object& jwk) { return refusal(json::object{{"keys", {jwk}}}); };
  json::object no_n = k.rsa1.jwk;
  no_n.erase("n");
  EXPECT_NE(refused(no_n).find("key 1 (kid rsa-1): member \"n\" is missing"), std::string::npos);
  EXPECT_NE(refused(with(k.rsa1.jwk, "e", "!!")).find("\"e\" is not base64url"), std::string::npos);
  EXPECT_NE(refused(rsa_key("small", 1024).jwk).find("1024 bits; at least 2048"), std::string::npos);
  EXPECT_NE(refused(with(k.rsa1.jwk, "e", json::string(b64url(std::string(1, '\x04'))))).find("not a valid RSA public key"),
            std::string::npos);  // an even exponent
  EXPECT_NE(refused(with(k.ec1.jwk, "x", json::string(b64url(std::string(31, 'x'))))).find("32 bytes"), std::string::npos);
  EXPECT_NE(refused(with(k.ec1.jwk, "y", k.ec1.jwk.at("x"))).find("not a valid EC public key"), std::string::npos);
  EXPECT_NE(refused(with(k.ec1.jwk, "kid", 7)).find("member \"kid\" is not a string"), std::string::npos);
}

TEST(Jwks, TwoKeysOfOneTypeWithOneKidAreRefused) {
  const auto& k = shared_keys();
  EXPECT_NE(refusal(json::object{{"keys", {k.rsa1.jwk, with(k.rsa2.jwk, "kid", "rsa-1")}}}).find("kid rsa-1"),
            std::string::npos);
}

TEST(Jwks, LoadReadsAFileAndNamesItInErrors) {
  const auto& k = shared_keys();
  TempDir dir;
  const auto good = dir.write_jwks("good.json", {k.ec2.jwk});
  EXPECT_EQ(load_jwks(good).keys.at(0).pem, k.ec2.public_pem);
  const auto bad = dir.write("bad.json", "{}");
  try {
    load_jwks(bad);
    ADD_FAILURE() << "accepted";
  } catch (const core::Error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with(bad + ": JWKS")) << e.what();
  }
  EXPECT_THROW(load_jwks((dir.path() / "missing.json").string()), core::Error);
}
