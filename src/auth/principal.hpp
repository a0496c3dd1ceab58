#pragma once
// Who a request speaks for, whichever way it proved it: an API key or a token.
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/tenant.hpp"

namespace progimage::auth {

using core::kAllTenants;
using core::kDefaultTenant;

/// A request rate with a burst: a token bucket of `burst` tokens refilled at `per_second`.
struct RateLimit {
  double per_second = 0;
  double burst = 0;
};

struct Principal {
  std::string tenant;
  core::Role role = core::Role::read;
  std::string key_id;   // the API key's id, or "jwt:" + the signing key's kid
  std::string subject;  // a token's `sub`; empty for API keys
  std::optional<RateLimit> rate;  // none: not limited

  bool all_tenants() const noexcept { return tenant == kAllTenants; }
  /// Who limits and usage count against: the token's subject, else the key.
  std::string client_id() const { return subject.empty() ? key_id : key_id + ":" + subject; }
  /// The scope of its requests. An operator sees every tenant and writes into
  /// the default one, or, naming `acting_as`, works as that tenant alone.
  core::Scope scope(std::string_view acting_as = {}) const {
    if (!all_tenants()) return core::Scope::of(tenant);
    if (!acting_as.empty()) return core::Scope::of(std::string(acting_as));
    return core::Scope{std::string(kDefaultTenant), true};
  }
};

/// The principal of every request on an open server (nothing configured).
inline Principal open_server_principal() { return Principal{std::string(kAllTenants), core::Role::admin, "open", {}, {}}; }

}  // namespace progimage::auth
