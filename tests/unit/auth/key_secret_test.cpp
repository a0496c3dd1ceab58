#include "auth/key_secret.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace progimage::auth;

namespace {
bool base62(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
}  // namespace

TEST(KeySecret, HasThePrefixAndAtLeast128RandomBits) {
  const auto secret = new_key_secret();
  ASSERT_TRUE(secret.starts_with(kKeySecretPrefix)) << secret;
  const auto body = secret.substr(kKeySecretPrefix.size());
  EXPECT_TRUE(std::all_of(body.begin(), body.end(), base62)) << secret;
  // log2(62) ≈ 5.95 bits a character: 22 characters are 131 bits.
  EXPECT_GE(body.size(), 22u);
  EXPECT_EQ(secret.size(), 48u);
}

TEST(KeySecret, NewSecretsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(new_key_secret());
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(KeySecret, HashIsStableHexAndDiffersBetweenSecrets) {
  const auto a = new_key_secret();
  const auto b = new_key_secret();
  EXPECT_EQ(key_hash(a), key_hash(a));
  EXPECT_NE(key_hash(a), key_hash(b));
  EXPECT_EQ(key_hash(a).size(), 64u);
  EXPECT_EQ(key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(key_hash(a).find(a.substr(4)), std::string::npos);  // no part of the secret in it
}

TEST(KeySecret, PrefixShowsTheFirstCharactersOnly) {
  const auto secret = new_key_secret();
  EXPECT_EQ(key_prefix(secret), secret.substr(0, kKeyPrefixLength));
  EXPECT_EQ(key_prefix(secret).size(), 12u);
  EXPECT_EQ(key_prefix("pik_ab"), "pik_ab");
}

TEST(KeySecret, MatchesOnlyItsOwnHash) {
  const auto secret = new_key_secret();
  const auto stored = key_hash(secret);
  EXPECT_TRUE(key_matches(secret, stored));
  EXPECT_FALSE(key_matches(new_key_secret(), stored));
  EXPECT_FALSE(key_matches(secret, stored.substr(1)));
  EXPECT_FALSE(key_matches(secret, ""));
}
