#include "service/tenant_service.hpp"

#include <cmath>

#include "auth/key_secret.hpp"
#include "core/error.hpp"
#include "core/id.hpp"
#include "core/time.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxKeyName = 255;
/// Request rates above this are not limits (and overflow the bucket arithmetic).
constexpr double kMaxRate = 1e9;

/// The tenant a new key belongs to, after checking the caller may give it.
std::string key_tenant(const auth::Principal& caller, const core::Scope& scope, const std::string& wanted) {
  // An operator key is made only when asked for by name: "*" by accident would see everything.
  if (wanted.empty()) return scope.tenant;
  if (wanted != core::kAllTenants && !core::is_valid_tenant(wanted))
    throw Error(ErrorCode::bad_parameter, "\"tenant\": a tenant name is 1-63 of a-z, 0-9, - and _, or * for an operator key");
  if (!caller.all_tenants() && wanted != caller.tenant)
    throw Error(ErrorCode::forbidden, "only an operator key (tenant *) may make keys for another tenant");
  return wanted;
}

void check_rate(const auth::RateLimit& rate) {
  if (!std::isfinite(rate.per_second) || rate.per_second <= 0 || rate.per_second > kMaxRate)
    throw Error(ErrorCode::bad_parameter, "\"rate_limit.per_second\" must be a number above 0");
  if (!std::isfinite(rate.burst) || rate.burst < 1 || rate.burst > kMaxRate)
    throw Error(ErrorCode::bad_parameter, "\"rate_limit.burst\" must be a number of at least 1");
}

Error key_not_found(const std::string& id) { return Error(ErrorCode::not_found, "no API key with id " + id); }

}  // namespace

CreatedKey TenantService::create_key(const auth::Principal& caller, const core::Scope& scope, NewKey key) {
  if (key.role > caller.role)
    throw Error(ErrorCode::forbidden, "a key cannot make a key with a higher role than its own");
  if (key.name.size() > kMaxKeyName) throw Error(ErrorCode::bad_parameter, "\"name\" is longer than 255 bytes");
  if (key.rate) check_rate(*key.rate);
  CreatedKey made;
  made.secret = auth::new_key_secret();
  auto& r = made.record;
  r.id = std::string(kManagedKeyIdPrefix) + core::new_id();
  r.tenant = key_tenant(caller, scope, key.tenant);
  r.role = std::string(core::role_name(key.role));
  r.name = std::move(key.name);
  r.prefix = auth::key_prefix(made.secret);
  r.hash = auth::key_hash(made.secret);
  if (key.rate) {
    r.rate_per_second = key.rate->per_second;
    r.rate_burst = key.rate->burst;
  }
  r.created_at = core::unix_now();
  catalog_.insert_api_key(r);
  if (key_created_) key_created_();
  return made;
}

std::vector<catalog::ApiKeyRecord> TenantService::keys(const core::Scope& scope) {
  return catalog_.list_api_keys(scope.search_tenant());
}

void TenantService::revoke_key(const core::Scope& scope, const std::string& id) {
  if (!id.starts_with(kManagedKeyIdPrefix)) throw key_not_found(id);
  auto revoked = catalog_.revoke_api_key(scope.search_tenant(), id, core::unix_now());
  if (!revoked) throw key_not_found(id);
  if (key_revoked_) key_revoked_(revoked->id);
}

std::optional<auth::Principal> TenantService::principal_of_key(const std::string& hash) {
  auto key = catalog_.find_api_key(hash);
  if (!key) return std::nullopt;
  auth::Principal p;
  p.tenant = key->tenant;
  p.role = core::parse_role(key->role).value_or(core::Role::read);
  p.key_id = key->id;
  if (key->rate_per_second)
    p.rate = auth::RateLimit{*key->rate_per_second, key->rate_burst.value_or(*key->rate_per_second)};
  return p;
}

QuotaStatus TenantService::set_quota(const auth::Principal& caller, const std::string& tenant,
                                     const catalog::TenantQuota& quota) {
  if (!caller.all_tenants()) throw Error(ErrorCode::forbidden, "only an operator key (tenant *) may set quotas");
  if (!core::is_valid_tenant(tenant))
    throw Error(ErrorCode::bad_parameter, "a tenant name is 1-63 of a-z, 0-9, - and _");
  if (quota.max_bytes < 0 || quota.max_images < 0)
    throw Error(ErrorCode::bad_parameter, "\"bytes\" and \"images\" are 0 (no limit) or more");
  catalog_.set_tenant_quota(tenant, quota, false);
  return {tenant, quota, catalog_.tenant_use(tenant)};
}

QuotaStatus TenantService::quota(const core::Scope& scope, const std::string& tenant) {
  if (!core::is_valid_tenant(tenant) || !scope.sees(tenant))
    throw Error(ErrorCode::not_found, "no tenant " + tenant + " for this key");
  return {tenant, catalog_.tenant_quota(tenant).value_or(catalog::TenantQuota{}), catalog_.tenant_use(tenant)};
}

void TenantService::seed_quota(const std::string& tenant, const catalog::TenantQuota& quota) {
  catalog_.set_tenant_quota(tenant, quota, true);
}

void TenantService::check_quota(const core::Scope& scope, std::int64_t incoming_bytes) {
  catalog::check_tenant_quota(catalog_, scope.tenant, incoming_bytes);
}

}  // namespace progimage::service
