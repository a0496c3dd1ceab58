#pragma once
// The in-process workers: threads that lease items from the catalog's job
// queue, run them through the ImageService pipeline and record each result
// once; one more thread delivers job callbacks and removes expired outputs.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.hpp"
#include "fetch/fetcher.hpp"
#include "service/image_service.hpp"
#include "service/job_service.hpp"

namespace progimage::jobs {

struct WorkerOptions {
  int threads = 2;
  /// How long a claimed item belongs to its worker; sized for one item
  /// (fetch + transform + store). An item whose worker dies runs again after it.
  std::chrono::milliseconds lease{60'000};
  /// Retry delay after the first failed attempt; doubles per attempt, capped.
  std::chrono::milliseconds backoff{1'000};
  std::chrono::milliseconds backoff_cap{60'000};
  /// How often idle workers look for work (they are also woken by notify()).
  std::chrono::milliseconds idle_poll{500};
  /// Signs derivative URLs in callback bodies (the first URL signing secret).
  std::string url_signing_secret;
  /// HMAC-SHA256 key for X-ProgImage-Signature (always set: see
  /// JobService::callback_secret).
  std::string callback_secret;
  int callback_attempts = 5;
  std::chrono::milliseconds callback_timeout{10'000};
  std::chrono::milliseconds callback_backoff{1'000};
  /// How often kept job outputs past their retention are removed.
  std::chrono::milliseconds output_sweep{60'000};
};

/// Outcomes since start, for /metrics.
struct JobCounters {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> retried{0};
  std::atomic<std::uint64_t> duplicates{0};  // completions that found a result already recorded
  std::atomic<std::uint64_t> callbacks_delivered{0};
  std::atomic<std::uint64_t> callbacks_failed{0};
};

/// Threads: start() once, notify() from any thread, stop() once (also run by
/// the destructor). Failures of an item are stored as values (code +
/// message) in the catalog; no exception leaves a worker thread.
class WorkerPool {
 public:
  /// Items come from `queue`, run through `images` (kept outputs through
  /// `jobs`); callbacks go out through `fetcher`.
  WorkerPool(WorkerOptions options, catalog::Catalog& queue, service::ImageService& images, service::JobService& jobs,
             const fetch::Fetcher& fetcher);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void start();
  /// Wakes idle workers: new items were queued.
  void notify();
  /// Lets each worker finish the item it is running, joins the threads, and
  /// gives back the node's other leases.
  void stop();

  const JobCounters& counters() const noexcept { return counters_; }
  const std::string& node_id() const noexcept { return node_id_; }

 private:
  /// A worker thread: runs items until the pool stops, each completion
  /// bringing the next item with it while the queue has work.
  void work();
  /// An item claimed for this worker, or nullopt when the pool stops. One
  /// worker at a time claims, for every worker without an item.
  std::optional<catalog::ClaimedItem> next_item();
  std::vector<catalog::ClaimedItem> claim(int max);
  /// How many items to claim with a completion: one, unless claimed items wait.
  int wanted_with_completion();
  /// Runs the item and records its outcome; the next item when it came with
  /// the completion.
  std::optional<catalog::ClaimedItem> process(const catalog::ClaimedItem& item);
  std::optional<catalog::ClaimedItem> complete(const catalog::ClaimedItem& item, const catalog::ItemOutput& output);
  void record_failure(const catalog::ClaimedItem& item, const catalog::JobError& error);
  /// Gives back the node's leases (stop(), after the workers have gone).
  void release_leases();
  /// The background thread: delivers due callbacks and sweeps expired outputs.
  void deliver_callbacks();
  void sweep_outputs();
  catalog::ItemOutput execute(const catalog::ClaimedItem& item);
  catalog::ItemOutput run_variant(const catalog::ClaimedItem& item);
  catalog::ItemOutput run_working_copies(const catalog::ClaimedItem& item);
  catalog::ItemOutput run_stored(const catalog::ClaimedItem& item);
  catalog::ItemOutput run_url(const catalog::ClaimedItem& item);
  bool deliver(const catalog::CallbackDue& due);
  /// Sleeps up to `d` unless notified or stopping.
  void idle(std::chrono::milliseconds d);

  WorkerOptions options_;
  service::ImageService& images_;
  service::JobService& jobs_;
  catalog::Catalog& catalog_;
  const fetch::Fetcher& fetcher_;
  std::string node_id_;
  JobCounters counters_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t wakeups_ = 0;
  // Claims (under mu_): items claimed for workers that have none yet, how
  // many workers hold an item, whether one is claiming, and when the queue
  // was last found empty (at which wake-up, and until the next poll).
  std::deque<catalog::ClaimedItem> ready_;
  int busy_ = 0;
  bool claiming_ = false;
  std::uint64_t empty_at_wakeup_ = ~std::uint64_t{0};
  std::chrono::steady_clock::time_point empty_until_{};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

/// `sha256=<hex HMAC-SHA256(secret, body)>`, the X-ProgImage-Signature value.
std::string callback_signature(const std::string& secret, std::string_view body);

}  // namespace progimage::jobs
