#include "http/conditional.hpp"

#include <algorithm>
#include <charconv>

namespace progimage::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (trim(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    auto tag = trim(if_none_match.substr(0, comma));
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  RangeRequest out;
  header = trim(header);
  if (!header.starts_with("bytes=")) return out;
  header.remove_prefix(6);
  if (header.find(',') != std::string_view::npos) return out;
  auto dash = header.find('-');
  if (dash == std::string_view::npos) return out;
  auto left = trim(header.substr(0, dash)), right = trim(header.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (left.empty()) {  // suffix: the last N bytes
    if (!parse_number(right, last)) return out;
    if (last == 0 || size == 0) {
      out.unsatisfiable = true;
      return out;
    }
    last = std::min(last, size);
    out.range = service::ByteRange{size - last, size - 1};
    return out;
  }
  if (!parse_number(left, first)) return out;
  if (right.empty()) last = size == 0 ? 0 : size - 1;
  else if (!parse_number(right, last) || last < first) return out;
  if (first >= size) {
    out.unsatisfiable = true;
    return out;
  }
  out.range = service::ByteRange{first, std::min(last, size - 1)};
  return out;
}

}  // namespace progimage::http
