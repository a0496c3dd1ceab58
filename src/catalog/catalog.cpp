#include "catalog/catalog.hpp"

#include <initializer_list>

#include "core/error.hpp"

namespace progimage::catalog {

namespace {

/// The value among `all` whose name is `s`.
template <class E, class Name>
std::optional<E> parse_name(std::string_view s, std::initializer_list<E> all, Name name) noexcept {
  for (E e : all)
    if (name(e) == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view job_status_name(JobStatus s) noexcept {
  switch (s) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
    case JobStatus::partial: return "partial";
    case JobStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<JobStatus> parse_job_status(std::string_view s) noexcept {
  return parse_name(s,
                    {JobStatus::queued, JobStatus::running, JobStatus::completed, JobStatus::failed,
                     JobStatus::partial, JobStatus::cancelled},
                    job_status_name);
}

std::string_view item_kind_name(ItemKind k) noexcept {
  switch (k) {
    case ItemKind::image: return "image";
    case ItemKind::url: return "url";
    case ItemKind::variant: return "variant";
    case ItemKind::working_copies: return "working_copies";
  }
  return "image";
}

std::optional<ItemKind> parse_item_kind(std::string_view s) noexcept {
  return parse_name(s, {ItemKind::image, ItemKind::url, ItemKind::variant, ItemKind::working_copies},
                    item_kind_name);
}

std::string_view item_status_name(ItemStatus s) noexcept {
  switch (s) {
    case ItemStatus::queued: return "queued";
    case ItemStatus::running: return "running";
    case ItemStatus::done: return "done";
    case ItemStatus::failed: return "failed";
    case ItemStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<ItemStatus> parse_item_status(std::string_view s) noexcept {
  return parse_name(s,
                    {ItemStatus::queued, ItemStatus::running, ItemStatus::done, ItemStatus::failed,
                     ItemStatus::cancelled},
                    item_status_name);
}

UsageCounts& UsageCounts::operator+=(const UsageCounts& o) noexcept {
  requests += o.requests;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  transforms += o.transforms;
  cache_hits += o.cache_hits;
  cache_misses += o.cache_misses;
  uploads += o.uploads;
  return *this;
}

std::optional<std::string> quota_refusal(const TenantQuota& quota, const TenantUse& use, std::int64_t incoming_bytes) {
  if (quota.max_images > 0 && use.images + 1 > quota.max_images)
    return "the tenant's quota of " + std::to_string(quota.max_images) + " images is used up (" +
           std::to_string(use.images) + " stored); delete images or ask for a larger quota";
  if (quota.max_bytes > 0 && use.bytes + incoming_bytes > quota.max_bytes)
    return "this upload of " + std::to_string(incoming_bytes) + " bytes would take the tenant over its quota of " +
           std::to_string(quota.max_bytes) + " bytes (" + std::to_string(use.bytes) +
           " stored); delete images or ask for a larger quota";
  return std::nullopt;
}

void check_tenant_quota(Catalog& catalog, const std::string& tenant, std::int64_t incoming_bytes) {
  auto quota = catalog.tenant_quota(tenant);
  if (!quota) return;
  if (auto refusal = quota_refusal(*quota, catalog.tenant_use(tenant), incoming_bytes))
    throw core::Error(core::ErrorCode::quota_exceeded, *refusal);
}

}  // namespace progimage::catalog
