#pragma once
// Rules that every catalog backend shares: tag normalisation and the opaque
// list cursor.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::catalog {

/// Trimmed and lower-cased (Unicode, by glibc's C.UTF-8 tables), control
/// characters as blanks, empty ones dropped, unique and sorted (bytewise).
std::vector<std::string> normalize_tags(const std::vector<std::string>& tags);

/// The position after one listed image: newest first by (created_at, id).
struct CursorPosition {
  std::int64_t created_at = 0;
  std::string id;
};

/// URL-safe base64 of "created_at:id".
std::string encode_cursor(const CursorPosition& position);
/// nullopt for text that encode_cursor did not make.
std::optional<CursorPosition> decode_cursor(std::string_view cursor);

/// The list page size: `limit` clamped to 1..1000.
int clamp_limit(int limit) noexcept;

}  // namespace progimage::catalog
