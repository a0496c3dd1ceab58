#include "core/json.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace json = boost::json;
using progimage::core::json_text;

TEST(JsonText, WritesDoublesAsPeopleDo) {
  EXPECT_EQ(json_text(24.0), "24");
  EXPECT_EQ(json_text(0.25), "0.25");
  EXPECT_EQ(json_text(43.467448), "43.467448");
  EXPECT_EQ(json_text(-0.5), "-0.5");
  EXPECT_EQ(json_text(1e21), "1e+21");
  EXPECT_EQ(json_text(1.5e-7), "1.5e-07");
}

TEST(JsonText, WholeDoublesReadAsIntegers) {
  // JSON has one number type: a reader gets 1, not 1.0; readers of our own
  // stored text use to_number<double>().
  EXPECT_EQ(json_text(json::array{1.0, 2.5, -3.0}), "[1,2.5,-3]");
  EXPECT_EQ(json::parse(json_text(1.0)).to_number<double>(), 1.0);
}

TEST(JsonText, NonFiniteDoublesBecomeNull) {
  EXPECT_EQ(json_text(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(json_text(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_text(json::array{-std::numeric_limits<double>::infinity()}), "[null]");
}

TEST(JsonText, IntegersKeepTheirFullRange) {
  EXPECT_EQ(json_text(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(json_text(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
}

TEST(JsonText, NestsAndEscapesLikeBoostJson) {
  json::value v = {{"name", "a \"quoted\"\nline \x01"},
                   {"tags", json::array{"x", "y"}},
                   {"focus", {{"x", 0.5}, {"y", 0.75}}},
                   {"empty", json::object{}},
                   {"none", json::array{}},
                   {"ok", true},
                   {"gone", nullptr}};
  auto text = json_text(v);
  EXPECT_EQ(json::parse(text), v);
  EXPECT_NE(text.find(R"("focus":{"x":0.5,"y":0.75})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("name":"a \"quoted\"\nline \u0001")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("empty":{},"none":[],"ok":true,"gone":null)"), std::string::npos) << text;
  // Without doubles the text is Boost.JSON's own.
  json::value plain = {{"a", 1}, {"b", json::array{"c", nullptr, false}}};
  EXPECT_EQ(json_text(plain), json::serialize(plain));
}

TEST(JsonText, DoublesReadBackExactly) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> small(-1000.0, 1000.0);
  std::uniform_int_distribution<std::uint64_t> bits;
  for (int i = 0; i < 20000; ++i) {
    double d = small(rng);
    if (i % 2) {
      const auto b = bits(rng);
      std::memcpy(&d, &b, sizeof d);
      if (!std::isfinite(d)) continue;
    }
    // std::from_chars reads exactly; Boost.JSON 1.81's parser may round the last bit.
    const auto text = json_text(d);
    double back = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), back);
    ASSERT_TRUE(ec == std::errc() && end == text.data() + text.size()) << text;
    ASSERT_EQ(back, d) << text;
    ASSERT_TRUE(json::parse(text).is_number()) << text;
  }
}
