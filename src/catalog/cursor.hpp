#pragma once
// The opaque cursors of paged lists and the page size, for every engine.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace progimage::catalog {

/// The position after one listed row (an image, an upload link): newest
/// first by (created_at, id).
struct CursorPosition {
  std::int64_t created_at = 0;
  std::string id;
};

/// URL-safe base64 of "created_at:id".
std::string encode_cursor(const CursorPosition& position);
/// nullopt for text that encode_cursor did not make.
std::optional<CursorPosition> decode_cursor(std::string_view cursor);
/// Where a newest-first list page starts: nullopt for "" (the first page). Throws
/// core::Error(bad_parameter) for text that encode_cursor did not make.
std::optional<CursorPosition> list_cursor_position(std::string_view cursor);

/// A job results cursor: URL-safe base64 of "p" and the position of the last
/// item shown.
std::string encode_result_cursor(std::int64_t position);
/// nullopt for text that encode_result_cursor did not make.
std::optional<std::int64_t> decode_result_cursor(std::string_view cursor);
/// The position a job results page starts after: -1 for "" (the first page).
/// Throws core::Error(bad_parameter) for text that encode_result_cursor did
/// not make.
std::int64_t result_cursor_position(std::string_view cursor);

/// The page size: `limit` clamped to 1..1000.
int clamp_limit(int limit) noexcept;

}  // namespace progimage::catalog
