#include "http/router.hpp"

#include <gtest/gtest.h>

using progimage::http::Router;

namespace {
Router api() {
  Router r;
  r.add("GET", "/v1/images");          // 0
  r.add("POST", "/v1/images");         // 1
  r.add("GET", "/v1/images/{id}");     // 2
  r.add("GET", "/v1/images/{id}.{ext}");  // 3
  r.add("DELETE", "/v1/images/{id}");  // 4
  r.add("GET", "/v1/images/{id}/info");  // 5
  return r;
}
}  // namespace

TEST(Router, MatchesLiteralAndCaptures) {
  auto r = api();
  auto m = r.match("GET", "/v1/images/abc");
  ASSERT_TRUE(m.match);
  EXPECT_EQ(m.match->index, 2u);
  EXPECT_EQ(m.match->params, std::vector<std::string>{"abc"});
  m = r.match("GET", "/v1/images/abc/info");
  ASSERT_TRUE(m.match);
  EXPECT_EQ(m.match->index, 5u);
}

TEST(Router, DottedSegmentSplitsAtLastDot) {
  auto r = api();
  auto m = r.match("GET", "/v1/images/abc.webp");
  ASSERT_TRUE(m.match);
  EXPECT_EQ(m.match->index, 3u);
  EXPECT_EQ(m.match->params, (std::vector<std::string>{"abc", "webp"}));
  EXPECT_FALSE(r.match("GET", "/v1/images/.webp").match);
  EXPECT_FALSE(r.match("GET", "/v1/images/abc.").match);
}

TEST(Router, HeadFollowsGet) {
  auto r = api();
  auto m = r.match("HEAD", "/v1/images/abc");
  ASSERT_TRUE(m.match);
  EXPECT_EQ(m.match->index, 2u);
}

TEST(Router, WrongMethodListsAllowed) {
  auto r = api();
  auto m = r.match("PUT", "/v1/images/abc");
  EXPECT_FALSE(m.match);
  EXPECT_EQ(m.allow, "DELETE, GET, HEAD");
  m = r.match("PATCH", "/v1/images");
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
}

TEST(Router, UnknownPathHasNoAllow) {
  auto r = api();
  auto m = r.match("GET", "/v2/images");
  EXPECT_FALSE(m.match);
  EXPECT_TRUE(m.allow.empty());
  EXPECT_FALSE(r.match("GET", "/v1/images/abc/info/extra").match);
  EXPECT_FALSE(r.match("GET", "/v1/images/").match);
}
