#include "catalog/sqlite_dialect.hpp"

namespace progimage::catalog::sqlite {

std::string fts_match_expression(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < text.size()) {
    while (i < text.size() && blank(text[i])) ++i;
    if (i == text.size()) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (; i < text.size() && !blank(text[i]); ++i) {
      if (text[i] == '"') out += '"';
      out += text[i];
    }
    out += '"';
  }
  return out;
}

const Dialect& dialect() noexcept {
  static const Dialect sqlite{
      .placeholder = [](std::size_t n) { return "?" + std::to_string(n); },
      .begin_write = "BEGIN IMMEDIATE",
      .image_tags_json = "(SELECT json_group_array(t.tag) FROM image_tags t WHERE t.image_id = i.id)",
      .image_variants_json = "(SELECT json_group_object(v.name, v.status) FROM image_variants v WHERE v.image_id = i.id)",
      .text_search_argument = fts_match_expression,
      // images_fts is an external-content FTS5 table over images, keyed by seq.
      .text_search_condition =
          [](std::string_view placeholder) {
            return "i.seq IN (SELECT rowid FROM images_fts WHERE images_fts MATCH " + std::string(placeholder) + ")";
          },
      .equals_ignoring_case =
          [](std::string_view column, std::string_view placeholder) {
            return std::string(column) + " = " + std::string(placeholder) + " COLLATE NOCASE";
          },
      .utc_day = [](std::string_view unix_seconds) { return "date(" + std::string(unix_seconds) + ", 'unixepoch')"; },
      .insert_given_key = "",
  };
  return sqlite;
}

}  // namespace progimage::catalog::sqlite
