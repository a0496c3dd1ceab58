#include "core/hash.hpp"
#include "core/id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

using namespace progimage::core;

TEST(Hash, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("a");
  h.update("bc");
  EXPECT_EQ(h.hex_digest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, HmacRfc4231Case2) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hash, Base64RoundTripsAllAlphabets) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
    EXPECT_EQ(base64_decode(base64_encode(s, true, false)), s);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Zm8=x"));
  EXPECT_FALSE(base64_decode("Z"));
}

TEST(Hash, SecureEquals) {
  EXPECT_TRUE(secure_equals("abc", "abc"));
  EXPECT_FALSE(secure_equals("abc", "abd"));
  EXPECT_FALSE(secure_equals("abc", "ab"));
}

TEST(Id, UniqueAndUrlSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = new_id();
    EXPECT_EQ(id.size(), 22u);
    EXPECT_TRUE(looks_like_id(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(looks_like_id("../etc/passwd"));
  EXPECT_FALSE(looks_like_id(""));
}

TEST(Id, RequestIdsAreUniqueAcrossThreads) {
  std::vector<std::string> a, b;
  std::thread t([&] {
    for (int i = 0; i < 5000; ++i) a.push_back(new_request_id());
  });
  for (int i = 0; i < 5000; ++i) b.push_back(new_request_id());
  t.join();
  std::set<std::string> seen(a.begin(), a.end());
  seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 10000u);
  for (const auto& id : {a.front(), a.back(), b.back()}) {
    EXPECT_EQ(id.size(), 22u);
    EXPECT_TRUE(looks_like_id(id));
  }
}

TEST(Hex64, ParsesSixteenDigitsInEitherCase) {
  EXPECT_EQ(parse_hex64("ffd8a0000000000f"), 0xffd8a0000000000fULL);
  EXPECT_EQ(parse_hex64("FFD8A0000000000F"), 0xffd8a0000000000fULL);
  EXPECT_EQ(parse_hex64("0000000000000000"), 0u);
  EXPECT_FALSE(parse_hex64(""));
  EXPECT_FALSE(parse_hex64("ffd8a0000000000"));
  EXPECT_FALSE(parse_hex64("ffd8a0000000000f0"));
  EXPECT_FALSE(parse_hex64("ffd8a000000000g0"));
  EXPECT_FALSE(parse_hex64("+fd8a0000000000f"));
}
