#include "service/usage_meter.hpp"

#include <chrono>
#include <functional>

#include "core/error.hpp"
#include "core/time.hpp"
#include "service/tenant_service.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::int64_t kDefaultDays = 30;
constexpr std::int64_t kMaxDays = 366;

std::int64_t today() { return core::unix_now() / 86400; }

/// The day number of YYYY-MM-DD; throws bad_parameter naming `what`.
std::int64_t parse_day(const std::string& text, const char* what) {
  auto seconds = core::parse_rfc3339(text + "T00:00:00Z");
  if (text.size() != 10 || !seconds)
    throw Error(ErrorCode::bad_parameter, std::string(what) + " must be a day as YYYY-MM-DD, got \"" + text + "\"");
  return *seconds / 86400;
}

}  // namespace

std::string day_text(std::int64_t day) {
  const std::chrono::sys_days d{std::chrono::days{day}};
  const std::chrono::year_month_day ymd{d};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return out;
}

std::size_t UsageMeter::KeyHash::operator()(const Key& k) const noexcept {
  const std::hash<std::string> h;
  return h(k.tenant) * 31 + h(k.client) * 7 + static_cast<std::size_t>(k.day);
}

void UsageMeter::record(const std::string& tenant, const std::string& client, const catalog::UsageCounts& counts) {
  const auto now = core::unix_now();
  std::lock_guard lock(mutex_);
  pending_[Key{now / 86400, tenant, client}] += counts;
  if (client.starts_with(kManagedKeyIdPrefix)) {
    // A token's client is "key:subject"; the key is what was used.
    keys_used_[client] = now;
  }
}

void UsageMeter::flush() {
  std::lock_guard one_at_a_time(flush_mutex_);
  decltype(pending_) batch;
  decltype(keys_used_) used;
  {
    std::lock_guard lock(mutex_);
    batch.swap(pending_);
    used.swap(keys_used_);
  }
  std::vector<catalog::UsageRow> rows;
  rows.reserve(batch.size());
  for (const auto& [key, counts] : batch) rows.push_back({day_text(key.day), key.tenant, key.client, counts});
  try {
    catalog_.add_usage(rows, day_text(today()));
    catalog_.mark_keys_used({used.begin(), used.end()});
  } catch (...) {
    // Counted again next time: nothing is lost while the catalog is away.
    std::lock_guard lock(mutex_);
    for (const auto& [key, counts] : batch) pending_[key] += counts;
    for (const auto& [id, when] : used) keys_used_.try_emplace(id, when);
    throw;
  }
}

UsageReport UsageMeter::report(const core::Scope& scope, const std::string& client, std::string from_day,
                               std::string to_day) {
  const std::int64_t to = to_day.empty() ? today() : parse_day(to_day, "to");
  const std::int64_t from = from_day.empty() ? to - (kDefaultDays - 1) : parse_day(from_day, "from");
  if (from > to) throw Error(ErrorCode::bad_parameter, "from must not be after to");
  if (to - from >= kMaxDays) throw Error(ErrorCode::bad_parameter, "ask for 366 days at most");
  flush();
  catalog::UsageQuery query{scope.search_tenant(), client, day_text(from), day_text(to)};
  return UsageReport{query.from_day, query.to_day, catalog_.usage(query), catalog_.stored_by_day(query)};
}

}  // namespace progimage::service
