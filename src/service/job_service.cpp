#include "service/job_service.hpp"

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "fetch/url.hpp"
#include "ops/canonical.hpp"
#include "storage/blob_store.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

Error job_not_found(const std::string& id) { return Error(ErrorCode::not_found, "no job with id " + id); }

/// The job's output format: `format` and the transform's must agree, and a
/// job has no Accept header to choose by.
std::string job_format(const JobRequest& r) {
  std::string format = r.transform.format;
  if (!r.format.empty()) {
    auto f = core::output_format_for_extension(r.format);
    if (!f)
      throw Error(ErrorCode::bad_parameter,
                  "\"format\" " + r.format + " is not an output format; use " + core::output_extensions_text());
    if (!format.empty() && format != *f)
      throw Error(ErrorCode::bad_parameter, "\"format\" and the format in \"params\" differ");
    format = *f;
  }
  if (format == "auto")
    throw Error(ErrorCode::bad_parameter, "format=auto needs an Accept header; a job needs a fixed format");
  return format;
}

void check_sources(const JobRequest& r) {
  if (r.selector && !r.sources.empty())
    throw Error(ErrorCode::bad_parameter, "give either \"sources\" or \"query\", not both");
  if (!r.selector && r.sources.empty())
    throw Error(ErrorCode::bad_parameter, "a job needs \"sources\" (image ids or {\"url\": ...}) or \"query\"");
  if (r.sources.size() > kMaxJobSources)
    throw Error(ErrorCode::bad_parameter, "a job takes at most " + std::to_string(kMaxJobSources) +
                                              " sources, got " + std::to_string(r.sources.size()) +
                                              "; split it, or select stored images with \"query\"");
  for (const auto& s : r.sources)
    if (s.kind == catalog::ItemKind::url) fetch::parse_remote_url(s.source);  // bad_parameter for a malformed one
  if (!r.callback_url.empty()) {
    try {
      fetch::parse_remote_url(r.callback_url);
    } catch (const Error&) {
      throw Error(ErrorCode::bad_parameter, "\"callback_url\" must be an http or https URL");
    }
  }
}

}  // namespace

JobService::JobService(catalog::Catalog& catalog, storage::BlobStore& blobs, JobOptions options,
                       std::function<void()> queued)
    : catalog_(catalog), blobs_(blobs), options_(options), queued_(std::move(queued)) {}

catalog::JobRecord JobService::submit(const core::Scope& scope, const JobRequest& request) {
  check_sources(request);
  ops::TransformSpec transform = request.transform;
  transform.format = job_format(request);
  transform.fallback.clear();
  catalog::JobSpec spec;
  spec.tenant = scope.tenant;
  spec.max_attempts = options_.max_attempts;
  spec.store = request.store;
  spec.callback_url = request.callback_url;
  spec.params = ops::canonical(transform);
  spec.format = transform.format;
  auto job = catalog_.create_job(spec, request.sources, request.selector);
  if (queued_) queued_();
  return job;
}

catalog::JobRecord JobService::get(const core::Scope& scope, const std::string& id) {
  std::optional<catalog::JobRecord> job;
  if (core::looks_like_id(id)) job = catalog_.get_job(id);
  if (!job || !scope.sees(job->spec.tenant)) throw job_not_found(id);
  return std::move(*job);
}

catalog::ResultPage JobService::results(const std::string& job_id, const std::string& cursor, int limit) {
  return catalog_.job_results(job_id, cursor, limit);
}

catalog::JobRecord JobService::cancel(const core::Scope& scope, const std::string& id) {
  auto known = get(scope, id);
  auto job = catalog_.cancel_job(known.id, core::unix_now());
  if (!job) throw job_not_found(id);
  return std::move(*job);
}

catalog::JobOutput JobService::keep_output(const catalog::ClaimedItem& item, const imaging::Rendered& rendered) {
  // One key per item, not per content: a later attempt replaces the bytes,
  // and the sweep removes exactly what the item recorded.
  const auto key = core::sha256_hex("job output\n" + item.job_id + "\n" + std::to_string(item.id));
  blobs_.put(storage::Space::outputs, key, rendered.bytes);
  return {key, rendered.format, core::unix_now_ms() + options_.output_retention.count()};
}

KeptOutput JobService::output(const core::Scope& scope, const std::string& job_id, std::int64_t position) {
  auto job = get(scope, job_id);
  auto result = position >= 0 ? catalog_.job_result(job.id, position) : std::nullopt;
  if (!result)
    throw Error(ErrorCode::not_found, "job " + job.id + " has no result " + std::to_string(position) +
                                          "; results count from 0 to " + std::to_string(job.total - 1));
  const auto& kept = result->output;
  if (kept.expires_at_ms == 0)
    throw Error(ErrorCode::not_found, "result " + std::to_string(position) + " of job " + job.id +
                                          " is not a kept output; its image_id or url in the job says where it is");
  if (kept.expires_at_ms <= core::unix_now_ms() || kept.key.empty())
    throw Error(ErrorCode::result_expired, "result " + std::to_string(position) + " of job " + job.id +
                                               " expired at " + core::format_rfc3339(kept.expires_at_ms / 1000) +
                                               "; run the job again, or submit it with \"store\": true");
  std::shared_ptr<storage::LocalBlob> blob = blobs_.open(storage::Space::outputs, kept.key);
  if (!blob) throw Error(ErrorCode::result_expired, "result " + std::to_string(position) + " of job " + job.id + " is gone");
  const auto size = static_cast<std::uint64_t>(blob->size());
  return {kept.format, kept.expires_at_ms, FileSpan{blob->path(), 0, size, blob}};
}

std::size_t JobService::sweep_outputs(std::int64_t now_ms) {
  constexpr int kBatch = 500;
  std::size_t removed = 0;
  for (;;) {
    auto expired = catalog_.expired_outputs(now_ms, kBatch);
    if (expired.empty()) return removed;
    std::vector<std::int64_t> items;
    // Bytes first, then the record: a crash between leaves a key whose bytes
    // are gone, which the next sweep removes again at no cost.
    for (const auto& e : expired) {
      blobs_.remove(storage::Space::outputs, e.key);
      items.push_back(e.item_id);
    }
    catalog_.forget_outputs(items);
    removed += items.size();
    if (expired.size() < static_cast<std::size_t>(kBatch)) return removed;
  }
}

std::string JobService::callback_secret(const std::string& configured) {
  if (!configured.empty()) return configured;
  return catalog_.setting("callback_secret", core::new_secret());
}

}  // namespace progimage::service
