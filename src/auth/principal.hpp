#pragma once
// Who a request speaks for, whichever way it proved it: an API key or a token.
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/tenant.hpp"

namespace progimage::auth {

using core::kAllTenants;
using core::kDefaultTenant;

struct Principal {
  std::string tenant;
  core::Role role = core::Role::read;
  std::string key_id;   // the API key's id, or "jwt:" + the signing key's kid
  std::string subject;  // a token's `sub`; empty for API keys
  bool all_tenants() const noexcept { return tenant == kAllTenants; }
  /// The scope of its requests; an operator writes into `acting_as`.
  core::Scope scope(std::string_view acting_as = kDefaultTenant) const {
    if (all_tenants()) return core::Scope{std::string(acting_as), true};
    return core::Scope::of(tenant);
  }
};

}  // namespace progimage::auth
