#include "ops/sign.hpp"

#include <gtest/gtest.h>

using namespace progimage::ops;

// Known answers made independently with OpenSSL's command line, e.g.
//   printf '%s' '/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp?fit=cover&h=300&w=300' |
//     openssl dgst -sha256 -hmac 'topsecret' -binary | base64 | tr '+/' '-_' | tr -d '='
TEST(Sign, KnownAnswers) {
  const std::string path = "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp";
  QueryParams params = {{"w", "300"}, {"h", "300"}, {"fit", "cover"}};
  EXPECT_EQ(signing_message(path, params), path + "?fit=cover&h=300&w=300");
  EXPECT_EQ(sign_url("topsecret", path, params), "CdAick1KCB_HpSpNVXoXcdnDNXWSxcft3HokmZkLhmY");

  // Encoding and ordering: same key sorted by value, reserved characters
  // escaped with upper-case hex, sig left out. Message:
  //   /v1/images/4Jb1mX0cQe9T2vK7pLw8Aa?bg=%23ff0000&tags=a%20b&tags=a%2Cc&w=100
  QueryParams odd = {{"w", "100"}, {"tags", "a,c"}, {"sig", "ignored"}, {"bg", "#ff0000"}, {"tags", "a b"}};
  EXPECT_EQ(signing_query(odd), "bg=%23ff0000&tags=a%20b&tags=a%2Cc&w=100");
  EXPECT_EQ(sign_url("topsecret", "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa", odd),
            "5_OmlTdsUHdmTCq2oWxFXKhqbdv43IZt7GkR7M99900");

  // No parameters: the message still ends in '?'.
  EXPECT_EQ(sign_url("k2", "/v1/images/abc", {}), "wPIqTtgqKpMNhbqhkpw8OY7Frr9usb5fV3g8M0TC60E");
}

TEST(Sign, UnreservedCharactersStayAsTheyAre) {
  EXPECT_EQ(signing_query({{"k", "AZaz09-._~"}, {"e", "\xc3\xa9/?&=+"}}), "e=%C3%A9%2F%3F%26%3D%2B&k=AZaz09-._~");
}

TEST(Sign, VerifyAcceptsAnyActiveSecret) {
  const std::string path = "/v1/images/abc.png";
  QueryParams params = {{"w", "10"}, {"blur", "2"}};
  params.emplace_back("sig", sign_url("old", path, params));
  EXPECT_TRUE(verify_signature({"old"}, path, params));
  EXPECT_TRUE(verify_signature({"new", "old"}, path, params));  // during a rotation
  EXPECT_FALSE(verify_signature({"new"}, path, params));
  EXPECT_FALSE(verify_signature({}, path, params));
  EXPECT_FALSE(verify_signature({""}, path, {{"sig", sign_url("", path, {})}}));  // empty secrets never sign

  // Order of parameters does not matter, sig may be anywhere.
  QueryParams reordered = {params[2], params[1], params[0]};
  EXPECT_TRUE(verify_signature({"old"}, path, reordered));
}

TEST(Sign, VerifyRejectsTampering) {
  const std::string path = "/v1/images/abc.png";
  QueryParams params = {{"w", "10"}};
  std::string sig = sign_url("s", path, params);
  EXPECT_TRUE(verify_signature({"s"}, path, {{"w", "10"}, {"sig", sig}}));
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "11"}, {"sig", sig}}));            // changed value
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "10"}, {"h", "5"}, {"sig", sig}}));  // added parameter
  EXPECT_FALSE(verify_signature({"s"}, path, {{"sig", sig}}));                          // removed parameter
  EXPECT_FALSE(verify_signature({"s"}, "/v1/images/abd.png", {{"w", "10"}, {"sig", sig}}));  // other image
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "10"}}));                          // no sig
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "10"}, {"sig", sig + "="}}));      // padded
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "10"}, {"sig", sig}, {"sig", sig}}));  // two sigs
  std::string flipped = sig;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_signature({"s"}, path, {{"w", "10"}, {"sig", flipped}}));
}

TEST(Sign, EmptyQueryComponentsAreNotSigned) {
  // The server splits queries with split_query: a stray '&' neither changes the
  // message nor breaks a signature made without it.
  const std::string path = "/v1/images/abc.webp";
  const std::string sig = sign_url("s", path, {{"w", "40"}, {"fit", "cover"}});
  for (std::string query : {"w=40&fit=cover&sig=", "w=40&&fit=cover&sig=", "&w=40&fit=cover&&sig="}) {
    query += sig + "&";
    EXPECT_TRUE(verify_signature({"s"}, path, split_query(query))) << query;
    EXPECT_EQ(signing_message(path, split_query(query)), path + "?fit=cover&w=40") << query;
  }
  EXPECT_TRUE(verify_signature({"s"}, path, split_query("&sig=" + sign_url("s", path, {}) + "&")));
}

// Known answers from OpenSSL's command line as above, message
// "/v1/images/abc.webp?exp=1700000000&w=300" and "/v1/images/abc?exp=42".
TEST(Sign, SignedQueryAppendsTheExpiryInsideTheSignature) {
  EXPECT_EQ(signed_query("topsecret", "/v1/images/abc.webp", "w=300", 1700000000),
            "w=300&exp=1700000000&sig=evzGBUWuTIjPpmDRzaHUXDWa-mzAbcbfUeJZfliOFVE");
  EXPECT_EQ(signed_query("topsecret", "/v1/images/abc", "", 42), "exp=42&sig=UGIN7Zqm6ZMibDT_7lkloHSrcWag9i7i6pAdU80orkY");
  // Without an expiry: the query as given, then its signature; it verifies.
  const std::string q = signed_query("k", "/v1/images/abc.png", "w=10&bg=%23ff0000");
  EXPECT_EQ(q.rfind("w=10&bg=%23ff0000&sig=", 0), 0u) << q;
  EXPECT_TRUE(verify_signature({"k"}, "/v1/images/abc.png", split_query(q)));
  EXPECT_FALSE(verify_signature({"k"}, "/v1/images/abc.jpg", split_query(q)));
}
