// Contract tests of tenants and access (issue 11, points 1-3, 6-8, 10): a
// key of one tenant never sees another's images, jobs, keys, tags or usage,
// through any route; dedupe is not observable across tenants; managed keys
// are made, listed and revoked; bearer JWTs are verified and refused with
// the right code; signed URLs expire; rate limits answer 429 and quotas 403
// before anything is stored; usage is counted per tenant and key.
#include <jwt.h>

#include <boost/json.hpp>

#include <set>
#include <thread>

#include "../unit/auth/test_keys.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;
using auth::testing::b64url_json;
using auth::testing::hs256_by_hand;
using auth::testing::mint;
using auth::testing::shared_keys;

const std::string kOperator = "operator-key-0123456789";
const std::string kAlphaAdmin = "alpha-admin-key-0123456789";
const std::string kBetaAdmin = "beta-admin-key-0123456789";
const std::string kBetaRead = "beta-read-key-0123456789";
const std::string kJwtSecret = "a-jwt-secret-of-at-least-32-bytes-0123456789";
const std::string kSigningSecret = "url-signing-secret";

Headers bearer(const std::string& credential) { return {{"Authorization", "Bearer " + credential}}; }

Headers json_bearer(const std::string& credential) {
  return {{"Authorization", "Bearer " + credential}, {"Content-Type", "application/json"}};
}

using Params = std::vector<std::pair<std::string, std::string>>;

