#include "auth/token_verifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/error.hpp"
#include "core/time.hpp"
#include "test_keys.hpp"

using namespace progimage;
using namespace progimage::auth;
using namespace progimage::auth::testing;
using core::ErrorCode;
namespace json = boost::json;

namespace {

const std::string kSecretA = "first-hs256-secret-of-32-bytes!!";
const std::string kSecretB = "second-hs256-secret-also-32-long";

/// Claims of a valid token: a write scope that expires in five minutes.
json::object claims(json::object extra = {}) {
  json::object c{{"sub", "user-1"}, {"scope", "write"}, {"exp", core::unix_now() + 300}};
  for (auto& [k, v] : extra) c[k] = v;
  return c;
}

/// The error code (and message) verify() throws; fails the test when it accepts.
struct Refusal {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

Refusal refusal(const TokenVerifier& v, std::string_view token) {
  try {
    auto p = v.verify(token);
    ADD_FAILURE() << "accepted " << token << " as tenant " << p.tenant;
  } catch (const core::Error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

bool says(const Refusal& r, ErrorCode code, std::string_view text) {
  return r.code == code && r.message.find(text) != std::string::npos;
}

std::string replace_payload(const std::string& token, const json::object& payload) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  return token.substr(0, first + 1) + b64url_json(payload) + token.substr(second);
}

class Tokens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto& k = shared_keys();
    jwks_ = dir_->write_jwks("jwks.json", {k.rsa1.jwk, k.rsa2.jwk, k.ec1.jwk, k.ec2.jwk});
    rsa_only_ = dir_->write_jwks("rsa.json", {k.rsa1.jwk});
  }
  static void TearDownTestSuite() { delete dir_; }

  static TokenVerifier hs256() { return TokenVerifier({.hs256_secrets = {kSecretA, kSecretB}}); }
  static TokenVerifier keys(std::string file = jwks_) { return TokenVerifier({.jwks_file = std::move(file)}); }

  const SharedKeys& k = shared_keys();
  static inline TempDir* dir_ = nullptr;
  static inline std::string jwks_, rsa_only_;
};

}  // namespace

TEST_F(Tokens, Hs256VerifiesWithEitherSecret) {
  const auto v = hs256();
  for (const auto& secret : {kSecretA, kSecretB}) {
    const auto p = v.verify(mint(JWT_ALG_HS256, secret, claims()));
    EXPECT_EQ(p.role, core::Role::write);
    EXPECT_EQ(p.tenant, "default");
    EXPECT_FALSE(p.all_tenants());
    EXPECT_EQ(p.subject, "user-1");
    EXPECT_EQ(p.key_id, "jwt:hs256");
  }
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, "another-secret-that-is-32-bytes!", claims())),
                   ErrorCode::bad_token, "does not match any HS256 secret"));
}

TEST_F(Tokens, Rs256AndEs256AreChosenByKid) {
  const auto v = keys();
  EXPECT_EQ(v.algorithms(), (std::vector<std::string>{"RS256", "ES256"}));
  struct Case {
    jwt_alg_t alg;
    const KeyPair& key;
    std::string kid;
  };
  for (const Case& c : {Case{JWT_ALG_RS256, k.rsa1, "rsa-1"}, Case{JWT_ALG_RS256, k.rsa2, "rsa-2"},
                        Case{JWT_ALG_ES256, k.ec1, "ec-1"}, Case{JWT_ALG_ES256, k.ec2, "ec-2"}}) {
    const auto p = v.verify(mint(c.alg, c.key.private_pem, claims({{"scope", "read"}}), c.kid));
    EXPECT_EQ(p.key_id, "jwt:" + c.kid);
    EXPECT_EQ(p.role, core::Role::read);
  }
}

TEST_F(Tokens, ATokenWithoutKidIsTriedWithEveryKeyOfItsType) {
  const auto v = keys();
  EXPECT_EQ(v.verify(mint(JWT_ALG_RS256, k.rsa2.private_pem, claims())).key_id, "jwt:rsa-2");
  EXPECT_EQ(v.verify(mint(JWT_ALG_ES256, k.ec2.private_pem, claims())).key_id, "jwt:ec-2");
  const auto stranger = ec_key("stranger");
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_ES256, stranger.private_pem, claims())), ErrorCode::bad_token,
                   "does not match any ES256 key"));
}

