#include "http/tus.hpp"

#include <ctime>
#include <set>

#include "core/hash.hpp"

namespace progimage::http::tus {

namespace {

constexpr std::size_t kMaxSizeDigits = 18;  // below 2^63

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool is_key_char(char c) { return c > ' ' && c < 0x7f && c != ','; }

}  // namespace

bool is_supported_version(std::string_view tus_resumable) noexcept { return trim(tus_resumable) == kVersion; }

std::optional<std::int64_t> parse_size(std::string_view value) noexcept {
  if (value.empty() || value.size() > kMaxSizeDigits) return std::nullopt;
  std::int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

MetadataResult parse_metadata(std::string_view header) {
  MetadataResult out;
  std::set<std::string> seen;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (item.empty()) continue;
    auto space = item.find_first_of(" \t");
    auto key = item.substr(0, space);
    auto encoded = space == std::string_view::npos ? std::string_view{} : trim(item.substr(space));
    for (char c : key) {
      if (!is_key_char(c)) {
        out.error = "Upload-Metadata: a key may hold only printable ASCII without spaces or commas";
        return out;
      }
    }
    if (!seen.insert(std::string(key)).second) {
      out.error = "Upload-Metadata: the key \"" + std::string(key) + "\" appears twice";
      return out;
    }
    auto value = core::base64_decode(encoded);
    if (!value || encoded.find_first_of(" \t") != std::string_view::npos) {
      out.error = "Upload-Metadata: the value of \"" + std::string(key) + "\" is not base64";
      return out;
    }
    out.pairs.push_back({std::string(key), std::move(*value)});
  }
  return out;
}

std::string format_metadata(const std::vector<MetadataPair>& pairs) {
  std::string out;
  for (const auto& p : pairs) {
    if (!out.empty()) out += ',';
    out += p.key;
    if (!p.value.empty()) out += ' ' + core::base64_encode(p.value);
  }
  return out;
}

std::optional<std::string> metadata_value(const std::vector<MetadataPair>& pairs, std::string_view key) {
  for (const auto& p : pairs)
    if (p.key == key) return p.value;
  return std::nullopt;
}

std::string http_date(std::int64_t unix_seconds) {
  // Fixed English names: strftime's %a and %b follow the locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace progimage::http::tus
