#pragma once
// Tenants: every image, job, key, link and usage record belongs to one. A
// name is 1 to 63 of a-z, 0-9, '-' and '_', starting with a letter or digit.
#include <string>
#include <string_view>

namespace progimage::core {

/// The tenant of everything when none is configured.
inline constexpr std::string_view kDefaultTenant = "default";
/// What an operator key is scoped to: every tenant.
inline constexpr std::string_view kAllTenants = "*";

constexpr bool is_valid_tenant(std::string_view t) noexcept {
  if (t.empty() || t.size() > 63) return false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

/// Whose data a caller works on: its own tenant, or (operators) every
/// tenant to read, with `tenant` the one it writes into.
struct Scope {
  std::string tenant{kDefaultTenant};
  bool all_tenants = false;

  /// True when the caller may see what `owner` owns.
  bool sees(std::string_view owner) const noexcept { return all_tenants || owner == tenant; }
  /// The tenant filter of a search: "" for every tenant.
  std::string search_tenant() const { return all_tenants ? std::string() : tenant; }

  static Scope of(std::string tenant) { return Scope{std::move(tenant), false}; }
  /// Trusted internal work (job workers): every tenant.
  static Scope everyone() { return Scope{std::string(kDefaultTenant), true}; }
};

}  // namespace progimage::core
