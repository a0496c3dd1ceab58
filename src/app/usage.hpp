#pragma once
// Usage of the API: each exchange counted for its tenant and client, and
// the counts written to the catalog every --usage-flush and at exit.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/server.hpp"
#include "service/usage_meter.hpp"

namespace progimage::app {

/// Counts an exchange of the /v1 API (health, metrics and the OpenAPI
/// document are not usage).
void record_usage(service::UsageMeter& meter, const http::Exchange& e);

/// Flushes the meter on a thread of its own, every `interval` and once more
/// when destroyed. A failed flush is logged; its counts wait for the next.
class UsageFlusher {
 public:
  UsageFlusher(service::UsageMeter& meter, std::chrono::milliseconds interval);
  ~UsageFlusher();
  UsageFlusher(const UsageFlusher&) = delete;
  UsageFlusher& operator=(const UsageFlusher&) = delete;

 private:
  void flush_logged();

  service::UsageMeter& meter_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace progimage::app