/// `path?query&sig=…` signed with the server's URL signing secret.
std::string signed_url(const std::string& path, const Params& params) {
  std::string query;
  for (const auto& [k, v] : params) query += (query.empty() ? "" : "&") + url_encode(k) + "=" + url_encode(v);
  return path + "?" + query + "&sig=" + url_signature(kSigningSecret, path, params);
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class TenantsTest : public SharedServerTest<TenantsTest> {
 public:
  static ServerOptions server_options() {
    static auth::testing::TempDir dir;
    static const std::string jwks = dir.write_jwks("jwks.json", json::array{shared_keys().rsa1.jwk});
    return {.args = {"--workers", "0", "--api-key", kOperator + ":admin:*", "--api-key", kAlphaAdmin + ":admin:alpha",
                     "--api-key", kBetaAdmin + ":admin:beta", "--api-key", kBetaRead + ":read:beta", "--jwt-secret",
                     kJwtSecret, "--jwt-jwks", jwks, "--signing-secret", kSigningSecret, "--usage-flush", "200ms", "--token-rate-limit", "0.5:5"}};
  }

 protected:
  static Uploaded upload_as(const std::string& key, const std::string& bytes, std::string_view query = {}) {
    return upload_raw(http(), bytes, query, "image/png", bearer(key));
  }

  /// Ids of the images a key lists.
  static std::set<std::string> listed(const std::string& key, const std::string& query = {}) {
    auto r = http().get("/v1/images?limit=1000" + query, bearer(key));
    std::set<std::string> ids;
    auto j = r.json();
    if (r.status != 200 || !j) {
      ADD_FAILURE() << r.describe();
      return ids;
    }
    for (const auto& image : j->at("images").as_array()) ids.insert(std::string(image.at("id").as_string()));
    return ids;
  }

  static std::string hs256_token(const json::object& claims) { return mint(JWT_ALG_HS256, kJwtSecret, claims); }
};

// ---- point 1: tenants ------------------------------------------------------------

TEST_F(TenantsTest, AnotherTenantsIdIsNotFoundThroughEveryRoute) {
  auto a = upload_as(kAlphaAdmin, make_image(64, 48, 1101), "tags=secret-alpha&name=alpha.png");
  ASSERT_EQ(a.response.status, 201) << a.response.describe();
  const std::string p = "/v1/images/" + a.id;
  const auto beta = bearer(kBetaAdmin);
  const auto beta_json = json_bearer(kBetaAdmin);

  // Transform URLs are signed: the signature is checked before the id, alike for every id.
  for (const std::string& path : {p, signed_url(p + ".webp", {}), signed_url(p, {{"w", "10"}}), p + "/info",
                                  p + "/derivatives", p + "/variants/thumb", signed_url(p + "/explain", {{"w", "10"}})}) {
    auto r = http().get(path, beta);
    EXPECT_TRUE(is_error(r, 404, "not_found")) << path << ": " << r.describe();
  }
  EXPECT_TRUE(is_error(http().request("PATCH", p, R"({"description":"mine"})", beta_json), 404, "not_found"));
  EXPECT_TRUE(is_error(http().request("DELETE", p + "/derivatives", {}, beta), 404, "not_found"));
  EXPECT_TRUE(is_error(http().request("DELETE", p, {}, beta), 404, "not_found"));
  auto transform = http().request("POST", "/v1/transform", R"({"source": {"id": ")" + a.id + R"("}, "params": "w=10"})",
                                  beta_json);
  EXPECT_TRUE(is_error(transform, 404, "not_found")) << transform.describe();
  // References inside a transform: watermark, mask and fallback of another tenant's image.
  auto own = upload_as(kBetaAdmin, make_image(40, 40, 1102));
  ASSERT_EQ(own.response.status, 201);
  const std::string never = "NeverExisted0000000000A";
  for (const std::string name : {"watermark", "mask"}) {
    const std::string prefix = name == "mask" ? "image:" : "";
    auto theirs = http().get(signed_url("/v1/images/" + own.id, {{"w", "20"}, {name, prefix + a.id}}), beta);
    auto nobodys = http().get(signed_url("/v1/images/" + own.id, {{"w", "20"}, {name, prefix + never}}), beta);
    EXPECT_EQ(theirs.status, nobodys.status) << name << ": " << theirs.describe();
    EXPECT_EQ(theirs.status / 100, 4) << name << ": " << theirs.describe();
  }
  auto fallback = http().get(signed_url("/v1/images/nonexistent0000000000000", {{"w", "20"}, {"fallback", a.id}}), beta);
  EXPECT_TRUE(is_error(fallback, 404, "not_found")) << fallback.describe();
  auto job = http().request("POST", "/v1/jobs", R"({"sources": [")" + a.id + R"("], "params": "w=10"})", beta_json);
  EXPECT_EQ(job.status, 400) << job.describe();
  EXPECT_EQ(job.body.find(a.id) != std::string::npos, true) << "the refusal names the id as unknown";

  // The owner still has it, untouched.
  auto mine = http().get(p, bearer(kAlphaAdmin));
  EXPECT_EQ(mine.status, 200) << mine.describe();
  auto info = http().get(p + "/info", bearer(kAlphaAdmin)).json();
  ASSERT_TRUE(info);
  EXPECT_EQ(jstring(*info, "description"), "");
}

TEST_F(TenantsTest, ListsSearchesStatsAndTagsStayInTheTenant) {
  auto a = upload_as(kAlphaAdmin, make_image(30, 30, 1201), "tags=alpha-only&name=findme-alpha.png");
  auto b = upload_as(kBetaAdmin, make_image(30, 30, 1202), "tags=beta-only&name=findme-beta.png");
  ASSERT_EQ(a.response.status, 201);
  ASSERT_EQ(b.response.status, 201);
  auto beta_sees = listed(kBetaAdmin);
  EXPECT_EQ(beta_sees.count(a.id), 0u);
  EXPECT_EQ(beta_sees.count(b.id), 1u);
  EXPECT_TRUE(listed(kBetaAdmin, "&q=findme").count(a.id) == 0);
  EXPECT_TRUE(listed(kBetaAdmin, "&tag=alpha-only").empty());
  EXPECT_EQ(listed(kBetaRead).count(b.id), 1u);

  auto tags = http().get("/v1/tags", bearer(kBetaAdmin));
  ASSERT_EQ(tags.status, 200) << tags.describe();
  EXPECT_EQ(tags.body.find("alpha-only"), std::string::npos) << tags.body;
  EXPECT_NE(tags.body.find(R"({"tag":"beta-only","images":1})"), std::string::npos) << tags.body;

  auto alpha_stats = http().get("/v1/stats", bearer(kAlphaAdmin)).json();
  auto operator_stats = http().get("/v1/stats", bearer(kOperator)).json();
  ASSERT_TRUE(alpha_stats && operator_stats);
  EXPECT_EQ(jint(*alpha_stats, "images"), static_cast<std::int64_t>(listed(kAlphaAdmin).size()));
  EXPECT_GT(jint(*operator_stats, "images"), jint(*alpha_stats, "images"));

  // An operator sees every tenant, or acts as one with X-ProgImage-Tenant.
  auto everyone = listed(kOperator);
  EXPECT_EQ(everyone.count(a.id), 1u);
  EXPECT_EQ(everyone.count(b.id), 1u);
  auto as_beta = http().get("/v1/images?limit=1000", {{"Authorization", "Bearer " + kOperator},
                                                      {"X-ProgImage-Tenant", "beta"}});
  EXPECT_EQ(as_beta.body.find(a.id), std::string::npos);
  EXPECT_NE(as_beta.body.find(b.id), std::string::npos);
  // A tenant's key cannot act for another.
  auto sneaky = http().get("/v1/images", {{"Authorization", "Bearer " + kBetaAdmin}, {"X-ProgImage-Tenant", "alpha"}});
  EXPECT_TRUE(is_error(sneaky, 403, "forbidden")) << sneaky.describe();
}

TEST_F(TenantsTest, DedupeIsNotObservableAcrossTenantsAndSharedBlobsSurviveDeletes) {
  const auto bytes = make_image(50, 50, 1301);
  auto a = upload_as(kAlphaAdmin, bytes);
  ASSERT_EQ(a.response.status, 201);
  auto again = upload_as(kAlphaAdmin, bytes);
  EXPECT_EQ(again.response.status, 200);
  EXPECT_EQ(again.id, a.id);
  EXPECT_TRUE(jfind(again.json, "duplicate")->as_bool());

  auto b = upload_as(kBetaAdmin, bytes);
  ASSERT_EQ(b.response.status, 201) << b.response.describe();
  EXPECT_NE(b.id, a.id);
  EXPECT_FALSE(jfind(b.json, "duplicate")->as_bool());

  // Beta deletes its copy: alpha's bytes are still served, identical.
  EXPECT_EQ(http().request("DELETE", "/v1/images/" + b.id, {}, bearer(kBetaAdmin)).status, 204);
  auto original = http().get("/v1/images/" + a.id, bearer(kAlphaAdmin));
  ASSERT_EQ(original.status, 200);
  EXPECT_EQ(sha256_hex(original.body), sha256_hex(bytes));
  // And beta uploading them once more is new again, not a duplicate of alpha's.
  auto b2 = upload_as(kBetaAdmin, bytes);
  EXPECT_EQ(b2.response.status, 201);
  EXPECT_FALSE(jfind(b2.json, "duplicate")->as_bool());
}

TEST_F(TenantsTest, JobsOfAnotherTenantAreNotFound) {
  auto a = upload_as(kAlphaAdmin, make_image(30, 30, 1401));
  ASSERT_EQ(a.response.status, 201);
  auto job = http().request("POST", "/v1/jobs", R"({"sources": [")" + a.id + R"("], "params": "w=10"})",
                            json_bearer(kAlphaAdmin));
  ASSERT_EQ(job.status, 202) << job.describe();
  const auto id = jstring(*job.json(), "id");
  EXPECT_EQ(http().get("/v1/jobs/" + id, bearer(kAlphaAdmin)).status, 200);
  EXPECT_TRUE(is_error(http().get("/v1/jobs/" + id, bearer(kBetaAdmin)), 404, "not_found"));
  EXPECT_TRUE(is_error(http().get("/v1/jobs/" + id + "/results/0", bearer(kBetaAdmin)), 404, "not_found"));
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/jobs/" + id, {}, bearer(kBetaAdmin)), 404, "not_found"));
  // A job selecting by search takes its own tenant's images only.
  auto search = http().request("POST", "/v1/jobs", R"({"query": {}, "params": "w=10"})", json_bearer(kBetaRead));
  EXPECT_TRUE(is_error(search, 403, "forbidden")) << "a read key makes no jobs: " << search.describe();
}

// ---- point 2: managed keys ----------------------------------------------------------

TEST_F(TenantsTest, ManagedKeysAreShownOnceListedWithoutSecretsAndRevokedAtOnce) {
  auto made = http().request("POST", "/v1/keys", R"({"role": "write", "name": "ci uploader"})", json_bearer(kAlphaAdmin));
  ASSERT_EQ(made.status, 201) << made.describe();
  auto key = *made.json();
  const auto secret = jstring(key, "key");
  const auto id = jstring(key, "id");
  EXPECT_EQ(secret.substr(0, 4), "pik_");
  EXPECT_EQ(jstring(key, "tenant"), "alpha");
  EXPECT_EQ(jstring(key, "role"), "write");
  EXPECT_EQ(jstring(key, "name"), "ci uploader");

  auto up = upload_as(secret, make_image(20, 20, 1501));
  EXPECT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(listed(secret).count(up.id), 1u);

  auto list = http().get("/v1/keys", bearer(kAlphaAdmin));
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(id), std::string::npos);
  EXPECT_EQ(list.body.find(secret), std::string::npos) << "secrets are never listed";
  EXPECT_EQ(http().get("/v1/keys", bearer(kBetaAdmin)).body.find(id), std::string::npos);
  // Beta cannot revoke alpha's key; alpha can, and it stops at once.
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/keys/" + id, {}, bearer(kBetaAdmin)), 404, "not_found"));
  EXPECT_EQ(http().request("DELETE", "/v1/keys/" + id, {}, bearer(kAlphaAdmin)).status, 204);
  EXPECT_TRUE(is_error(http().get("/v1/images", bearer(secret)), 401, "unauthorized"));
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/keys/" + id, {}, bearer(kAlphaAdmin)), 404, "not_found"));
}

