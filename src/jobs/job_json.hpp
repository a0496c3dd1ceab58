#pragma once
// The job object of API.md ("Jobs"), shared by GET /v1/jobs/{id} and the
// callback body.
#include <boost/json/object.hpp>

#include <string>

#include "catalog/catalog.hpp"

namespace progimage::jobs {

/// `{"id", "status", "total", "done", "failed", "created_at", "finished_at",
/// "results": [...], "next_cursor"}` with one page of results. Derivative
/// URLs are signed with `signing_secret` when it is not empty.
boost::json::object job_json(const catalog::JobRecord& job, const catalog::ResultPage& page,
                             const std::string& signing_secret = {});

/// The URL that serves an item's derivative (store: false):
/// `/v1/images/{id}?{canonical params}[&sig=...]`.
std::string derivative_url(const std::string& image_id, const std::string& params,
                           const std::string& signing_secret = {});

/// The URL that serves a kept output (a remote source with store: false):
/// `/v1/jobs/{id}/results/{position}`.
std::string output_url(const std::string& job_id, std::int64_t position);

}  // namespace progimage::jobs
