// The shared image SQL takes everything engine-specific from its Dialect: a
// second dialect with PostgreSQL's placeholders and made-up functions shows
// that none of SQLite's pieces stay behind.
#include "catalog/image_sql.hpp"

#include <gtest/gtest.h>

#include "catalog/cursor.hpp"
#include "catalog/sqlite_dialect.hpp"
#include "core/error.hpp"

using namespace progimage;
using namespace progimage::catalog;

namespace {

const Dialect kOther{
    .placeholder = [](std::size_t n) { return "$" + std::to_string(n); },
    .begin_write = "BEGIN",
    .image_tags_json = "TAGS_JSON(i)",
    .image_variants_json = "VARIANTS_JSON(i)",
    .text_search_argument = [](std::string_view text) { return std::string(text == "   " ? "" : text); },
    .text_search_condition = [](std::string_view p) { return "TEXT_MATCH(i, " + std::string(p) + ")"; },
    .equals_ignoring_case =
        [](std::string_view column, std::string_view p) {
          return "lower(" + std::string(column) + ") = lower(" + std::string(p) + ")";
        },
    .utc_day = [](std::string_view s) { return "DAY(" + std::string(s) + ")"; },
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(ImageSql, ColumnsEndWithTheDialectsAggregates) {
  const auto columns = image_columns(kOther);
  EXPECT_EQ(columns.substr(0, 6), "i.id, ");
  EXPECT_TRUE(columns.ends_with(", TAGS_JSON(i), VARIANTS_JSON(i)")) << columns;
  EXPECT_TRUE(contains(image_columns(sqlite::dialect()), "json_group_array(t.tag)"));
}

TEST(ImageSql, ListTakesEveryEngineSpecificPieceFromTheDialect) {
  SqlArgs args(kOther);
  const ImageQuery query{.tags = {"Sea", "beach"}, .format = "PNG", .camera = "Canon EOS 20D", .text = "sunset",
                         .from = 100, .to = 200, .cursor = encode_cursor({150, "abc"})};
  const auto sql = list_images_sql(query, 10, args);
  EXPECT_TRUE(contains(sql, "TEXT_MATCH(i, $1)")) << sql;
  EXPECT_TRUE(contains(sql, "t.tag IN ($2, $3)")) << sql;
  EXPECT_TRUE(contains(sql, "i.format = $4")) << sql;
  EXPECT_TRUE(contains(sql, "lower(i.camera_model) = lower($5)")) << sql;
  EXPECT_TRUE(contains(sql, "i.created_at >= $6 AND i.created_at <= $7")) << sql;
  EXPECT_TRUE(contains(sql, "(i.created_at, i.id) < ($8, $9)")) << sql;
  EXPECT_TRUE(contains(sql, "ORDER BY i.created_at DESC, i.id DESC LIMIT $10")) << sql;
  for (const char* sqlite_only : {"?", "COLLATE", "images_fts", "json_group", "WHERE 1"}) {
    EXPECT_FALSE(contains(sql, sqlite_only)) << sqlite_only << " in " << sql;
  }
  // Tags normalised, the format lower-cased, the limit one more than the page.
  const std::vector<SqlValue> expected = {std::string("sunset"), std::string("beach"), std::string("sea"),
                                          std::string("png"), std::string("Canon EOS 20D"), std::int64_t{100},
                                          std::int64_t{200}, std::int64_t{150}, std::string("abc"), std::int64_t{11}};
  EXPECT_EQ(args.values(), expected);
}

TEST(ImageSql, AnEmptyQueryHasNoConditions) {
  SqlArgs args(kOther);
  const auto sql = list_images_sql(ImageQuery{.text = "   "}, 50, args);
  EXPECT_TRUE(contains(sql, "FROM images i WHERE TRUE ORDER BY")) << sql;
  EXPECT_EQ(args.values(), std::vector<SqlValue>{std::int64_t{51}});
}

TEST(ImageSql, OnlyOverLongTagsMatchNothing) {
  SqlArgs args(kOther);
  const auto sql = list_images_sql(ImageQuery{.tags = {std::string(101, 'x'), " "}}, 50, args);
  EXPECT_TRUE(contains(sql, "WHERE TRUE AND FALSE ORDER BY")) << sql;
  SqlArgs blank(kOther);
  EXPECT_FALSE(contains(list_images_sql(ImageQuery{.tags = {" ", ""}}, 50, blank), "FALSE"));
}

TEST(ImageSql, AMalformedCursorIsABadParameter) {
  SqlArgs args(kOther);
  try {
    list_images_sql(ImageQuery{.cursor = "!!!"}, 50, args);
    ADD_FAILURE() << "no error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
  }
}

TEST(ImageSql, JobItemsFromASearchFollowTheConditions) {
  SqlArgs args(kOther);
  const auto sql = insert_found_items_sql(ImageQuery{.tags = {"beach"}}, "job1", 3, 5000, args);
  EXPECT_EQ(sql.rfind("INSERT INTO job_items", 0), 0u) << sql;
  EXPECT_TRUE(contains(sql, "SELECT $2, ROW_NUMBER() OVER (ORDER BY i.created_at DESC, i.id DESC) - 1, 'image', i.id, $3, $4"))
      << sql;
  EXPECT_TRUE(contains(sql, "t.tag IN ($1)")) << sql;
  const std::vector<SqlValue> expected = {std::string("beach"), std::string("job1"), std::int64_t{3},
                                          std::int64_t{5000}};
  EXPECT_EQ(args.values(), expected);
}

TEST(SqliteDialect, FullTextQueryQuotesEveryWord) {
  using sqlite::fts_match_expression;
  EXPECT_EQ(fts_match_expression("sunset sea"), "\"sunset\" \"sea\"");
  EXPECT_EQ(fts_match_expression("  a\"b\tOR  "), "\"a\"\"b\" \"OR\"");
  EXPECT_EQ(fts_match_expression(" \n\t "), "");
  EXPECT_EQ(sqlite::dialect().placeholder(12), "?12");
  EXPECT_EQ(sqlite::dialect().utc_day("created_at"), "date(created_at, 'unixepoch')");
}