TEST_F(TenantsTest, KeysCannotClimbRolesOrTenants) {
  auto read_made = http().request("POST", "/v1/keys", R"({"role": "read"})", json_bearer(kBetaAdmin));
  ASSERT_EQ(read_made.status, 201);
  const auto reader = jstring(*read_made.json(), "key");
  EXPECT_TRUE(is_error(http().request("POST", "/v1/keys", R"({"role": "admin"})", json_bearer(reader)), 403));
  auto other = http().request("POST", "/v1/keys", R"({"role": "read", "tenant": "alpha"})", json_bearer(kBetaAdmin));
  EXPECT_TRUE(is_error(other, 403, "forbidden")) << other.describe();
  auto star = http().request("POST", "/v1/keys", R"({"role": "read", "tenant": "*"})", json_bearer(kBetaAdmin));
  EXPECT_TRUE(is_error(star, 403, "forbidden")) << star.describe();
  // An operator makes keys for any tenant.
  auto gamma = http().request("POST", "/v1/keys", R"({"role": "write", "tenant": "gamma"})", json_bearer(kOperator));
  ASSERT_EQ(gamma.status, 201) << gamma.describe();
  EXPECT_EQ(jstring(*gamma.json(), "tenant"), "gamma");
  for (const char* bad : {R"({"role": "root"})", R"({})", R"({"role": "read", "tenant": "Bad Name"})",
                          R"({"role": "read", "rate_limit": {"per_second": -1}})", R"({"role": "read", "extra": 1})"}) {
    EXPECT_TRUE(is_error(http().request("POST", "/v1/keys", bad, json_bearer(kOperator)), 400, "bad_parameter")) << bad;
  }
}

