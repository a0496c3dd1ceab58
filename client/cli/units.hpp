#pragma once
// Sizes and durations as people type and read them: "100M", "1h", "3.1 MB", "4s".
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace progimage::cli {

/// "1500", "64k", "100M", "1.5GB", "8MiB" (k, M, G, T: powers of 1000; Ki, Mi…
/// of 1024; a trailing B is optional). Throws UsageError when malformed.
std::int64_t parse_size(std::string_view text);

/// "90s", "30m", "1h", "7d", "2w", or bare seconds. Throws UsageError when malformed.
std::chrono::seconds parse_duration(std::string_view text);

/// The ISO 8601 duration the API takes ("PT1H") of a typed one ("1h"); an
/// ISO 8601 duration is kept as it is.
std::string iso_duration(std::string_view text);

/// "340 B", "3.1 MB".
std::string human_bytes(std::int64_t bytes);
/// "4s", "3m12s", "2h05m".
std::string human_duration(double seconds);

}  // namespace progimage::cli
