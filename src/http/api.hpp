#pragma once
// The /v1 API: registers every route of API.md on a Server.
#include <functional>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "fetch/fetcher.hpp"
#include "http/processing_pool.hpp"
#include "http/server.hpp"
#include "service/image_service.hpp"

namespace progimage::http {

struct ApiDeps {
  const core::Config& config;
  service::ImageService& images;
  ProcessingPool& pool;
  /// Remote sources: the guarded fetcher and the threads that wait on the network.
  const fetch::Fetcher& fetcher;
  ProcessingPool& fetch_pool;
  /// Prometheus text for /metrics.
  std::function<std::string()> metrics_text;
  /// True when the catalog and blob store answer.
  std::function<bool()> ready;
  /// The OpenAPI document served at /openapi.json.
  std::string openapi_json;
};

/// Registers the routes; `deps` must outlive the server.
void register_api(Server& server, ApiDeps& deps);

}  // namespace progimage::http
