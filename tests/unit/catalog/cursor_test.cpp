#include "catalog/cursor.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/hash.hpp"

using namespace progimage::catalog;
using progimage::core::base64_encode;

namespace {

void expect_bad_parameter(auto&& call, const std::string& cursor) {
  try {
    call();
    ADD_FAILURE() << "no error for " << cursor;
  } catch (const progimage::core::Error& e) {
    EXPECT_EQ(e.code(), progimage::core::ErrorCode::bad_parameter) << cursor;
  }
}

}  // namespace

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
  for (std::string bad : {std::string(""), std::string("!!!"), base64_encode("nocolon"), base64_encode(":id"),
                          base64_encode("12:"), base64_encode("12x:id"), base64_encode("99999999999999999999:id")}) {
    EXPECT_FALSE(decode_cursor(bad)) << bad;
  }
}

TEST(Cursor, ListPositionIsNoneForTheFirstPageAndThrowsForGarbage) {
  EXPECT_FALSE(list_cursor_position(""));
  auto p = list_cursor_position(encode_cursor({42, "abc"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->created_at, 42);
  EXPECT_EQ(p->id, "abc");
  for (std::string bad : {"!!!", "bm9jb2xvbg", "%%%"}) {
    expect_bad_parameter([&] { list_cursor_position(bad); }, bad);
  }
}

TEST(ResultCursor, RoundTrips) {
  for (std::int64_t position : {0L, 9L, 123456789012L}) {
    auto text = encode_result_cursor(position);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos) << "URL-safe: " << text;
    EXPECT_EQ(decode_result_cursor(text), position) << text;
    EXPECT_EQ(result_cursor_position(text), position);
  }
  EXPECT_EQ(result_cursor_position(""), -1);  // the first page starts after no item
}

TEST(ResultCursor, RefusesGarbage) {
  for (std::string bad : {std::string("garbage!"), base64_encode("p"), base64_encode("12"), base64_encode("q12"),
                          base64_encode("p-1"), base64_encode("p+1"), base64_encode("p12a"), base64_encode("p 1"),
                          base64_encode("p99999999999999999999"), base64_encode("p9999999999999999999"),
                          encode_cursor({1, "x"})}) {
    EXPECT_FALSE(decode_result_cursor(bad)) << bad;
    expect_bad_parameter([&] { result_cursor_position(bad); }, bad);
  }
}

TEST(ClampLimit, KeepsOneToAThousand) {
  EXPECT_EQ(clamp_limit(0), 1);
  EXPECT_EQ(clamp_limit(-3), 1);
  EXPECT_EQ(clamp_limit(50), 50);
  EXPECT_EQ(clamp_limit(1000), 1000);
  EXPECT_EQ(clamp_limit(1001), 1000);
}
