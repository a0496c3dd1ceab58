#pragma once
// Wall-clock helpers: RFC 3339 for the API, durations for settings and links.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace progimage::core {

using Clock = std::chrono::system_clock;

/// Seconds since the Unix epoch, now.
std::int64_t unix_now();
std::int64_t unix_now_ms();
/// `2026-11-22T10:15:00Z`
std::string format_rfc3339(std::int64_t unix_seconds);
/// Accepts RFC 3339 with `Z` or an offset, or a plain `YYYY-MM-DD` (midnight UTC).
std::optional<std::int64_t> parse_rfc3339(std::string_view text);
/// ISO 8601 (`PT1H`, `P7D`, `PT1M30S`) or short forms (`500ms`, `10s`, `5m`, `2h`, `1d`);
/// a bare number is seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace progimage::core