TEST_F(Tokens, Es256SignedByOpenSslInJoseFormVerifies) {
  EXPECT_EQ(keys().verify(es256_by_openssl(k.ec1, claims())).key_id, "jwt:ec-1");
}

TEST_F(Tokens, HmacAndKeysWorkSideBySide) {
  const TokenVerifier v({.hs256_secrets = {kSecretA}, .jwks_file = jwks_});
  EXPECT_EQ(v.algorithms(), (std::vector<std::string>{"HS256", "RS256", "ES256"}));
  EXPECT_EQ(v.verify(mint(JWT_ALG_HS256, kSecretA, claims())).key_id, "jwt:hs256");
  EXPECT_EQ(v.verify(mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "rsa-1")).key_id, "jwt:rsa-1");
  EXPECT_EQ(v.verify(mint(JWT_ALG_ES256, k.ec2.private_pem, claims(), "ec-2")).key_id, "jwt:ec-2");
}

TEST_F(Tokens, ExpiryAllowsTheLeewayAndNoMore) {
  const auto v = hs256();
  const auto now = core::unix_now();
  const auto late = refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"exp", now - 61}})));
  EXPECT_TRUE(says(late, ErrorCode::token_expired, "expired at " + core::format_rfc3339(now - 61))) << late.message;
  EXPECT_EQ(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"exp", now - 50}}))).role, core::Role::write);
  const TokenVerifier strict({.hs256_secrets = {kSecretA}, .leeway = std::chrono::seconds(0)});
  EXPECT_EQ(refusal(strict, mint(JWT_ALG_HS256, kSecretA, claims({{"exp", now - 1}}))).code, ErrorCode::token_expired);
}

TEST_F(Tokens, ARememberedTokenIsJudgedAgainAtEveryUse) {
  const auto v = keys();
  const auto token = mint(JWT_ALG_ES256, k.ec1.private_pem, claims({{"nbf", 1'999'999'000}, {"exp", 2'000'000'000}}));
  auto at = [](std::time_t t) { return core::Clock::from_time_t(t); };
  try {
    v.verify(token, at(1'999'998'000));
    ADD_FAILURE() << "accepted before nbf";
  } catch (const core::Error& e) {
    EXPECT_TRUE(std::string(e.what()).find("not valid before") != std::string::npos) << e.what();
  }
  EXPECT_EQ(v.verify(token, at(1'999'999'000)).key_id, "jwt:ec-1");
  EXPECT_NO_THROW(v.verify(token, at(2'000'000'059)));
  try {
    v.verify(token, at(2'000'000'060));
    ADD_FAILURE() << "accepted after exp";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::token_expired);
  }
  // A token like it but for the signature is not taken for it.
  auto forged = replace_payload(token, claims({{"nbf", 1'999'999'000}, {"exp", 2'000'000'000}, {"scope", "admin"}}));
  EXPECT_THROW(v.verify(forged, at(1'999'999'500)), core::Error);
}

TEST_F(Tokens, NotBeforeInTheFutureIsRefusedBeyondTheLeeway) {
  const auto v = hs256();
  const auto now = core::unix_now();
  const auto early = refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"nbf", now + 120}})));
  EXPECT_TRUE(says(early, ErrorCode::token_expired, "not valid before " + core::format_rfc3339(now + 120)))
      << early.message;
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"nbf", now + 30}}))));
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"nbf", now - 30}}))));
}

TEST_F(Tokens, ExpIsRequiredAndTimesMustBeNumbers) {
  const auto v = hs256();
  auto no_exp = claims();
  no_exp.erase("exp");
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, no_exp)), ErrorCode::bad_token, "no exp"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"exp", "2100-01-01"}}))), ErrorCode::bad_token,
                   "exp is not a number"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"nbf", true}}))), ErrorCode::bad_token,
                   "nbf is not a number"));
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"exp", core::unix_now() + 300.5}}))));
}

TEST_F(Tokens, AlgNoneIsRefused) {
  const json::object header{{"alg", "none"}, {"typ", "JWT"}};
  const auto unsigned_token = b64url_json(header) + "." + b64url_json(claims({{"scope", "admin"}})) + ".";
  EXPECT_TRUE(says(refusal(hs256(), unsigned_token), ErrorCode::bad_token, "alg none"));
  EXPECT_TRUE(says(refusal(keys(), unsigned_token), ErrorCode::bad_token, "alg none"));
  // Not even with a signature made by a configured secret.
  const auto signed_none = hs256_by_hand(header, claims(), kSecretA);
  EXPECT_TRUE(says(refusal(hs256(), signed_none), ErrorCode::bad_token, "alg none"));
  EXPECT_TRUE(says(refusal(hs256(), b64url_json(json::object{{"alg", "None"}}) + "." + b64url_json(claims()) + "."),
                   ErrorCode::bad_token, "alg None is not accepted"));
}

