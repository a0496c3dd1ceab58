#include "app/usage.hpp"

#include <spdlog/spdlog.h>

namespace progimage::app {

void record_usage(service::UsageMeter& meter, const http::Exchange& e) {
  if (!e.request.path.starts_with("/v1/")) return;
  catalog::UsageCounts counts;
  counts.requests = 1;
  counts.bytes_in = static_cast<std::int64_t>(e.bytes_in);
  counts.bytes_out = static_cast<std::int64_t>(e.bytes_out);
  counts.transforms = e.work.transforms;
  counts.cache_hits = e.work.cache_hits;
  counts.cache_misses = e.work.cache_misses;
  counts.uploads = e.work.uploads;
  const auto& who = e.request.principal;
  meter.record(e.request.scope.tenant, who ? who->client_id() : std::string(), counts);
}

UsageFlusher::UsageFlusher(service::UsageMeter& meter, std::chrono::milliseconds interval)
    : meter_(meter), interval_(interval), thread_([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
          wake_.wait_for(lock, interval_, [this] { return stopping_; });
          lock.unlock();
          flush_logged();
          lock.lock();
        }
      }) {}

UsageFlusher::~UsageFlusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();  // its last round flushed what the server counted
}

void UsageFlusher::flush_logged() {
  try {
    meter_.flush();
  } catch (const std::exception& e) {
    spdlog::warn("{{\"msg\":\"usage could not be written; kept for the next flush\",\"error\":\"{}\"}}", e.what());
  }
}

}  // namespace progimage::app
