// Authenticator (configured keys, managed keys through a lookup, JWTs) and
// RateLimiter (token buckets, a node's share of a limit).
#include <gtest/gtest.h>

#include "auth/authenticator.hpp"
#include "auth/key_secret.hpp"
#include "auth/rate_limiter.hpp"
#include "core/error.hpp"

using namespace progimage;
using namespace progimage::auth;

namespace {

const std::string kSecret = "hs256-secret-of-at-least-thirty-two-bytes";

TEST(Authenticator, OpenOnlyWhileNothingIsConfiguredAndNoKeyWasMade) {
  Authenticator open({}, {}, {}, false);
  EXPECT_TRUE(open.open());
  open.key_created();
  EXPECT_FALSE(open.open());
  EXPECT_FALSE(Authenticator({}, {}, {}, true).open());
  EXPECT_FALSE(Authenticator({{"k", core::Role::read, "default"}}, {}, {}, false).open());
  EXPECT_FALSE(Authenticator({}, TokenOptions{.hs256_secrets = {kSecret}}, {}, false).open());
}

TEST(Authenticator, ConfiguredKeysCarryTheirTenantAndAnIdThatIsNotTheSecret) {
  Authenticator a({{"alpha-key", core::Role::write, "alpha"}, {"op-key", core::Role::admin, "*"}}, {}, {}, false);
  auto who = a.identify("alpha-key");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->tenant, "alpha");
  EXPECT_EQ(who->role, core::Role::write);
  EXPECT_EQ(who->key_id, configured_key_id("alpha-key"));
  EXPECT_EQ(who->key_id.find("alpha-key"), std::string::npos);
  EXPECT_FALSE(who->all_tenants());
  EXPECT_TRUE(a.identify("op-key")->all_tenants());
  EXPECT_FALSE(a.identify("alpha-kez"));
  EXPECT_FALSE(a.identify(""));
}

TEST(Authenticator, ManagedKeysAreLookedUpByHashAndForgottenOnRevocation) {
  const auto secret = new_key_secret();
  int lookups = 0;
  bool revoked = false;
  Authenticator a(
      {}, {},
      [&](const std::string& hash) -> std::optional<Principal> {
        ++lookups;
        if (revoked || hash != key_hash(secret)) return std::nullopt;
        return Principal{"beta", core::Role::read, "key_1", {}, RateLimit{5, 10}};
      },
      true);
  auto who = a.identify(secret);
  ASSERT_TRUE(who);
  EXPECT_EQ(who->tenant, "beta");
  EXPECT_EQ(who->rate->burst, 10);
  EXPECT_TRUE(a.identify(secret));
  EXPECT_EQ(lookups, 1) << "remembered for a moment";
  revoked = true;
  a.forget("key_1");
  EXPECT_FALSE(a.identify(secret)) << "revoked here: refused at once";
  // Only secrets of the managed shape are looked up.
  EXPECT_FALSE(a.identify("some-other-credential"));
  EXPECT_EQ(lookups, 2);
}

TEST(Authenticator, TokensGoToTheVerifierAndTheirErrorsComeThrough) {
  Authenticator a({}, TokenOptions{.hs256_secrets = {kSecret}}, {}, false);
  try {
    a.identify("eyJhbGciOiJub25lIn0.eyJleHAiOjF9.");
    ADD_FAILURE() << "alg none accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_token);
  }
}

TEST(Principal, ScopeOfOperatorsAndTenants) {
  Principal tenant{"alpha", core::Role::admin, "k", {}, {}};
  EXPECT_EQ(tenant.scope().tenant, "alpha");
  EXPECT_FALSE(tenant.scope().all_tenants);
  Principal op = open_server_principal();
  EXPECT_TRUE(op.scope().all_tenants);
  EXPECT_EQ(op.scope().tenant, "default");
  EXPECT_FALSE(op.scope("beta").all_tenants);
  EXPECT_EQ(op.scope("beta").tenant, "beta");
  Principal token{"alpha", core::Role::read, "jwt:kid1", "user-9", {}};
  EXPECT_EQ(token.client_id(), "jwt:kid1:user-9");
}

TEST(RateLimiter, BurstThenTheRateAndRetryAfter) {
  RateLimiter limiter;
  const auto t0 = RateLimiter::Clock::now();
  const RateLimit limit{2, 3};  // 2 per second, 3 at once
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.admit("c", limit, t0), 0) << i;
  EXPECT_EQ(limiter.admit("c", limit, t0), 1);
  EXPECT_EQ(limiter.admit("c", limit, t0 + std::chrono::milliseconds(500)), 0) << "one refilled";
  EXPECT_EQ(limiter.admit("c", limit, t0 + std::chrono::milliseconds(500)), 1);
  EXPECT_EQ(limiter.admit("other", limit, t0), 0) << "buckets are per client";
  // Slow rates say how long to wait.
  EXPECT_EQ(limiter.admit("slow", {0.1, 1}, t0), 0);
  EXPECT_EQ(limiter.admit("slow", {0.1, 1}, t0), 10);
}

TEST(RateLimiter, ANodeEnforcesItsShare) {
  RateLimiter limiter;
  limiter.set_share(0.5);  // two nodes
  const auto t0 = RateLimiter::Clock::now();
  const RateLimit limit{10, 10};
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += limiter.admit("c", limit, t0) == 0;
  EXPECT_EQ(admitted, 5);
  // Never less than one request of burst.
  limiter.set_share(0.01);
  EXPECT_EQ(limiter.admit("d", {10, 10}, t0), 0);
}

}  // namespace
