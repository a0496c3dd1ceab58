#include "catalog/cursor.hpp"

#include <algorithm>
#include <charconv>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace progimage::catalog {

namespace {

core::Error invalid_cursor() { return core::Error(core::ErrorCode::bad_parameter, "invalid cursor"); }

/// The number `digits` spells, digits only; nullopt otherwise or when it does not fit.
std::optional<std::int64_t> parse_number(std::string_view digits, bool allow_sign) {
  if (digits.empty() || (!allow_sign && (digits[0] < '0' || digits[0] > '9'))) return std::nullopt;
  std::int64_t v = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace

std::string encode_cursor(const CursorPosition& position) {
  return core::base64_encode(std::to_string(position.created_at) + ":" + position.id, true, false);
}

std::optional<CursorPosition> decode_cursor(std::string_view cursor) {
  auto text = core::base64_decode(cursor);
  if (!text) return std::nullopt;
  const auto colon = text->find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text->size()) return std::nullopt;
  auto created_at = parse_number(std::string_view(*text).substr(0, colon), true);
  if (!created_at) return std::nullopt;
  return CursorPosition{*created_at, text->substr(colon + 1)};
}

std::optional<CursorPosition> list_cursor_position(std::string_view cursor) {
  if (cursor.empty()) return std::nullopt;
  auto position = decode_cursor(cursor);
  if (!position) throw invalid_cursor();
  return position;
}

std::string encode_result_cursor(std::int64_t position) {
  return core::base64_encode("p" + std::to_string(position), true, false);
}

std::optional<std::int64_t> decode_result_cursor(std::string_view cursor) {
  auto text = core::base64_decode(cursor);
  if (!text || text->size() < 2 || text->size() > 20 || (*text)[0] != 'p') return std::nullopt;
  return parse_number(std::string_view(*text).substr(1), false);
}

std::int64_t result_cursor_position(std::string_view cursor) {
  if (cursor.empty()) return -1;
  auto position = decode_result_cursor(cursor);
  if (!position) throw invalid_cursor();
  return *position;
}

int clamp_limit(int limit) noexcept { return std::clamp(limit, 1, 1000); }

}  // namespace progimage::catalog