TEST_F(Tokens, AnHs256TokenSignedWithTheRsaPublicKeyIsRefused) {
  // The classic confusion: the public PEM, known to anyone, used as an HMAC secret.
  for (const auto& pem : {k.rsa1.public_pem, k.ec1.public_pem}) {
    const auto forged = mint(JWT_ALG_HS256, pem, claims({{"scope", "admin"}}), "rsa-1");
    EXPECT_TRUE(says(refusal(keys(), forged), ErrorCode::bad_token, "alg HS256 is not accepted (RS256, ES256)"));
    const TokenVerifier both({.hs256_secrets = {kSecretA}, .jwks_file = jwks_});
    EXPECT_TRUE(says(refusal(both, forged), ErrorCode::bad_token, "does not match any HS256 secret"));
  }
}

TEST_F(Tokens, AlgorithmsWithoutKeysAreRefused) {
  EXPECT_TRUE(says(refusal(hs256(), mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "rsa-1")), ErrorCode::bad_token,
                   "alg RS256 is not accepted (HS256)"));
  EXPECT_TRUE(says(refusal(keys(rsa_only_), mint(JWT_ALG_ES256, k.ec1.private_pem, claims(), "ec-1")),
                   ErrorCode::bad_token, "alg ES256 is not accepted (RS256)"));
  EXPECT_TRUE(says(refusal(keys(), mint(JWT_ALG_RS512, k.rsa1.private_pem, claims(), "rsa-1")), ErrorCode::bad_token,
                   "alg RS512 is not accepted"));
  EXPECT_TRUE(says(refusal(hs256(), mint(JWT_ALG_HS512, kSecretA, claims())), ErrorCode::bad_token,
                   "alg HS512 is not accepted"));
}

TEST_F(Tokens, NothingConfiguredRefusesEveryToken) {
  const TokenVerifier v({});
  EXPECT_FALSE(v.enabled());
  EXPECT_TRUE(v.algorithms().empty());
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims())), ErrorCode::bad_token,
                   "no token keys are configured"));
  EXPECT_TRUE(hs256().enabled());
}

TEST_F(Tokens, AnUnknownKidIsUnknownKey) {
  const auto r = refusal(keys(), mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "retired-2019"));
  EXPECT_TRUE(says(r, ErrorCode::unknown_key, "kid retired-2019")) << r.message;
  EXPECT_EQ(core::http_status(r.code), 401u);
}

TEST_F(Tokens, AKidOfTheWrongKeyIsABadToken) {
  EXPECT_TRUE(says(refusal(keys(), mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "ec-1")), ErrorCode::bad_token,
                   "the key ec-1 is an EC P-256 key; the token is RS256"));
  EXPECT_TRUE(says(refusal(keys(), mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "rsa-2")), ErrorCode::bad_token,
                   "does not match the key rsa-2"));
}

TEST_F(Tokens, ATamperedPayloadIsRefused) {
  const TokenVerifier v({.hs256_secrets = {kSecretA}, .jwks_file = jwks_});
  const auto raised = claims({{"scope", "admin"}, {"tenant", "*"}});
  for (const auto& token : {mint(JWT_ALG_HS256, kSecretA, claims()),
                            mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "rsa-1"),
                            mint(JWT_ALG_ES256, k.ec1.private_pem, claims(), "ec-1")}) {
    ASSERT_NO_THROW(v.verify(token));
    EXPECT_TRUE(says(refusal(v, replace_payload(token, raised)), ErrorCode::bad_token, "signature does not match"));
  }
}

