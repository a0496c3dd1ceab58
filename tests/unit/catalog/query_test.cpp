#include "catalog/query.hpp"

#include <gtest/gtest.h>

#include "core/hash.hpp"

using namespace progimage::catalog;

TEST(NormalizeTags, TrimsLowersDeduplicatesAndSorts) {
  std::vector<std::string> in = {" Beach", "sunset ", "BEACH", "", "   ", "\tsea\n", "Été", "a b"};
  std::vector<std::string> expected = {"a b", "beach", "sea", "sunset", "été"};
  EXPECT_EQ(normalize_tags(in), expected);
  EXPECT_TRUE(normalize_tags({}).empty());
  EXPECT_EQ(normalize_tags({"ÉTÉ", "été", "ΣΟΦΙΑ", "Москва"}),
            (std::vector<std::string>{"été", "σοφια", "москва"}));
  // Invalid UTF-8 passes through unchanged rather than failing.
  EXPECT_EQ(normalize_tags({"A\xff\xc3"}), std::vector<std::string>{"a\xff\xc3"});
}

TEST(Cursor, RoundTrips) {
  for (CursorPosition p : {CursorPosition{0, "a"}, CursorPosition{1700000000, "4Jb1mX0cQe9T2vK7pLw8Aa"},
                           CursorPosition{-5, "x:y"}}) {
    auto text = encode_cursor(p);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << "URL-safe: " << text;
    auto back = decode_cursor(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->created_at, p.created_at);
    EXPECT_EQ(back->id, p.id);
  }
}

TEST(Cursor, RefusesGarbage) {
  using progimage::core::base64_encode;
  for (std::string bad : {std::string(""), std::string("!!!"), base64_encode("nocolon"), base64_encode(":id"),
                          base64_encode("12:"), base64_encode("12x:id"), base64_encode("99999999999999999999:id")}) {
    EXPECT_FALSE(decode_cursor(bad)) << bad;
  }
}

TEST(ClampLimit, KeepsOneToAThousand) {
  EXPECT_EQ(clamp_limit(0), 1);
  EXPECT_EQ(clamp_limit(-3), 1);
  EXPECT_EQ(clamp_limit(50), 50);
  EXPECT_EQ(clamp_limit(1000), 1000);
  EXPECT_EQ(clamp_limit(1001), 1000);
}
