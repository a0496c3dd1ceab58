#pragma once
// Tenants as use cases: managed API keys (made, listed, revoked; found by
// the hash of their secret for the Authenticator) and storage quotas (set,
// read, checked before an upload's body is read).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/principal.hpp"
#include "catalog/catalog.hpp"
#include "core/tenant.hpp"

namespace progimage::service {

struct NewKey {
  core::Role role = core::Role::read;
  std::string name;
  std::string tenant;  // "" for the caller's own; another (or "*") only for operators
  std::optional<auth::RateLimit> rate;
};

/// A key just made: its secret is shown this once and never again.
struct CreatedKey {
  catalog::ApiKeyRecord record;
  std::string secret;
};

struct QuotaStatus {
  std::string tenant;
  catalog::TenantQuota quota;  // 0: no limit
  catalog::TenantUse use;
};

class TenantService {
 public:
  explicit TenantService(catalog::Catalog& catalog) : catalog_(catalog) {}

  /// Called after a key is created (the server closes) and after a key is
  /// revoked (with its id: it stops working at once here). Set before serving.
  void on_key_created(std::function<void()> f) { key_created_ = std::move(f); }
  void on_key_revoked(std::function<void(const std::string&)> f) { key_revoked_ = std::move(f); }

  /// Throws forbidden when a tenant's key asks for another tenant, or for a
  /// role above the caller's; bad_parameter for a bad name, tenant or rate.
  CreatedKey create_key(const auth::Principal& caller, const core::Scope& scope, NewKey key);
  std::vector<catalog::ApiKeyRecord> keys(const core::Scope& scope);
  /// Throws not_found for an unknown, revoked or other tenant's key.
  void revoke_key(const core::Scope& scope, const std::string& id);
  /// The principal of the unrevoked managed key with this secret hash.
  std::optional<auth::Principal> principal_of_key(const std::string& hash);
  bool has_keys() { return catalog_.has_api_keys(); }

  /// Operators only (forbidden otherwise); bad_parameter for a negative limit.
  QuotaStatus set_quota(const auth::Principal& caller, const std::string& tenant, const catalog::TenantQuota& quota);
  /// A tenant's own, or any for operators; a tenant without a quota has no limits.
  QuotaStatus quota(const core::Scope& scope, const std::string& tenant);
  /// Configured quotas: set for tenants that have none in the catalog yet.
  void seed_quota(const std::string& tenant, const catalog::TenantQuota& quota);
  /// Throws quota_exceeded when one more image of `incoming_bytes` would not
  /// fit the scope's tenant (called before the body is read, when its length
  /// is known; the catalog checks again when it stores).
  void check_quota(const core::Scope& scope, std::int64_t incoming_bytes);

 private:
  catalog::Catalog& catalog_;
  std::function<void()> key_created_;
  std::function<void(const std::string&)> key_revoked_;
};

/// The key id of managed keys begins with it.
inline constexpr std::string_view kManagedKeyIdPrefix = "key_";

}  // namespace progimage::service