TEST_F(Tokens, ATamperedSignatureIsRefused) {
  const auto v = keys();
  auto token = mint(JWT_ALG_ES256, k.ec1.private_pem, claims(), "ec-1");
  token[token.size() - 5] = token[token.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(refusal(v, token).code, ErrorCode::bad_token);
  const auto rs = mint(JWT_ALG_RS256, k.rsa1.private_pem, claims(), "rsa-1");
  EXPECT_EQ(refusal(v, rs.substr(0, rs.size() - 4)).code, ErrorCode::bad_token);
}

TEST_F(Tokens, MalformedTokensAreBadTokens) {
  const auto v = hs256();
  const auto good = mint(JWT_ALG_HS256, kSecretA, claims());
  const auto dot = good.rfind('.');
  const std::vector<std::string> bad{
      "", "abc", "a.b", good + ".extra", good + "=", good.substr(0, dot) + ".!" + good.substr(dot + 1),
      good.substr(0, dot) + "." + good.substr(dot + 1, 10) + "\n" + good.substr(dot + 11),  // skipped by libjwt's base64
      "." + good.substr(good.find('.')), std::string(kMaxTokenBytes + 1, 'a'),
      b64url("not json") + "." + b64url_json(claims()) + ".sig",
      b64url_json(json::object{{"alg", "HS256"}}) + "." + b64url("[1,2]") + ".sig",
      b64url_json(json::object{{"typ", "JWT"}}) + "." + b64url_json(claims()) + ".sig",
      b64url_json(json::object{{"alg", 256}}) + "." + b64url_json(claims()) + ".sig",
  };
  for (const auto& token : bad) EXPECT_EQ(refusal(v, token).code, ErrorCode::bad_token) << token;
  EXPECT_TRUE(says(refusal(v, bad[1]), ErrorCode::bad_token, "not a compact JWS"));
}

TEST_F(Tokens, UnsupportedHeadersAreRefused) {
  const auto v = hs256();
  EXPECT_NO_THROW(v.verify(hs256_by_hand({{"alg", "HS256"}}, claims(), kSecretA)));
  EXPECT_NO_THROW(v.verify(hs256_by_hand({{"alg", "HS256"}, {"typ", "jwt"}, {"kid", "any"}}, claims(), kSecretA)));
  EXPECT_TRUE(says(refusal(v, hs256_by_hand({{"alg", "HS256"}, {"typ", "at+jwt"}}, claims(), kSecretA)),
                   ErrorCode::bad_token, "typ at+jwt"));
  EXPECT_TRUE(says(refusal(v, hs256_by_hand({{"alg", "HS256"}, {"crit", {"exp"}}}, claims(), kSecretA)),
                   ErrorCode::bad_token, "crit"));
  EXPECT_TRUE(says(refusal(v, hs256_by_hand({{"alg", "HS256"}, {"kid", 1}}, claims(), kSecretA)),
                   ErrorCode::bad_token, "kid is not a string"));
}

TEST_F(Tokens, IssuerIsCheckedWhenConfigured) {
  const TokenVerifier v({.hs256_secrets = {kSecretA}, .issuer = "https://app.example"});
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"iss", "https://app.example"}}))));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"iss", "https://evil.example"}}))),
                   ErrorCode::bad_token, "issuer https://evil.example"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims())), ErrorCode::bad_token, "no iss"));
  EXPECT_NO_THROW(hs256().verify(mint(JWT_ALG_HS256, kSecretA, claims({{"iss", "anyone"}}))));
}

TEST_F(Tokens, AudienceMayBeAStringOrAnArray) {
  const TokenVerifier v({.hs256_secrets = {kSecretA}, .audience = "progimage"});
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"aud", "progimage"}}))));
  EXPECT_NO_THROW(v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"aud", {"billing", "progimage"}}}))));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"aud", {"billing", "search"}}}))),
                   ErrorCode::bad_token, "does not name progimage"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"aud", "billing"}}))), ErrorCode::bad_token,
                   "does not name progimage"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"aud", 5}}))), ErrorCode::bad_token,
                   "neither a string nor an array"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims())), ErrorCode::bad_token, "no aud"));
  // A token for some audience is not for a server that has none.
  EXPECT_TRUE(says(refusal(hs256(), mint(JWT_ALG_HS256, kSecretA, claims({{"aud", "billing"}}))), ErrorCode::bad_token,
                   "names an audience"));
}

