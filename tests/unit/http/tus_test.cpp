// The tus 1.0 framing: versions, sizes, Upload-Metadata, HTTP dates.
#include "http/tus.hpp"

#include <gtest/gtest.h>

using namespace progimage::http::tus;

TEST(TusVersion, OnlyOneZeroZeroIsSpoken) {
  EXPECT_TRUE(is_supported_version("1.0.0"));
  EXPECT_TRUE(is_supported_version(" 1.0.0 "));
  EXPECT_FALSE(is_supported_version(""));
  EXPECT_FALSE(is_supported_version("0.2.2"));
  EXPECT_FALSE(is_supported_version("1.0"));
  EXPECT_FALSE(is_supported_version("1.0.0,0.2.2"));
}

TEST(TusSize, DigitsOnly) {
  EXPECT_EQ(parse_size("0"), 0);
  EXPECT_EQ(parse_size("70"), 70);
  EXPECT_EQ(parse_size("5000000000"), 5'000'000'000);
  EXPECT_EQ(parse_size("999999999999999999"), 999'999'999'999'999'999);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5", "0x10", "1e3", "abc", "1234567890123456789"})
    EXPECT_FALSE(parse_size(bad)) << "\"" << bad << "\"";
}

TEST(TusMetadata, PairsDecodeFromBase64) {
  // The example of the protocol: a value and a key without one.
  auto r = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_EQ(r.pairs[0], (MetadataPair{"filename", "world_domination_plan.pdf"}));
  EXPECT_EQ(r.pairs[1], (MetadataPair{"is_confidential", ""}));
  EXPECT_EQ(metadata_value(r.pairs, "filename"), "world_domination_plan.pdf");
  EXPECT_EQ(metadata_value(r.pairs, "is_confidential"), "");
  EXPECT_FALSE(metadata_value(r.pairs, "tags"));
}

TEST(TusMetadata, BlanksAndEmptyItemsAreIgnored) {
  auto r = parse_metadata(" tags YSxi , ,filename  cC5qcGc=,");
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.pairs.size(), 2u);
  EXPECT_EQ(r.pairs[0], (MetadataPair{"tags", "a,b"}));
  EXPECT_EQ(r.pairs[1], (MetadataPair{"filename", "p.jpg"}));
  EXPECT_TRUE(parse_metadata("").pairs.empty());
  EXPECT_EQ(parse_metadata("").error, "");
  // Unpadded and URL-safe base64 are taken too.
  EXPECT_EQ(parse_metadata("k cC5qcGc").pairs.at(0).value, "p.jpg");
  EXPECT_EQ(parse_metadata("k _-8").pairs.at(0).value, "\xff\xef");
}

TEST(TusMetadata, MalformedHeadersSayWhy) {
  EXPECT_NE(parse_metadata("filename not*base64").error.find("not base64"), std::string::npos);
  EXPECT_NE(parse_metadata("filename YQ== YQ==").error.find("not base64"), std::string::npos);
  EXPECT_NE(parse_metadata("a YQ==,a Yg==").error.find("twice"), std::string::npos);
  EXPECT_NE(parse_metadata(std::string("ke\x01y YQ==")).error.find("printable"), std::string::npos);
  EXPECT_NE(parse_metadata("k\xc3\xa9y YQ==").error.find("printable"), std::string::npos);
  EXPECT_NE(parse_metadata("k Y").error.find("not base64"), std::string::npos) << "a lone trailing character";
}

TEST(TusMetadata, FormatRoundTrips) {
  std::vector<MetadataPair> pairs{{"filename", "photo \xc3\xa9t\xc3\xa9.jpg"}, {"empty", ""}, {"bin", std::string("\0\xff,", 3)}};
  auto text = format_metadata(pairs);
  EXPECT_EQ(text.find(' '), text.find("filename") + 8) << text;
  auto back = parse_metadata(text);
  ASSERT_EQ(back.error, "") << text;
  EXPECT_EQ(back.pairs, pairs);
  EXPECT_EQ(format_metadata({}), "");
}

TEST(TusDate, HttpDateIsImfFixdate) {
  EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(http_date(1403712000), "Wed, 25 Jun 2014 16:00:00 GMT");
  EXPECT_EQ(http_date(1798761599), "Thu, 31 Dec 2026 23:59:59 GMT");
}