// ---- point 3: tokens ------------------------------------------------------------------

TEST_F(TenantsTest, Hs256TokensGiveTheirTenantAndRole) {
  const auto token = hs256_token({{"sub", "user-7"}, {"exp", now_seconds() + 300}, {"scope", "read write"},
                                  {"tenant", "alpha"}});
  auto up = upload_raw(http(), make_image(22, 22, 1601), {}, "image/png", bearer(token));
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_EQ(listed(kAlphaAdmin).count(up.id), 1u);
  EXPECT_EQ(listed(kBetaAdmin).count(up.id), 0u);
  EXPECT_TRUE(is_error(http().get("/v1/stats", bearer(token)), 403, "forbidden")) << "write is not admin";
}

TEST_F(TenantsTest, BadTokensAreRefusedWithTheCodeThatSaysWhy) {
  const json::object good{{"exp", now_seconds() + 300}, {"scope", "read"}, {"tenant", "alpha"}};
  auto expect = [](const std::string& token, const char* code, const char* what) {
    auto r = http().get("/v1/images", bearer(token));
    EXPECT_TRUE(is_error(r, 401, code)) << what << ": " << r.describe();
  };
  json::object expired = good;
  expired["exp"] = now_seconds() - 120;  // beyond the 60 s leeway
  expect(hs256_token(expired), "token_expired", "expired");
  json::object early = good;
  early["nbf"] = now_seconds() + 600;
  expect(hs256_token(early), "token_expired", "not yet valid");

  const auto valid = hs256_token(good);
  ASSERT_EQ(http().get("/v1/images", bearer(valid)).status, 200);
  // Tampered payload: the tenant changed, the signature kept.
  const auto first_dot = valid.find('.');
  const auto second_dot = valid.find('.', first_dot + 1);
  json::object beta = good;
  beta["tenant"] = "beta";
  expect(valid.substr(0, first_dot + 1) + b64url_json(beta) + valid.substr(second_dot), "bad_token", "tampered");
  // alg none, with and without a signature.
  const auto none = b64url_json(json::object{{"alg", "none"}, {"typ", "JWT"}}) + "." + b64url_json(good);
  expect(none + ".", "bad_token", "alg none");
  expect(none + "." + valid.substr(second_dot + 1), "bad_token", "alg none with a signature");
  // RS256 with a kid the JWKS lacks; RS256 signed by a key not in the JWKS under its kid.
  const auto& keys = shared_keys();
  expect(mint(JWT_ALG_RS256, keys.rsa2.private_pem, good, "no-such-kid"), "unknown_key", "unknown kid");
  expect(mint(JWT_ALG_RS256, keys.rsa2.private_pem, good, jstring(json::value(keys.rsa1.jwk), "kid")), "bad_token",
         "wrong key for the kid");
  ASSERT_EQ(http().get("/v1/images", bearer(mint(JWT_ALG_RS256, keys.rsa1.private_pem, good,
                                                 jstring(json::value(keys.rsa1.jwk), "kid"))))
                .status,
            200);
  // HS256 "signed" with the RSA public key as the secret (the key-confusion attack).
  expect(hs256_by_hand({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", jstring(json::value(keys.rsa1.jwk), "kid")}}, good,
                       keys.rsa1.public_pem),
         "bad_token", "HS256 with the RSA public key");
  expect(b64url_json(json::object{{"alg", "HS256"}}) + ".bm90IGpzb24." + valid.substr(second_dot + 1), "bad_token",
         "a payload that is not JSON");
}

// ---- point 6: signed URLs that expire ----------------------------------------------------

TEST_F(TenantsTest, SignedUrlsExpire) {
  auto a = upload_as(kAlphaAdmin, make_image(40, 40, 1701));
  ASSERT_EQ(a.response.status, 201);
  const std::string path = "/v1/images/" + a.id;
  auto at = [&](std::int64_t exp) {
    std::vector<std::pair<std::string, std::string>> params{{"w", "20"}, {"exp", std::to_string(exp)}};
    return signed_url(path, params);
  };
  EXPECT_EQ(http().get(at(now_seconds() + 60), bearer(kAlphaAdmin)).status, 200);
  auto old = http().get(at(now_seconds() - 1), bearer(kAlphaAdmin));
  EXPECT_TRUE(is_error(old, 403, "url_expired")) << old.describe();
  // Moving exp without signing again breaks the signature.
  auto url = at(now_seconds() - 1);
  auto moved = url.replace(url.find("exp=") + 4, 1, "9");
  EXPECT_TRUE(is_error(http().get(moved, bearer(kAlphaAdmin)), 403, "bad_signature"));
  EXPECT_TRUE(is_error(http().get(path + "?exp=soon", bearer(kAlphaAdmin)), 400, "bad_parameter"));
}

// The signing helper: `progimage sign` makes what the server accepts, with the
// secret from a flag or from the server's environment variable.
TEST_F(TenantsTest, SignCommandMakesExpiringUrlsTheServerAccepts) {
  auto a = upload_as(kAlphaAdmin, make_image(40, 40, 1702));
  ASSERT_EQ(a.response.status, 201);
  const std::string target = "/v1/images/" + a.id + ".webp?w=24&fit=cover";
  auto sign = [&](std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
    args.insert(args.begin(), {server_binary(), "sign"});
    args.push_back(target);
    auto [status, out] = run_command(args, 10s, env);
    EXPECT_EQ(status, 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  };
  const auto fresh = sign({"--secret", kSigningSecret, "--expires", "1h"});
  ASSERT_NE(fresh.find("&exp="), std::string::npos) << fresh;
  auto ok = http().get(fresh, bearer(kAlphaAdmin));
  EXPECT_EQ(ok.status, 200) << fresh << "\n" << ok.describe();
  EXPECT_EQ(ok.header("Content-Type"), "image/webp");
  const auto from_env = sign({"--expires-at", std::to_string(now_seconds() + 600)},
                             {{"PROGIMAGE_SIGNING_SECRETS", kSigningSecret + ",an-older-secret"}});
  EXPECT_EQ(http().get(from_env, bearer(kAlphaAdmin)).status, 200) << from_env;
  const auto expired = sign({"--secret", kSigningSecret, "--expires-at", std::to_string(now_seconds() - 5)});
  EXPECT_TRUE(is_error(http().get(expired, bearer(kAlphaAdmin)), 403, "url_expired")) << expired;
  // One changed character of the signature, or another secret: refused.
  auto tampered = fresh;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_TRUE(is_error(http().get(tampered, bearer(kAlphaAdmin)), 403, "bad_signature"));
  const auto foreign = sign({"--secret", "some-other-secret", "--expires", "1h"});
  EXPECT_TRUE(is_error(http().get(foreign, bearer(kAlphaAdmin)), 403, "bad_signature"));
  // Without a secret anywhere it says what to do and fails.
  auto [status, out] = run_command({server_binary(), "sign", target}, 10s, {{"PROGIMAGE_SIGNING_SECRETS", ""}});
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("--secret"), std::string::npos) << out;
}

// ---- points 7 and 8: limits and usage ----------------------------------------------------------

TEST_F(TenantsTest, ARateLimitedKeyGets429WithRetryAfter) {
  auto made = http().request("POST", "/v1/keys", R"({"role": "read", "rate_limit": {"per_second": 0.5, "burst": 3}})",
                             json_bearer(kBetaAdmin));
  ASSERT_EQ(made.status, 201) << made.describe();
  const auto key = jstring(*made.json(), "key");
  int ok = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 8; ++i) {
    auto r = http().get("/v1/images?limit=1", bearer(key));
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      EXPECT_TRUE(is_error(r, 429, "rate_limited"));
      retry_after = r.header("Retry-After");
    }
  }
  EXPECT_EQ(ok, 3) << "the burst";
  EXPECT_EQ(limited, 5);
  EXPECT_EQ(retry_after, "2") << "one request per 2 s";
  // Other keys are not slowed by it.
  EXPECT_EQ(http().get("/v1/images?limit=1", bearer(kBetaRead)).status, 200);
}

