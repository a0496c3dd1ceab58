#pragma once
// The /v1 API of docs/API.md: registers the routes of each resource on a
// Server. Handlers parse and answer HTTP; the use cases are the service's.
#include <functional>
#include <string>

#include "core/config.hpp"
#include "http/processing_pool.hpp"
#include "http/server.hpp"
#include "service/image_service.hpp"
#include "service/job_service.hpp"
#include "service/resumable.hpp"
#include "service/upload_links.hpp"
#include "service/tenant_service.hpp"
#include "service/usage_meter.hpp"

namespace progimage::http {

/// What the handlers need; must outlive the server.
struct ApiContext {
  const core::Config& config;  // body limits and URL signing secrets
  service::ImageService& images;
  service::JobService& jobs;
  service::TenantService& tenants;
  service::UsageMeter& usage;
  service::UploadLinks& upload_links;
  service::ResumableUploads& resumable;
  ProcessingPool& pool;        // image work and blocking catalog calls
  ProcessingPool& fetch_pool;  // remote fetches: they wait on the network, not the CPU
  std::function<std::string()> metrics_text;  // Prometheus text for /metrics
  std::string openapi_json;                   // served at /openapi.json
};

/// Registers the routes a node of `role` serves: a worker node answers only
/// /healthz, /readyz and /metrics.
void register_api(Server& server, ApiContext& context, core::NodeRole role);

}  // namespace progimage::http
