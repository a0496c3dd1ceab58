#include "catalog/records.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/json.hpp>

#include "core/id.hpp"
#include "core/tags.hpp"
#include "core/tenant.hpp"
#include "core/time.hpp"

namespace progimage::catalog {

namespace {

/// The error recorded in columns `code_col` and `code_col + 1`, when any.
std::optional<JobError> read_error(const Row& row, int code_col) {
  if (row.is_null(code_col)) return std::nullopt;
  return JobError{row.text(code_col), row.text(code_col + 1)};
}

ItemKind read_kind(const Row& row, int col) { return parse_item_kind(row.text(col)).value_or(ItemKind::image); }

}  // namespace

core::ImageRecord read_image(const Row& row) {
  core::ImageRecord r;
  r.id = row.text(0);
  r.sha256 = row.text(1);
  r.format = row.text(2);
  r.width = row.integer(3);
  r.height = row.integer(4);
  r.size = row.int64(5);
  r.frames = row.integer(6);
  r.has_alpha = row.int64(7) != 0;
  r.created_at = row.int64(8);
  r.name = row.text(9);
  r.description = row.text(10);
  r.camera_make = row.text(11);
  r.camera_model = row.text(12);
  if (!row.is_null(13) && !row.is_null(14)) r.focus = core::FocusPoint{row.real(13), row.real(14)};
  r.metadata_json = row.text(15);
  r.tenant = row.text(16);
  // Stored as the signed 64-bit integer with the same bits (SQL has no unsigned type).
  if (!row.is_null(17)) r.phash = static_cast<std::uint64_t>(row.int64(17));
  const auto tags = boost::json::parse(row.text(18)).as_array();
  for (const auto& t : tags) r.tags.emplace_back(t.as_string());
  std::sort(r.tags.begin(), r.tags.end());
  if (!row.is_null(19)) {
    const auto variants = boost::json::parse(row.text(19));
    if (variants.is_object())
      for (const auto& [name, status] : variants.as_object())
        if (status.is_string()) r.variants[std::string(name)] = std::string(status.as_string());
  }
  return r;
}

const std::string kDerivativeColumns =
    "key, sha256, params, format, width, height, size, created_at, last_used_at, tenant";

DerivativeRecord read_derivative(const Row& row) {
  DerivativeRecord d;
  d.key = row.text(0);
  d.sha256 = row.text(1);
  d.params = row.text(2);
  d.format = row.text(3);
  d.width = row.integer(4);
  d.height = row.integer(5);
  d.size = row.int64(6);
  d.created_at = row.int64(7);
  d.last_used_at = row.int64(8);
  d.tenant = row.text(9);
  return d;
}

const std::string kJobColumns =
    "id, status, params, format, store, max_attempts, total, done, failed, cancelled, created_at, finished_at,"
    " callback_url, callback_state, tenant";

JobRecord read_job(const Row& row) {
  JobRecord j;
  j.id = row.text(0);
  j.spec.id = j.id;
  j.status = parse_job_status(row.text(1)).value_or(JobStatus::queued);
  j.spec.params = row.text(2);
  j.spec.format = row.text(3);
  j.spec.store = row.int64(4) != 0;
  j.spec.max_attempts = row.integer(5);
  j.total = row.int64(6);
  j.done = row.int64(7);
  j.failed = row.int64(8);
  j.cancelled = row.int64(9);
  j.created_at = row.int64(10);
  j.spec.created_at = j.created_at;
  if (!row.is_null(11)) j.finished_at = row.int64(11);
  j.spec.callback_url = row.text(12);
  j.callback_state = row.text(13);
  j.spec.tenant = row.text(14);
  return j;
}

const std::string kItemResultColumns =
    "position, kind, source, status, attempts, result_image_id, result_key, error_code, error_message,"
    " result_output_key, result_format, COALESCE(result_expires_at, 0)";

ItemResult read_item_result(const Row& row) {
  ItemResult item;
  item.position = row.int64(0);
  item.kind = read_kind(row, 1);
  item.source = row.text(2);
  item.status = parse_item_status(row.text(3)).value_or(ItemStatus::queued);
  item.attempts = row.integer(4);
  item.image_id = row.text(5);
  item.derivative_key = row.text(6);
  item.output = JobOutput{row.text(9), row.text(10), row.int64(11)};
  // A retried item keeps its last error until it ends: only a failed one shows it.
  if (item.status == ItemStatus::failed) item.error = read_error(row, 7);
  return item;
}

const std::string kClaimedItemColumns =
    "id, COALESCE(job_id, ''), kind, source, variant, attempts, max_attempts, lease_token";

ClaimedItem read_claimed_item(const Row& row) {
  ClaimedItem item;
  item.id = row.int64(0);
  item.job_id = row.text(1);
  item.kind = read_kind(row, 2);
  item.source = row.text(3);
  item.variant = row.text(4);
  item.attempts = row.integer(5);
  item.max_attempts = row.integer(6);
  item.lease_token = row.int64(7);
  return item;
}

const std::string kWorkingCopyColumns = "sha256, level, key, format, width, height, size, created_at";

WorkingCopyRecord read_working_copy(const Row& row) {
  WorkingCopyRecord c;
  c.sha256 = row.text(0);
  c.level = row.integer(1);
  c.key = row.text(2);
  c.format = row.text(3);
  c.width = row.integer(4);
  c.height = row.integer(5);
  c.size = row.int64(6);
  c.created_at = row.int64(7);
  return c;
}

const std::string kVariantColumns = "status, derivative_key, error_code, error_message";

VariantState read_variant(const Row& row) { return VariantState{row.text(0), row.text(1), read_error(row, 2)}; }

const std::string kApiKeyColumns =
    "id, tenant, role, name, prefix, hash, rate_per_second, rate_burst, created_at, last_used_at";

ApiKeyRecord read_api_key(const Row& s) {
  ApiKeyRecord k;
  k.id = s.text(0);
  k.tenant = s.text(1);
  k.role = s.text(2);
  k.name = s.text(3);
  k.prefix = s.text(4);
  k.hash = s.text(5);
  if (!s.is_null(6)) k.rate_per_second = s.real(6);
  if (!s.is_null(7)) k.rate_burst = s.real(7);
  k.created_at = s.int64(8);
  if (!s.is_null(9)) k.last_used_at = s.int64(9);
  return k;
}

UsageCounts read_usage_counts(const Row& s, int first) {
  UsageCounts c;
  c.requests = s.int64(first);
  c.bytes_in = s.int64(first + 1);
  c.bytes_out = s.int64(first + 2);
  c.transforms = s.int64(first + 3);
  c.cache_hits = s.int64(first + 4);
  c.cache_misses = s.int64(first + 5);
  c.uploads = s.int64(first + 6);
  return c;
}

const std::string kFinishedItemColumns = "COALESCE(job_id, ''), kind, source, variant";

FinishedItem read_finished_item(const Row& row) {
  return FinishedItem{row.text(0), read_kind(row, 1), row.text(2), row.text(3)};
}

FinishedItem finished_item(const ClaimedItem& item) { return FinishedItem{item.job_id, item.kind, item.source, item.variant}; }

core::ImageRecord image_for_insert(core::ImageRecord image) {
  if (image.sha256.empty()) throw std::invalid_argument("catalog: image without sha256");
  if (!core::is_valid_tenant(image.tenant)) throw std::invalid_argument("catalog: image without a valid tenant");
  if (image.id.empty()) image.id = core::new_id();
  if (image.created_at == 0) image.created_at = core::unix_now();
  if (image.metadata_json.empty()) image.metadata_json = "{}";
  boost::system::error_code ec;
  auto meta = boost::json::parse(image.metadata_json, ec);
  if (ec || !meta.is_object()) throw std::invalid_argument("catalog: metadata_json is not a JSON object");
  image.tags = core::normalize_tags(image.tags);
  for (auto& [name, status] : image.variants) status = "pending";
  return image;
}

JobSpec job_spec_for_insert(JobSpec spec, std::int64_t now_ms) {
  if (!core::is_valid_tenant(spec.tenant)) throw std::invalid_argument("catalog: job without a valid tenant");
  if (spec.id.empty()) spec.id = core::new_id();
  if (spec.created_at == 0) spec.created_at = now_ms / 1000;
  if (spec.max_attempts < 1) spec.max_attempts = 1;
  return spec;
}

}  // namespace progimage::catalog
