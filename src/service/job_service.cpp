#include "service/job_service.hpp"

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "fetch/url.hpp"
#include "ops/canonical.hpp"

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
  for (const auto& s : r.sources) {
    if (s.kind != catalog::ItemKind::url) continue;
    fetch::parse_remote_url(s.source);  // bad_parameter for a malformed one
    if (!r.store)
      throw Error(ErrorCode::bad_parameter, "URL sources need \"store\": true (their results become stored images)");
  }
  if (!r.callback_url.empty()) {
    try {
      fetch::parse_remote_url(r.callback_url);
    } catch (const Error&) {
      throw Error(ErrorCode::bad_parameter, "\"callback_url\" must be an http or https URL");
    }
  }
}

}  // namespace

JobService::JobService(catalog::Catalog& catalog, int max_attempts, std::function<void()> queued)
    : catalog_(catalog), max_attempts_(max_attempts), queued_(std::move(queued)) {}

catalog::JobRecord JobService::submit(const JobRequest& request) {
  check_sources(request);
  ops::TransformSpec transform = request.transform;
  transform.format = job_format(request);
  transform.fallback.clear();
  catalog::JobSpec spec;
  spec.max_attempts = max_attempts_;
  spec.store = request.store;
  spec.callback_url = request.callback_url;
  spec.params = ops::canonical(transform);
  spec.format = transform.format;
  auto job = catalog_.create_job(spec, request.sources, request.selector);
  if (queued_) queued_();
  return job;
}

catalog::JobRecord JobService::get(const std::string& id) {
  std::optional<catalog::JobRecord> job;
  if (core::looks_like_id(id)) job = catalog_.get_job(id);
  if (!job) throw job_not_found(id);
  return std::move(*job);
}

catalog::ResultPage JobService::results(const std::string& job_id, const std::string& cursor, int limit) {
  return catalog_.job_results(job_id, cursor, limit);
}

catalog::JobRecord JobService::cancel(const std::string& id) {
  auto known = get(id);
  auto job = catalog_.cancel_job(known.id, core::unix_now());
  if (!job) throw job_not_found(id);
  return std::move(*job);
}

}  // namespace progimage::service