// Two nodes on one catalog: each admits half of a key's rate and burst, and
// when one stops the other takes the whole again.
TEST(RateLimitsAcrossNodes, EachNodeAdmitsItsShare) {
  Server first({.args = {"--workers", "0", "--api-key", kOperator + ":admin:*"}});
  ASSERT_TRUE(first.start());
  ServerOptions shared{.args = {"--workers", "0", "--api-key", kOperator + ":admin:*"}, .pass_listen_and_data = false};
  Server second(shared);
  second.options().args.insert(second.options().args.end(),
                               {"--listen", "127.0.0.1:0", "--data",
                                first.data_dir().string(), "--catalog", first.catalog_url(), "--storage",
                                first.storage_url()});
  ASSERT_TRUE(second.start());
  auto share_of = [](const Server& s) {
    return metric_sum(parse_metrics(s.http().get("/metrics", bearer(kOperator)).body), "progimage_rate_limit_share");
  };
  auto wait_for_share = [&](const Server& s, double wanted) {
    for (int i = 0; i < 100 && share_of(s) != wanted; ++i) std::this_thread::sleep_for(100ms);
    return share_of(s);
  };
  ASSERT_EQ(wait_for_share(first, 0.5), 0.5) << "the first node did not learn of the second within two beats";
  ASSERT_EQ(wait_for_share(second, 0.5), 0.5);

  auto made = first.http().request("POST", "/v1/keys",
                                   R"({"role": "read", "tenant": "gamma", "rate_limit": {"per_second": 0.1, "burst": 8}})",
                                   json_bearer(kOperator));
  ASSERT_EQ(made.status, 201) << made.describe();
  const auto key = jstring(*made.json(), "key");
  auto admitted = [&key](const Server& s) {
    int ok = 0;
    for (int i = 0; i < 8; ++i) ok += s.http().get("/v1/images?limit=1", bearer(key)).status == 200;
    return ok;
  };
  EXPECT_EQ(admitted(first), 4) << "half of the burst of 8";
  EXPECT_EQ(admitted(second), 4);

  ASSERT_EQ(second.stop(), 0);
  EXPECT_EQ(wait_for_share(first, 1.0), 1.0) << "a stopped node leaves the list";
}

