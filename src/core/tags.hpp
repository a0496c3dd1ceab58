#pragma once
// Tags: the one normal form every part of the program stores and compares,
// and the #hashtags a description brings with it.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::core {

/// Tags longer than this, in bytes once normalised, are dropped.
inline constexpr std::size_t kMaxTagBytes = 100;

/// One tag lower-cased (Unicode, by glibc's C.UTF-8 tables; bytes that are
/// not valid UTF-8 are kept as they are), control characters turned into
/// blanks, trimmed of blanks. May be empty or longer than kMaxTagBytes.
std::string normalize_tag(std::string_view tag);

/// Each tag through normalize_tag(); empty ones and ones over kMaxTagBytes
/// are dropped, the rest unique and sorted bytewise.
std::vector<std::string> normalize_tags(const std::vector<std::string>& tags);

/// The words of `description` that follow a '#', as written and in order:
/// letters, digits, '_', '-' and any non-ASCII UTF-8 byte. A '#' right after
/// an ASCII letter or digit ("C#", "a#b") or after '&' ("&#35;") starts none.
/// Pass them through normalize_tags() with the other tags.
std::vector<std::string> hashtags(std::string_view description);

}  // namespace progimage::core
