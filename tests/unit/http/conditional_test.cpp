// If-None-Match and Range (RFC 9110 §13.1.2 and §14) as the image routes read them.
#include "http/conditional.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace progimage::http {
namespace {

using service::ByteRange;

constexpr std::string_view kTag = "\"3f2a9c\"";

// ---- If-None-Match --------------------------------------------------------------

TEST(EtagMatches, TheSameStrongTagMatches) {
  EXPECT_TRUE(etag_matches("\"3f2a9c\"", kTag));
  EXPECT_FALSE(etag_matches("\"3f2a9d\"", kTag));
  EXPECT_FALSE(etag_matches("\"3f2a9c0\"", kTag)) << "a longer tag is another tag";
  EXPECT_FALSE(etag_matches("\"3f2a9\"", kTag));
}

TEST(EtagMatches, AWeakTagMatchesItsStrongTwin) {
  // If-None-Match uses the weak comparison: W/"x" and "x" are the same.
  EXPECT_TRUE(etag_matches("W/\"3f2a9c\"", kTag));
  EXPECT_FALSE(etag_matches("W/\"other\"", kTag));
  // The weak indicator is case-sensitive ("W/", RFC 9110 §8.8.3).
  EXPECT_FALSE(etag_matches("w/\"3f2a9c\"", kTag));
}

TEST(EtagMatches, EntityTagsAreCaseSensitiveAndQuoted) {
  EXPECT_FALSE(etag_matches("\"3F2A9C\"", kTag));
  EXPECT_FALSE(etag_matches("3f2a9c", kTag)) << "an unquoted value is not the tag";
  EXPECT_FALSE(etag_matches("\"3f2a9c", kTag));
}

TEST(EtagMatches, AnyTagOfAListMatches) {
  EXPECT_TRUE(etag_matches("\"a\", \"3f2a9c\"", kTag));
  EXPECT_TRUE(etag_matches("\"3f2a9c\",\"a\"", kTag));
  EXPECT_TRUE(etag_matches("\"a\",W/\"3f2a9c\" , \"b\"", kTag));
  EXPECT_TRUE(etag_matches("\"a\",\t\"3f2a9c\"\t", kTag));
  EXPECT_FALSE(etag_matches("\"a\", \"b\", W/\"c\"", kTag));
  EXPECT_FALSE(etag_matches("\"a\",,\"b\",", kTag)) << "empty list elements are skipped";
  EXPECT_TRUE(etag_matches(",\"3f2a9c\",", kTag));
}

TEST(EtagMatches, StarMatchesEveryTag) {
  EXPECT_TRUE(etag_matches("*", kTag));
  EXPECT_TRUE(etag_matches(" * ", kTag));
  EXPECT_TRUE(etag_matches("*", "\"anything\""));
}

TEST(EtagMatches, AnEmptyOrBlankHeaderMatchesNothing) {
  EXPECT_FALSE(etag_matches("", kTag));
  EXPECT_FALSE(etag_matches("  ", kTag));
  EXPECT_FALSE(etag_matches(",", kTag));
}

// ---- Range ------------------------------------------------------------------

/// The range the header selects of a 10-byte body, or a test failure.
ByteRange range_of(std::string_view header, std::uint64_t size = 10) {
  auto r = parse_range(header, size);
  EXPECT_FALSE(r.unsatisfiable) << header;
  EXPECT_TRUE(r.range.has_value()) << header;
  return r.range.value_or(ByteRange{~0ULL, ~0ULL});
}

::testing::AssertionResult whole_body(std::string_view header, std::uint64_t size = 10) {
  auto r = parse_range(header, size);
  if (r.unsatisfiable) return ::testing::AssertionFailure() << "'" << header << "' is unsatisfiable";
  if (r.range)
    return ::testing::AssertionFailure() << "'" << header << "' selects " << r.range->first << "-" << r.range->last;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult unsatisfiable(std::string_view header, std::uint64_t size = 10) {
  auto r = parse_range(header, size);
  if (r.range)
    return ::testing::AssertionFailure() << "'" << header << "' selects " << r.range->first << "-" << r.range->last;
  if (!r.unsatisfiable) return ::testing::AssertionFailure() << "'" << header << "' means the whole body";
  return ::testing::AssertionSuccess();
}

TEST(ParseRange, FirstAndLastAreInclusive) {
  EXPECT_EQ(range_of("bytes=0-0"), (ByteRange{0, 0}));
  EXPECT_EQ(range_of("bytes=0-0").length(), 1u);
  EXPECT_EQ(range_of("bytes=2-5"), (ByteRange{2, 5}));
  EXPECT_EQ(range_of("bytes=2-5").length(), 4u);
  EXPECT_EQ(range_of("bytes=0-9"), (ByteRange{0, 9}));
  EXPECT_EQ(range_of("bytes=9-9"), (ByteRange{9, 9}));
}

TEST(ParseRange, AnOpenEndRunsToTheLastByte) {
  EXPECT_EQ(range_of("bytes=5-"), (ByteRange{5, 9}));
  EXPECT_EQ(range_of("bytes=0-"), (ByteRange{0, 9}));
  EXPECT_EQ(range_of("bytes=9-"), (ByteRange{9, 9}));
}

TEST(ParseRange, ASuffixIsTheLastBytes) {
  EXPECT_EQ(range_of("bytes=-3"), (ByteRange{7, 9}));
  EXPECT_EQ(range_of("bytes=-1"), (ByteRange{9, 9}));
  EXPECT_EQ(range_of("bytes=-10"), (ByteRange{0, 9}));
}

TEST(ParseRange, ASuffixLargerThanTheBodyIsTheWholeBody) {
  EXPECT_EQ(range_of("bytes=-11"), (ByteRange{0, 9}));
  EXPECT_EQ(range_of("bytes=-1000000"), (ByteRange{0, 9}));
}

TEST(ParseRange, AnEndPastTheBodyIsClamped) {
  EXPECT_EQ(range_of("bytes=0-10"), (ByteRange{0, 9}));
  EXPECT_EQ(range_of("bytes=4-99999"), (ByteRange{4, 9}));
  EXPECT_EQ(range_of("bytes=3-18446744073709551615"), (ByteRange{3, 9}));
}

TEST(ParseRange, AStartPastTheEndIsUnsatisfiable) {
  EXPECT_TRUE(unsatisfiable("bytes=10-"));
  EXPECT_TRUE(unsatisfiable("bytes=10-12"));
  EXPECT_TRUE(unsatisfiable("bytes=500-600"));
}

TEST(ParseRange, AnEmptySuffixIsUnsatisfiable) {
  EXPECT_TRUE(unsatisfiable("bytes=-0"));
  EXPECT_TRUE(unsatisfiable("bytes=-00"));
}

TEST(ParseRange, EveryRangeOfAnEmptyBodyIsUnsatisfiable) {
  EXPECT_TRUE(unsatisfiable("bytes=0-", 0));
  EXPECT_TRUE(unsatisfiable("bytes=0-0", 0));
  EXPECT_TRUE(unsatisfiable("bytes=-5", 0));
  EXPECT_TRUE(whole_body("", 0));
}

TEST(ParseRange, NoHeaderIsTheWholeBody) {
  EXPECT_TRUE(whole_body(""));
  EXPECT_TRUE(whole_body("   "));
}

TEST(ParseRange, SeveralRangesAreServedWhole) {
  // Multipart/byteranges is not offered; ignoring Range is allowed (§14.2).
  EXPECT_TRUE(whole_body("bytes=0-1,4-5"));
  EXPECT_TRUE(whole_body("bytes=0-1, -2"));
  EXPECT_TRUE(whole_body("bytes=20-30,40-50")) << "not even unsatisfiable: the header is ignored";
}

TEST(ParseRange, OtherUnitsAreServedWhole) {
  EXPECT_TRUE(whole_body("items=0-1"));
  EXPECT_TRUE(whole_body("bytes 0-1"));
  EXPECT_TRUE(whole_body("none"));
}

TEST(ParseRange, MalformedRangesAreServedWhole) {
  for (const char* header : {"bytes=", "bytes=-", "bytes=5", "bytes=abc", "bytes=a-b", "bytes=1-b", "bytes=a-3",
                             "bytes=+1-2", "bytes=1-+2", "bytes=-1-2", "bytes=--3", "bytes=0x1-2", "bytes=1.5-2",
                             "bytes=-3a", "bytes=5-2", "bytes=99999999999999999999-", "bytes=-99999999999999999999"})
    EXPECT_TRUE(whole_body(header)) << header;
}

TEST(ParseRange, WhitespaceAroundTheValueIsIgnored) {
  EXPECT_EQ(range_of(" bytes=2-5 "), (ByteRange{2, 5}));
  EXPECT_EQ(range_of("\tbytes=5-\t"), (ByteRange{5, 9}));
  EXPECT_EQ(range_of("bytes=-3  "), (ByteRange{7, 9}));
}

TEST(ParseRange, LargeBodies) {
  constexpr std::uint64_t big = 5ULL << 30;  // past 32 bits
  auto r = parse_range("bytes=4294967296-", big);
  ASSERT_TRUE(r.range);
  EXPECT_EQ(*r.range, (ByteRange{4294967296ULL, big - 1}));
  r = parse_range("bytes=-1", big);
  ASSERT_TRUE(r.range);
  EXPECT_EQ(*r.range, (ByteRange{big - 1, big - 1}));
  EXPECT_TRUE(unsatisfiable("bytes=18446744073709551615-", big));
}

}  // namespace
}  // namespace progimage::http
