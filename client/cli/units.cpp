#include "units.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "errors.hpp"

namespace progimage::cli {

namespace {

/// The number at the front of `text` and the rest, or throws.
std::pair<double, std::string_view> leading_number(std::string_view text, std::string_view what) {
  std::size_t end = 0;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + end, value);
  if (end == 0 || ec != std::errc() || ptr != text.data() + end || value < 0)
    throw UsageError("'" + std::string(text) + "' is not " + std::string(what));
  std::string_view rest = text.substr(end);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {value, rest};
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); });
}

}  // namespace

std::int64_t parse_size(std::string_view text) {
  constexpr std::string_view kWhat = "a size (like 1500, 64k, 100M, 1.5GB, 8MiB)";
  auto [value, unit] = leading_number(text, kWhat);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b') && unit.size() > 0) unit.remove_suffix(1);
  double scale = 0;
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1},          {"k", 1e3},        {"m", 1e6},       {"g", 1e9},        {"t", 1e12},
      {"ki", 1024.0},   {"mi", 1048576.0}, {"gi", 1073741824.0}, {"ti", 1099511627776.0}};
  for (const auto& [name, factor] : kUnits)
    if (iequals(unit, name)) scale = factor;
  if (scale == 0) throw UsageError("'" + std::string(text) + "' is not " + std::string(kWhat));
  return static_cast<std::int64_t>(std::llround(value * scale));
}

std::chrono::seconds parse_duration(std::string_view text) {
  constexpr std::string_view kWhat = "a duration (like 90s, 30m, 1h, 7d)";
  auto [value, unit] = leading_number(text, kWhat);
  double scale = 0;
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
  for (const auto& [name, factor] : kUnits)
    if (unit == name) scale = factor;
  if (scale == 0 || value * scale < 1) throw UsageError("'" + std::string(text) + "' is not " + std::string(kWhat));
  return std::chrono::seconds(std::llround(value * scale));
}

std::string iso_duration(std::string_view text) {
  if (!text.empty() && (text.front() == 'P' || text.front() == 'p')) return std::string(text);
  return "PT" + std::to_string(parse_duration(text).count()) + "S";
}

std::string human_bytes(std::int64_t bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_duration(double seconds) {
  const auto s = static_cast<long>(std::lround(std::max(0.0, seconds)));
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  return buf;
}

}  // namespace progimage::cli
