#pragma once
// Bulk jobs (POST/GET/DELETE /v1/jobs) and preset variants
// (GET /v1/images/{id}/variants/{name}), API.md "Jobs" and "Images".
#include <functional>
#include <map>
#include <string>

#include "core/config.hpp"
#include "http/processing_pool.hpp"
#include "http/server.hpp"
#include "service/image_service.hpp"

namespace progimage::http {

struct JobsApiDeps {
  const core::Config& config;
  service::ImageService& images;
  ProcessingPool& pool;
  /// Wakes the workers of this process after items were queued (no-op when
  /// this node runs none: workers elsewhere poll the catalog).
  std::function<void()> notify_workers;
};

/// Registers the routes; `deps` must outlive the server.
void register_jobs_api(Server& server, JobsApiDeps& deps);

}  // namespace progimage::http
