#pragma once
// Per-request logs and the Prometheus metrics served at /metrics.
#include <cstdint>
#include <mutex>
#include <string>

#include "auth/rate_limiter.hpp"
#include "catalog/catalog.hpp"
#include "http/metrics.hpp"
#include "jobs/worker_pool.hpp"
#include "http/processing_pool.hpp"
#include "http/server.hpp"
#include "service/image_service.hpp"

namespace progimage::app {

class Telemetry {
 public:
  Telemetry(service::ImageService& images, http::ProcessingPool& pool, catalog::Catalog& catalog);

  /// Adds job item outcomes to the metrics (queue depth is always there).
  void watch_jobs(const jobs::JobCounters& counters) { jobs_ = &counters; }

  /// Adds the part of every rate limit this node enforces (1/N of N API nodes).
  void watch_rate_limits(const auth::RateLimiter& limiter);

  /// Logs one JSON line for the exchange and counts it.
  void record(const http::Exchange& e);
  /// Prometheus text exposition.
  std::string render();

 private:
  void sync_counter(http::Counter& c, std::uint64_t now_value);

  service::ImageService& images_;
  http::ProcessingPool& pool_;
  catalog::Catalog& catalog_;
  http::Registry registry_;
  http::Family<http::Counter>& requests_;
  http::Family<http::Histogram>& latency_;
  http::Family<http::Counter>& cache_;
  http::Counter& renders_;
  http::Counter& evictions_;
  http::Counter& working_copy_renders_;
  http::Counter& rejected_;
  http::Family<http::Counter>& job_items_;
  http::Family<http::Counter>& callbacks_;
  http::Counter& catalog_commits_;
  http::Counter& catalog_writes_;
  const jobs::JobCounters* jobs_ = nullptr;
  std::mutex sync_mutex_;
};

}  // namespace progimage::app
