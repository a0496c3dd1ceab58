#include "catalog/postgres_dialect.hpp"

namespace progimage::catalog::postgres {

namespace {

/// The length of the UTF-8 sequence at `s[i]`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  return n;
}

}  // namespace

std::string search_words(std::string_view text) {
  std::string out;
  bool has_word = false;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    const auto b = static_cast<unsigned char>(text[i]);
    if (n == 0 || (n == 1 && (b < 0x20 || b == 0x7F))) {
      out += ' ';
      i += n == 0 ? 1 : n;
      continue;
    }
    if (n > 1 || b != ' ') has_word = true;
    out.append(text.substr(i, n));
    i += n;
  }
  return has_word ? out : std::string();
}

const Dialect& dialect() noexcept {
  static const Dialect postgres{
      .placeholder = [](std::size_t n) { return "$" + std::to_string(n); },
      .begin_write = "BEGIN",
      .image_tags_json =
          "(SELECT COALESCE(json_agg(t.tag), '[]')::text FROM image_tags t WHERE t.image_id = i.id)",
      .image_variants_json =
          "(SELECT json_object_agg(v.name, v.status)::text FROM image_variants v WHERE v.image_id = i.id)",
      .text_search_argument = search_words,
      .text_search_condition =
          [](std::string_view placeholder) {
            return "i.search @@ plainto_tsquery('progimage', " + std::string(placeholder) + ")";
          },
      .equals_ignoring_case =
          [](std::string_view column, std::string_view placeholder) {
            return "lower(" + std::string(column) + ") = lower(" + std::string(placeholder) + ")";
          },
      .utc_day =
          [](std::string_view unix_seconds) {
            return "to_char(to_timestamp(" + std::string(unix_seconds) + ") AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
          },
      // Identity columns are GENERATED ALWAYS.
      .insert_given_key = "OVERRIDING SYSTEM VALUE ",
  };
  return postgres;
}

}  // namespace progimage::catalog::postgres
