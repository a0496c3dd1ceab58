// The job queue alone, without image work: job items per second through the
// catalog's claim and completion, with 1..N workers, on SQLite or PostgreSQL.
//   job_queue CATALOG_URL ITEMS WORKERS...     e.g. job_queue sqlite:///tmp/q.db 20000 1 2 4
// Each worker follows the pool's protocol (src/jobs/worker_pool.cpp): it
// claims one item, and each completion brings its next item in the same
// transaction (Catalog::complete_and_claim). "separate" runs the protocol of
// before, a claim and a completion in two transactions, for comparison.
// Every run checks that the job ended with each item done exactly once.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/postgres_catalog.hpp"
#include "catalog/sqlite_catalog.hpp"
#include "core/time.hpp"

using namespace progimage;

namespace {

constexpr std::int64_t kLeaseMs = 60'000;

std::unique_ptr<catalog::Catalog> open_catalog(const std::string& url) {
  if (url.starts_with("sqlite://")) return std::make_unique<catalog::SqliteCatalog>(url.substr(9));
  return std::make_unique<catalog::PostgresCatalog>(url);
}

std::string make_job(catalog::Catalog& c, int items) {
  std::vector<catalog::JobSource> sources;
  for (int i = 0; i < items; ++i) sources.push_back({catalog::ItemKind::url, "https://example.com/" + std::to_string(i)});
  catalog::JobSpec spec;
  spec.params = "w=300";
  return c.create_job(spec, sources, std::nullopt).id;
}

/// One worker until the queue is empty; the items it recorded.
long work_chained(catalog::Catalog& c, const std::string& worker) {
  long recorded = 0;
  auto items = c.claim_items(worker, 1, kLeaseMs, core::unix_now_ms());
  while (!items.empty()) {
    auto done = c.complete_and_claim(items.front().id, {"", "k"}, {worker, 1, kLeaseMs}, core::unix_now_ms());
    recorded += done.recorded;
    items = std::move(done.next);
  }
  return recorded;
}

long work_separate(catalog::Catalog& c, const std::string& worker) {
  long recorded = 0;
  for (;;) {
    auto items = c.claim_items(worker, 1, kLeaseMs, core::unix_now_ms());
    if (items.empty()) return recorded;
    recorded += c.complete_item(items.front().id, {"", "k"}, core::unix_now_ms());
  }
}

/// Items per second with `workers` threads; -1 when the job is not exactly done.
double run(catalog::Catalog& c, int items, int workers, bool chained) {
  const auto job = make_job(c, items);
  std::atomic<long> recorded{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      const std::string worker = "bench-" + std::to_string(w);
      recorded += chained ? work_chained(c, worker) : work_separate(c, worker);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto record = c.get_job(job);
  if (recorded != items || !record || record->done != items || record->status != catalog::JobStatus::completed) {
    std::fprintf(stderr, "job %s: %ld recorded, %lld done of %d\n", job.c_str(), recorded.load(),
                 record ? static_cast<long long>(record->done) : -1LL, items);
    return -1;
  }
  return items / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: job_queue CATALOG_URL ITEMS WORKERS...\n");
    return 2;
  }
  auto catalog = open_catalog(argv[1]);
  const int items = std::atoi(argv[2]);
  int status = 0;
  run(*catalog, 500, 1, true);  // warm-up: connections, prepared statements, caches
  for (int i = 3; i < argc; ++i) {
    const int workers = std::atoi(argv[i]);
    for (bool chained : {true, false}) {
      const double rate = run(*catalog, items, workers, chained);
      if (rate < 0) status = 1;
      std::printf("%d\t%s\t%.0f\n", workers, chained ? "chained" : "separate", rate);
      std::fflush(stdout);
    }
  }
  return status;
}