TEST_F(TenantsTest, EachTokenSubjectHasItsOwnRate) {
  auto token_of = [](const std::string& subject) {
    return hs256_token({{"sub", subject}, {"exp", now_seconds() + 300}, {"scope", "read"}, {"tenant", "beta"}});
  };
  const auto busy = token_of("busy-user");
  int ok = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = http().get("/v1/images?limit=1", bearer(busy));
    ok += r.status == 200;
    limited += r.status == 429 && !r.header("Retry-After").empty();
  }
  EXPECT_EQ(ok, 5) << "--token-rate-limit 0.5:5";
  EXPECT_EQ(limited, 3);
  EXPECT_EQ(http().get("/v1/images?limit=1", bearer(token_of("calm-user"))).status, 200) << "another subject";
}

TEST_F(TenantsTest, AQuotaRefusesBeforeStoringAndLeavesNothing) {
  auto first = make_image(60, 60, 1801);
  auto put = http().request("PUT", "/v1/tenants/quota-t/quota", R"({"bytes": 1000000, "images": 1})",
                            json_bearer(kOperator));
  ASSERT_EQ(put.status, 200) << put.describe();
  EXPECT_TRUE(is_error(http().request("PUT", "/v1/tenants/quota-t/quota", R"({"images": 5})", json_bearer(kAlphaAdmin)),
                       403, "forbidden"));
  const Headers as_tenant{{"Authorization", "Bearer " + kOperator}, {"X-ProgImage-Tenant", "quota-t"}};
  auto one = upload_raw(http(), first, {}, "image/png", as_tenant);
  ASSERT_EQ(one.response.status, 201) << one.response.describe();
  const auto second = make_image(61, 61, 1802);
  auto refused = upload_raw(http(), second, {}, "image/png", as_tenant);
  EXPECT_TRUE(is_error(refused.response, 403, "quota_exceeded")) << refused.response.describe();
  if (auto blobs = server().blob_dir()) EXPECT_TRUE(files_with_content(*blobs, sha256_hex(second)).empty());
  auto quota = http().get("/v1/tenants/quota-t/quota", as_tenant).json();
  ASSERT_TRUE(quota);
  EXPECT_EQ(jint(*quota, "images"), 1);
  EXPECT_EQ(jint(*quota, "used.images"), 1);
  EXPECT_EQ(jint(*quota, "used.bytes"), static_cast<std::int64_t>(first.size()));
  // By bytes: a larger limit of images, a byte limit the next upload passes.
  ASSERT_EQ(http().request("PUT", "/v1/tenants/quota-t/quota",
                           R"({"bytes": )" + std::to_string(first.size() + 100) + R"(, "images": 0})",
                           json_bearer(kOperator))
                .status,
            200);
  auto too_big = upload_raw(http(), second, {}, "image/png", as_tenant);
  EXPECT_TRUE(is_error(too_big.response, 403, "quota_exceeded")) << too_big.response.describe();
  EXPECT_TRUE(is_error(http().get("/v1/tenants/quota-t/quota", bearer(kBetaAdmin)), 404, "not_found"));
}

