#include "core/time.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace progimage::core {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
}

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

bool take_int(std::string_view& s, std::size_t digits, int& out) {
  if (s.size() < digits) return false;
  for (std::size_t i = 0; i < digits; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  std::from_chars(s.data(), s.data() + digits, out);
  s.remove_prefix(digits);
  return true;
}

bool take_char(std::string_view& s, char c) {
  if (s.empty() || (s[0] != c && !(c == 'T' && (s[0] == 't' || s[0] == ' ')))) return false;
  s.remove_prefix(1);
  return true;
}

std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!take_int(s, 4, year) || !take_char(s, '-') || !take_int(s, 2, month) || !take_char(s, '-') ||
      !take_int(s, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  std::int64_t offset = 0;
  if (!s.empty()) {
    if (!take_char(s, 'T') || !take_int(s, 2, hour) || !take_char(s, ':') || !take_int(s, 2, minute) ||
        !take_char(s, ':') || !take_int(s, 2, second))
      return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      while (!s.empty() && s[0] >= '0' && s[0] <= '9') s.remove_prefix(1);
    }
    if (s == "Z" || s == "z") {
      s = {};
    } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      int sign = s[0] == '-' ? -1 : 1, oh, om;
      s.remove_prefix(1);
      if (!take_int(s, 2, oh) || !take_char(s, ':') || !take_int(s, 2, om)) return std::nullopt;
      offset = sign * (oh * 3600 + om * 60);
    } else {
      return std::nullopt;
    }
    if (!s.empty()) return std::nullopt;
  }
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
         hour * 3600 + minute * 60 + second - offset;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  using std::chrono::milliseconds;
  if (s.empty()) return std::nullopt;
  if (s[0] == 'P' || s[0] == 'p') {  // ISO 8601: PnDTnHnMnS (weeks too)
    s.remove_prefix(1);
    bool in_time = false, any = false;
    double total_ms = 0;
    while (!s.empty()) {
      if (s[0] == 'T' || s[0] == 't') {
        if (in_time) return std::nullopt;
        in_time = true;
        s.remove_prefix(1);
        continue;
      }
      double v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p == s.data() || v < 0) return std::nullopt;
      s.remove_prefix(static_cast<std::size_t>(p - s.data()));
      if (s.empty()) return std::nullopt;
      char unit = static_cast<char>(s[0] & ~0x20);
      s.remove_prefix(1);
      double scale;
      if (!in_time && unit == 'W') scale = 7 * 86400e3;
      else if (!in_time && unit == 'D') scale = 86400e3;
      else if (in_time && unit == 'H') scale = 3600e3;
      else if (in_time && unit == 'M') scale = 60e3;
      else if (in_time && unit == 'S') scale = 1e3;
      else return std::nullopt;
      total_ms += v * scale;
      any = true;
    }
    if (!any) return std::nullopt;
    return milliseconds(static_cast<std::int64_t>(total_ms));
  }
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(s.data() + s.size() - p));
  double scale;
  if (unit.empty() || unit == "s") scale = 1e3;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60e3;
  else if (unit == "h") scale = 3600e3;
  else if (unit == "d") scale = 86400e3;
  else return std::nullopt;
  return milliseconds(static_cast<std::int64_t>(v * scale));
}

}  // namespace progimage::core
