#pragma once
// The conditional and partial parts of HTTP (RFC 9110 §13 and §14) that the
// image routes use: If-None-Match against an ETag, and one `bytes=` range.
// Pure functions.
#include <cstdint>
#include <optional>
#include <string_view>

#include "service/body.hpp"

namespace progimage::http {

/// True when the If-None-Match value holds `etag` (weak or strong) or is "*".
bool etag_matches(std::string_view if_none_match, std::string_view etag);

struct RangeRequest {
  std::optional<service::ByteRange> range;  // nullopt: serve everything
  bool unsatisfiable = false;               // answer 416
};

/// Reads a Range header for a body of `size` bytes. One `bytes=` range is
/// honoured (`a-b`, `a-`, `-n`, the end clamped to the size); anything else
/// (absent, several ranges, other units, malformed) means the whole body, as
/// RFC 9110 allows. A range starting past the end, or an empty suffix, is
/// unsatisfiable.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace progimage::http
