#include "core/tags.hpp"

#include <gtest/gtest.h>

using namespace progimage::core;
using Tags = std::vector<std::string>;

TEST(NormalizeTag, LowersAndTrimsOneTagAndKeepsItsLength) {
  EXPECT_EQ(normalize_tag("  Été\tEN Mer\n"), "été en mer");
  EXPECT_EQ(normalize_tag(" \x01 "), "");
  EXPECT_EQ(normalize_tag(std::string(150, 'A')), std::string(150, 'a'));  // the list drops it, not this
}

TEST(NormalizeTags, TrimsLowersDeduplicatesAndSorts) {
  Tags in = {" Beach", "sunset ", "BEACH", "", "   ", "\tsea\n", "Été", "a b"};
  EXPECT_EQ(normalize_tags(in), (Tags{"a b", "beach", "sea", "sunset", "été"}));
  EXPECT_TRUE(normalize_tags({}).empty());
}

TEST(NormalizeTags, LowerCasesBeyondAscii) {
  EXPECT_EQ(normalize_tags({"ÉTÉ", "été", "ΣΟΦΙΑ", "Москва"}), (Tags{"été", "σοφια", "москва"}));
  // Invalid UTF-8 passes through unchanged rather than failing.
  EXPECT_EQ(normalize_tags({"A\xff\xc3"}), Tags{"a\xff\xc3"});
}

TEST(NormalizeTags, ControlCharactersAreBlanks) {
  EXPECT_EQ(normalize_tags({"\v\fsea\r", "a\tb", "x\x7f", "\x01\x02"}), (Tags{"a b", "sea", "x"}));
}

TEST(NormalizeTags, DropsTagsOverAHundredBytes) {
  const std::string hundred(kMaxTagBytes, 'a');
  EXPECT_EQ(normalize_tags({hundred, hundred + "b", "  " + hundred + "  "}), Tags{hundred});
  // Bytes, not characters: 51 two-byte letters are 102 bytes.
  std::string long_utf8;
  for (int i = 0; i < 51; ++i) long_utf8 += "é";
  EXPECT_TRUE(normalize_tags({long_utf8}).empty());
}

TEST(Hashtags, TakesTheWordsAfterAHash) {
  EXPECT_EQ(hashtags("A day at the #beach, #Sun_set and #sea-side!"), (Tags{"beach", "Sun_set", "sea-side"}));
  EXPECT_EQ(hashtags("#first words"), Tags{"first"});
  EXPECT_EQ(hashtags("(#paren) #été #日本"), (Tags{"paren", "été", "日本"}));
  EXPECT_EQ(hashtags("#a#b"), Tags{"a"});  // the second '#' ends the word but follows a letter
  EXPECT_TRUE(hashtags("").empty());
  EXPECT_TRUE(hashtags("no tags here").empty());
}

TEST(Hashtags, IgnoresHashesInsideWordsAndEntities) {
  EXPECT_TRUE(hashtags("C# and a#b").empty());
  EXPECT_TRUE(hashtags("&#35; &#x23;").empty());
  EXPECT_TRUE(hashtags("# ## #!").empty());
  EXPECT_EQ(hashtags("_#tag -#tag2"), (Tags{"tag", "tag2"}));  // '_' and '-' are not letters
}

TEST(Hashtags, NormalisedWithTheOtherTags) {
  Tags tags = {"Beach"};
  for (auto& h : hashtags("#BEACH at #Night")) tags.push_back(h);
  EXPECT_EQ(normalize_tags(tags), (Tags{"beach", "night"}));
}
