#include "core/time.hpp"

#include <gtest/gtest.h>

using namespace progimage::core;
using namespace std::chrono_literals;

TEST(Time, Rfc3339RoundTrip) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  auto t = parse_rfc3339("2026-11-22T10:15:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-22T10:15:00Z");
  EXPECT_EQ(parse_rfc3339("2026-11-22T11:15:00+01:00"), t);
  EXPECT_EQ(parse_rfc3339("2026-11-22"), *t - (10 * 3600 + 15 * 60));
  EXPECT_FALSE(parse_rfc3339("2026-13-01"));
  EXPECT_FALSE(parse_rfc3339("yesterday"));
  EXPECT_FALSE(parse_rfc3339("2026-11-22T10:15:00"));
}

TEST(Time, Durations) {
  EXPECT_EQ(parse_duration("PT1H"), 3600s);
  EXPECT_EQ(parse_duration("P7D"), 7 * 86400s);
  EXPECT_EQ(parse_duration("PT1M30S"), 90s);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("10"), 10s);
  EXPECT_EQ(parse_duration("2h"), 7200s);
  EXPECT_FALSE(parse_duration("P"));
  EXPECT_FALSE(parse_duration("PT1D"));
  EXPECT_FALSE(parse_duration("ten"));
  EXPECT_FALSE(parse_duration("-5s"));
}