TEST_F(TenantsTest, UsageIsCountedPerTenantAndKey) {
  // A fresh tenant, so the counts are this test's alone.
  auto key_made = http().request("POST", "/v1/keys", R"({"role": "write", "tenant": "usage-t"})", json_bearer(kOperator));
  ASSERT_EQ(key_made.status, 201);
  const auto key = jstring(*key_made.json(), "key");
  const auto key_id = jstring(*key_made.json(), "id");
  const auto bytes = make_image(80, 80, 1901);
  auto up = upload_raw(http(), bytes, {}, "image/png", bearer(key));
  ASSERT_EQ(up.response.status, 201);
  const auto url = signed_url("/v1/images/" + up.id, {{"w", "40"}});
  EXPECT_EQ(http().get(url, bearer(key)).header("X-Cache"), "miss");
  EXPECT_EQ(http().get(url, bearer(key)).header("X-Cache"), "hit");

  auto usage = http().get("/v1/usage", {{"Authorization", "Bearer " + kOperator}, {"X-ProgImage-Tenant", "usage-t"}});
  ASSERT_EQ(usage.status, 200) << usage.describe();
  auto j = *usage.json();
  const auto& tenants = j.at("tenants").as_array();
  ASSERT_EQ(tenants.size(), 1u) << usage.body;
  EXPECT_EQ(jstring(tenants[0], "tenant"), "usage-t");
  const auto& day = tenants[0].at("days").as_array().back();
  EXPECT_EQ(jint(day, "requests"), 3);
  EXPECT_EQ(jint(day, "uploads"), 1);
  EXPECT_EQ(jint(day, "transforms"), 1);
  EXPECT_EQ(jint(day, "cache_hits"), 1);
  EXPECT_EQ(jint(day, "cache_misses"), 1);
  EXPECT_GE(jint(day, "bytes_in"), static_cast<std::int64_t>(bytes.size()));
  EXPECT_GT(jint(day, "bytes_out"), 0);
  EXPECT_EQ(jint(day, "stored_bytes"), static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(jint(day, "stored_images"), 1);
  const auto& keys = j.at("keys").as_array();
  ASSERT_EQ(keys.size(), 1u) << usage.body;
  EXPECT_EQ(jstring(keys[0], "key"), key_id);
  // The key reads its own, and only its own.
  auto self = http().get("/v1/usage?key=self", bearer(key));
  EXPECT_EQ(self.status, 200) << self.describe();
  EXPECT_TRUE(is_error(http().get("/v1/usage", bearer(key)), 403, "forbidden"));
  EXPECT_EQ(http().get("/v1/usage", bearer(kBetaAdmin)).body.find("usage-t"), std::string::npos);
  // Its last use shows in the listing after the flush.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto listing = http().get("/v1/keys", {{"Authorization", "Bearer " + kOperator}, {"X-ProgImage-Tenant", "usage-t"}});
  auto listed_keys = listing.json()->at("keys").as_array();
  ASSERT_EQ(listed_keys.size(), 1u);
  EXPECT_FALSE(listed_keys[0].at("last_used_at").is_null()) << listing.body;
}

}  // namespace
}  // namespace progimage::contract
