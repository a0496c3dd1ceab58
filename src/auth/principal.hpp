#pragma once
// Who a request speaks for, whichever way it proved it: an API key or a token.
#include <string>
#include <string_view>

#include "core/config.hpp"

namespace progimage::auth {

/// The tenant of operator keys and tokens: they see every tenant.
inline constexpr std::string_view kAllTenants = "*";
/// The tenant of a token without a `tenant` claim (and of today's single-application use).
inline constexpr std::string_view kDefaultTenant = "default";

struct Principal {
  std::string tenant;
  core::Role role = core::Role::read;
  std::string key_id;   // the API key's id, or "jwt:" + the signing key's kid
  std::string subject;  // a token's `sub`; empty for API keys
  bool all_tenants() const noexcept { return tenant == kAllTenants; }
};

}  // namespace progimage::auth