TEST_F(Tokens, TheHighestRoleOfTheScopeWins) {
  const auto v = hs256();
  auto role = [&](std::string_view scope) {
    return v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"scope", scope}}))).role;
  };
  EXPECT_EQ(role("read"), core::Role::read);
  EXPECT_EQ(role("read write"), core::Role::write);
  EXPECT_EQ(role("admin read"), core::Role::admin);
  EXPECT_EQ(role("openid  profile read"), core::Role::read);
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"scope", "superuser"}}))), ErrorCode::bad_token,
                   "names no role"));
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"scope", "READ"}}))), ErrorCode::bad_token,
                   "names no role"));
  EXPECT_EQ(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"scope", ""}}))).code, ErrorCode::bad_token);
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"scope", {"admin"}}}))), ErrorCode::bad_token,
                   "scope is not a string"));
  auto no_scope = claims();
  no_scope.erase("scope");
  EXPECT_TRUE(says(refusal(v, mint(JWT_ALG_HS256, kSecretA, no_scope)), ErrorCode::bad_token, "no scope"));
}

TEST_F(Tokens, TenantClaimOrTheDefault) {
  const auto v = hs256();
  auto tenant = [&](json::value t) { return v.verify(mint(JWT_ALG_HS256, kSecretA, claims({{"tenant", t}}))); };
  EXPECT_EQ(v.verify(mint(JWT_ALG_HS256, kSecretA, claims())).tenant, "default");
  EXPECT_EQ(tenant("acme-prod_eu1").tenant, "acme-prod_eu1");
  EXPECT_TRUE(tenant("*").all_tenants());
  for (json::value bad : {json::value(""), json::value("a b"), json::value("a/b"), json::value(std::string(64, 'a')),
                          json::value("Acme"), json::value("acme.eu"), json::value("-acme"),
                          json::value(5)})
    EXPECT_EQ(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"tenant", bad}}))).code, ErrorCode::bad_token)
        << json::serialize(bad);
}

TEST_F(Tokens, SubjectIsOptionalButAString) {
  const auto v = hs256();
  auto anonymous = claims();
  anonymous.erase("sub");
  EXPECT_EQ(v.verify(mint(JWT_ALG_HS256, kSecretA, anonymous)).subject, "");
  EXPECT_EQ(refusal(v, mint(JWT_ALG_HS256, kSecretA, claims({{"sub", 42}}))).code, ErrorCode::bad_token);
}

TEST_F(Tokens, ConfigurationsThatCannotWorkAreRefused) {
  auto code = [](TokenOptions o) {
    try {
      TokenVerifier v(std::move(o));
    } catch (const core::Error& e) {
      return e.code();
    }
    return ErrorCode::internal;
  };
  EXPECT_EQ(code({.hs256_secrets = {"short"}}), ErrorCode::bad_parameter);
  EXPECT_EQ(code({.hs256_secrets = {kSecretA}, .leeway = std::chrono::seconds(-1)}), ErrorCode::bad_parameter);
  EXPECT_EQ(code({.jwks_file = (dir_->path() / "absent.json").string()}), ErrorCode::bad_parameter);
  const auto skipped = dir_->write_jwks("skipped.json", {k.rsa1.jwk, ec_key("p384", "P-384").jwk});
  EXPECT_EQ(keys(skipped).skipped_keys().size(), 1u);
}

TEST_F(Tokens, ManyThreadsVerifyAtOnce) {
  const TokenVerifier v({.hs256_secrets = {kSecretA, kSecretB}, .jwks_file = jwks_});
  const std::vector<std::pair<std::string, std::string>> tokens{
      {mint(JWT_ALG_HS256, kSecretB, claims({{"tenant", "t1"}})), "t1"},
      {mint(JWT_ALG_RS256, k.rsa2.private_pem, claims({{"tenant", "t2"}}), "rsa-2"), "t2"},
      {mint(JWT_ALG_ES256, k.ec1.private_pem, claims({{"tenant", "t3"}})), "t3"},
      {mint(JWT_ALG_RS256, k.rsa1.private_pem, claims({{"tenant", "t4"}})), "t4"},
  };
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const auto& [token, tenant] = tokens[(t + i) % tokens.size()];
        if (v.verify(token).tenant == tenant) ++right;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(right.load(), 400);
}

TEST(LooksLikeJwt, TellsTokensFromKeys) {
  EXPECT_TRUE(looks_like_jwt(mint(JWT_ALG_HS256, kSecretA, claims())));
  EXPECT_FALSE(looks_like_jwt("pik_4Jb1mX0cQe9T2vK7pLw8Aa4Jb1mX0cQe9T2vK7pLw8Aa"));
  EXPECT_FALSE(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9"));
  EXPECT_FALSE(looks_like_jwt("my.config.key"));
}
