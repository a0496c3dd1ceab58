#include "ops/explain.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "ops/parse.hpp"

using namespace progimage::ops;

namespace {
TransformSpec q(std::string_view raw) { return parse_query(split_query(raw)); }
}  // namespace

TEST(Explain, IdentityIsOrientationAndEncode) {
  EXPECT_EQ(steps(TransformSpec{}), (std::vector<std::string>{"autorotate", "encode"}));
  EXPECT_EQ(steps(q("autorotate=false")), (std::vector<std::string>{"encode"}));
}

TEST(Explain, FixedOrderWhateverTheUrlOrder) {
  auto s = q("format=webp&bg=ffffff&watermark=abc&mask=circle&tint=ff0000&gamma=2&contrast=2&hue=10&saturation=2"
             "&brightness=2&negate=true&sepia=true&grayscale=true&sharpen=1&blur=1&flip=h&rotate=90&trim=true"
             "&w=100&crop=0,0,10,10&page=1");
  std::vector<std::string> expected(kApplyOrder.begin(), kApplyOrder.end());
  EXPECT_EQ(steps(s), expected);
}

TEST(Explain, StepsCarryParameters) {
  auto steps = explain_steps(q("h=300&w=300&fit=cover&format=webp&q=80&rotate=45&bg=00000080"));
  EXPECT_EQ(boost::json::serialize(steps),
            R"([{"op":"autorotate"},)"
            R"({"op":"resize","w":300,"h":300,"dpr":1,"fit":"cover","gravity":"center","enlarge":false},)"
            R"({"op":"rotate","degrees":45,"bg":"#00000080"},)"
            R"({"op":"background","color":"#00000080"},)"
            R"({"op":"encode","format":"webp","q":80,"strip":true}])");
  auto filters = explain_steps(q("blur=1.5&gamma=2&autorotate=false"));
  EXPECT_EQ(filters.at(0).at("sigma").as_double(), 1.5);
  EXPECT_EQ(filters.at(1).at("gamma").as_int64(), 2);
  auto mask = explain_steps(q("mask=rounded:5&autorotate=false"));
  EXPECT_EQ(mask.at(0).at("shape"), "rounded");
  EXPECT_EQ(mask.at(0).at("radius"), 5);
}

TEST(Explain, ApplyOrderHasNoDuplicates) {
  std::vector<std::string_view> v(kApplyOrder.begin(), kApplyOrder.end());
  std::sort(v.begin(), v.end());
  EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end());
}
