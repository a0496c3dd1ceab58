#include "app/telemetry.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "core/time.hpp"

namespace progimage::app {

Telemetry::Telemetry(service::ImageService& images, http::ProcessingPool& pool, catalog::Catalog& catalog)
    : images_(images),
      pool_(pool),
      catalog_(catalog),
      requests_(registry_.counter("progimage_http_requests_total", "HTTP requests by route and status",
                                  {"method", "route", "status"})),
      latency_(registry_.histogram("progimage_http_request_duration_seconds",
                                   "HTTP request latency by route and status", {"method", "route", "status"})),
      cache_(registry_.counter("progimage_derivative_cache_total", "derivative cache lookups by result", {"result"})),
      renders_(registry_.counter("progimage_derivative_renders_total", "derivatives computed by the pipeline")
                   .with({})),
      evictions_(registry_.counter("progimage_derivative_evictions_total", "derivatives evicted by the cache budget")
                     .with({})),
      working_copy_renders_(registry_.counter("progimage_working_copy_renders_total",
                                              "renders that decoded a working copy instead of the original")
                                .with({})),
      rejected_(registry_.counter("progimage_processing_rejected_total",
                                  "image tasks refused with 503 because the processing pool was full")
                    .with({})),
      job_items_(registry_.counter("progimage_job_items_total",
                                   "job and variant item attempts by outcome (done, failed, retried, duplicate)",
                                   {"outcome"})),
      callbacks_(registry_.counter("progimage_job_callbacks_total", "job callbacks by outcome", {"outcome"})),
      catalog_commits_(registry_.counter("progimage_catalog_commits_total",
                                         "durable catalog transactions committed (SQLite; each one fsync)")
                           .with({})),
      catalog_writes_(registry_.counter("progimage_catalog_writes_total",
                                        "durable catalog writes those commits carried (group commit: more than one each)")
                          .with({})) {
  for (const char* outcome : {"done", "failed", "retried", "duplicate"}) job_items_.with({outcome});
  // Queue depth comes from the catalog: it counts the items of every node.
  registry_.gauge("progimage_job_queue_items", "job and variant items waiting (queued) or leased (running)",
                  {"status"})
      .with({"queued"})
      .set_function([this] { return static_cast<double>(catalog_.queue_depth().queued); });
  registry_.gauge("progimage_job_queue_items", "job and variant items waiting (queued) or leased (running)",
                  {"status"})
      .with({"running"})
      .set_function([this] { return static_cast<double>(catalog_.queue_depth().running); });
  registry_.gauge("progimage_processing_pending", "image tasks running or waiting in the processing pool")
      .with({})
      .set_function([this] { return static_cast<double>(pool_.pending()); });
  registry_.gauge("progimage_processing_capacity", "image tasks the pool accepts before answering 503")
      .with({})
      .set_function([this] { return static_cast<double>(pool_.capacity()); });
  auto& operations = registry_.histogram("progimage_processing_seconds",
                                         "image operation time by operation (ingest, render, transform, explain, similar)",
                                         {"operation"});
  images_.set_operation_observer(
      [&operations](std::string_view op, double seconds) { operations.with({op}).observe(seconds); });
  registry_.gauge("progimage_bytes_stored", "bytes of originals stored, each blob once")
      .with({})
      .set_function([this] { return static_cast<double>(catalog_.stats(core::unix_now(), {}).bytes_stored); });
  registry_.gauge("progimage_similar_index_images", "stored images in this node's similar-image index")
      .with({})
      .set_function([this] { return static_cast<double>(images_.similar_index_size()); });
  registry_.gauge("progimage_derivative_cache_bytes", "bytes held by the derivative cache")
      .with({})
      .set_function([this] { return static_cast<double>(catalog_.derivative_bytes()); });
}

void Telemetry::watch_rate_limits(const auth::RateLimiter& limiter) {
  registry_.gauge("progimage_rate_limit_share",
                  "the part of every key's and token subject's rate this node admits (1/N with N API nodes)")
      .with({})
      .set_function([&limiter] { return limiter.share(); });
}

void Telemetry::record(const http::Exchange& e) {
  auto status = std::to_string(e.status);
  requests_.with({e.request.method, e.request.route, status}).inc();
  latency_.with({e.request.method, e.request.route, status}).observe(e.seconds);

  boost::json::object line;
  line["msg"] = "request";
  line["request_id"] = e.request.request_id;
  line["method"] = e.request.method;
  line["path"] = e.request.path;
  line["route"] = e.request.route;
  line["status"] = e.status;
  line["duration_us"] = static_cast<std::int64_t>(e.seconds * 1e6);
  line["bytes_in"] = e.bytes_in;
  line["bytes_out"] = e.bytes_out;
  line["remote"] = e.remote;
  if (!e.error_message.empty()) line["error"] = e.error_message;
  auto text = boost::json::serialize(line);
  if (e.status >= 500 && e.status != 503) spdlog::error("{}", text);
  else spdlog::info("{}", text);
}

void Telemetry::sync_counter(http::Counter& c, std::uint64_t now_value) {
  auto seen = c.value();
  if (now_value > seen) c.inc(now_value - seen);
}

std::string Telemetry::render() {
  {
    // The service keeps plain atomics; carry them into the registry here.
    std::lock_guard lock(sync_mutex_);
    const auto& k = images_.counters();
    sync_counter(cache_.with({"hit"}), k.cache_hits.load());
    sync_counter(cache_.with({"miss"}), k.cache_misses.load());
    sync_counter(renders_, k.renders.load());
    sync_counter(evictions_, k.evictions.load());
    sync_counter(working_copy_renders_, k.working_copy_renders.load());
    const auto commits = catalog_.commit_counts();
    sync_counter(catalog_commits_, commits.commits);
    sync_counter(catalog_writes_, commits.writes);
    sync_counter(rejected_, pool_.rejected());
    if (jobs_) {
      sync_counter(job_items_.with({"done"}), jobs_->done.load());
      sync_counter(job_items_.with({"failed"}), jobs_->failed.load());
      sync_counter(job_items_.with({"retried"}), jobs_->retried.load());
      sync_counter(job_items_.with({"duplicate"}), jobs_->duplicates.load());
      sync_counter(callbacks_.with({"delivered"}), jobs_->callbacks_delivered.load());
      sync_counter(callbacks_.with({"failed"}), jobs_->callbacks_failed.load());
    }
  }
  return registry_.render();
}

}  // namespace progimage::app
