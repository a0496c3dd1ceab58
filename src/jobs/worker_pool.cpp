#include "jobs/worker_pool.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "core/json.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"
#include "imaging/imaging.hpp"
#include "ops/parse.hpp"
#include "fetch/url.hpp"
#include "jobs/job_json.hpp"
#include "ops/canonical.hpp"

namespace progimage::jobs {

using core::Error;
using core::ErrorCode;

namespace {

/// Results sent in a callback body; the receiver pages on with GET /v1/jobs/{id}.
constexpr int kCallbackResults = 1000;

std::chrono::milliseconds backoff_after(int attempts, std::chrono::milliseconds base, std::chrono::milliseconds cap) {
  auto d = base;
  for (int i = 1; i < attempts && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

}  // namespace

std::string callback_signature(const std::string& secret, std::string_view body) {
  return "sha256=" + core::to_hex(core::hmac_sha256(secret, body));
}

WorkerPool::WorkerPool(WorkerOptions options, catalog::Catalog& queue, service::ImageService& images,
                       service::JobService& jobs, const fetch::Fetcher& fetcher)
    : options_(std::move(options)),
      images_(images),
      jobs_(jobs),
      catalog_(queue),
      fetcher_(fetcher),
      node_id_(core::this_node_id()) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { work(); });
  threads_.emplace_back([this] { deliver_callbacks(); });
  spdlog::info("{{\"msg\":\"job workers started\",\"workers\":{},\"node\":\"{}\"}}", options_.threads, node_id_);
}

void WorkerPool::notify() {
  {
    std::lock_guard lock(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void WorkerPool::stop() {
  if (threads_.empty()) return;
  stopping_.store(true);
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  release_leases();
  spdlog::info("{{\"msg\":\"job workers stopped\",\"node\":\"{}\"}}", node_id_);
}

void WorkerPool::release_leases() {
  // Items claimed but not started, and any a worker stopped before: the
  // node's leases, all in one call once no worker runs.
  try {
    if (int n = catalog_.release_leases(node_id_))
      spdlog::info("{{\"msg\":\"released job leases\",\"node\":\"{}\",\"items\":{}}}", node_id_, n);
  } catch (const std::exception& e) {
    // The leases then expire on their own.
    spdlog::warn("{{\"msg\":\"cannot release job leases\",\"error\":{}}}", boost::json::serialize(boost::json::string(e.what())));
  }
  std::lock_guard lock(mu_);
  ready_.clear();
}

void WorkerPool::idle(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  const auto seen = wakeups_;
  cv_.wait_for(lock, d, [&] { return stopping_.load() || wakeups_ != seen; });
}

void WorkerPool::work() {
  std::optional<catalog::ClaimedItem> item;
  while (!stopping_.load()) {
    if (!item) item = next_item();
    if (!item) continue;
    auto next = process(*item);
    if (!next) {
      std::lock_guard lock(mu_);
      --busy_;
    }
    item = std::move(next);
  }
  imaging::thread_shutdown();
}

std::optional<catalog::ClaimedItem> WorkerPool::next_item() {
  std::unique_lock lock(mu_);
  while (!stopping_.load()) {
    if (!ready_.empty()) {
      auto item = std::move(ready_.front());
      ready_.pop_front();
      ++busy_;
      return item;
    }
    if (claiming_) {
      cv_.wait(lock);  // the claiming worker hands out what it gets
      continue;
    }
    if (wakeups_ == empty_at_wakeup_ && std::chrono::steady_clock::now() < empty_until_) {
      // The queue was empty a moment ago and nothing was queued since:
      // wait for a wake-up or the next poll instead of asking again.
      const auto seen = wakeups_;
      cv_.wait_until(lock, empty_until_,
                     [&] { return stopping_.load() || wakeups_ != seen || !ready_.empty(); });
      continue;
    }
    // One claim for every worker without an item: a small batch in one trip.
    claiming_ = true;
    const int wanted = options_.threads - busy_;
    const auto seen = wakeups_;
    lock.unlock();
    auto items = claim(wanted);
    lock.lock();
    claiming_ = false;
    if (items.empty()) {
      empty_at_wakeup_ = seen;
      empty_until_ = std::chrono::steady_clock::now() + options_.idle_poll;
    }
    for (auto& item : items) ready_.push_back(std::move(item));
    cv_.notify_all();
  }
  return std::nullopt;
}

std::vector<catalog::ClaimedItem> WorkerPool::claim(int max) {
  try {
    return catalog_.claim_items(node_id_, max, options_.lease.count(), core::unix_now_ms());
  } catch (const std::exception& e) {
    spdlog::warn("{{\"msg\":\"cannot claim job items\",\"error\":{}}}", boost::json::serialize(boost::json::string(e.what())));
    return {};
  }
}

int WorkerPool::wanted_with_completion() {
  // Claimed items nobody has taken yet come first; a stopping pool takes none.
  std::lock_guard lock(mu_);
  return stopping_.load() || !ready_.empty() ? 0 : 1;
}

std::optional<catalog::ClaimedItem> WorkerPool::process(const catalog::ClaimedItem& item) {
  std::optional<catalog::JobError> error;
  catalog::ItemOutput output;
  try {
    output = execute(item);
  } catch (const Error& e) {
    error = catalog::JobError{std::string(core::code_name(e.code())), e.what()};
    if (e.code() == ErrorCode::internal) {
      // Not shown to clients; the log keeps what happened.
      error->message = "internal error";
      spdlog::error("{{\"msg\":\"job item failed\",\"item\":{},\"error\":{}}}", item.id,
                    boost::json::serialize(boost::json::string(e.what())));
    }
  } catch (const std::exception& e) {
    error = catalog::JobError{"internal", "internal error"};
    spdlog::error("{{\"msg\":\"job item failed\",\"item\":{},\"error\":{}}}", item.id,
                  boost::json::serialize(boost::json::string(e.what())));
  }
  try {
    if (!error) return complete(item, output);
    record_failure(item, *error);
  } catch (const std::exception& e) {
    // The lease expires and another attempt records the result.
    spdlog::warn("{{\"msg\":\"cannot record a job item\",\"item\":{},\"error\":{}}}", item.id,
                 boost::json::serialize(boost::json::string(e.what())));
  }
  return std::nullopt;
}

std::optional<catalog::ClaimedItem> WorkerPool::complete(const catalog::ClaimedItem& item,
                                                         const catalog::ItemOutput& output) {
  const catalog::ClaimRequest next{node_id_, wanted_with_completion(), options_.lease.count()};
  auto done = catalog_.complete_and_claim(item.id, output, next, core::unix_now_ms());
  if (done.recorded) counters_.done.fetch_add(1);
  else counters_.duplicates.fetch_add(1);  // someone else recorded it first
  if (done.next.empty()) return std::nullopt;
  return std::move(done.next.front());
}

void WorkerPool::record_failure(const catalog::ClaimedItem& item, const catalog::JobError& error) {
  const auto now = core::unix_now_ms();
  std::optional<std::int64_t> retry_at;
  if (item.attempts < item.max_attempts)
    retry_at = now + backoff_after(item.attempts, options_.backoff, options_.backoff_cap).count();
  if (catalog_.fail_item(item.id, item.lease_token, error, retry_at, now)) {
    if (retry_at) counters_.retried.fetch_add(1);
    else counters_.failed.fetch_add(1);
  }
  spdlog::info("{{\"msg\":\"job item attempt failed\",\"item\":{},\"job\":\"{}\",\"attempt\":{},\"code\":\"{}\","
               "\"error\":{},\"retry\":{}}}",
               item.id, item.job_id, item.attempts, error.code,
               boost::json::serialize(boost::json::string(error.message)), retry_at.has_value());
}

catalog::ItemOutput WorkerPool::execute(const catalog::ClaimedItem& item) {
  switch (item.kind) {
    case catalog::ItemKind::variant: return run_variant(item);
    case catalog::ItemKind::working_copies: return run_working_copies(item);
    case catalog::ItemKind::image: return run_stored(item);
    case catalog::ItemKind::url: return run_url(item);
  }
  throw Error(ErrorCode::internal, "unknown item kind");
}

catalog::ItemOutput WorkerPool::run_variant(const catalog::ClaimedItem& item) {
  // A variant item has no job: the image says whose it is.
  auto rec = images_.get(core::Scope::everyone(), item.source);
  // The same cache as the read path: a variant is the derivative GET would serve.
  auto plan = images_.variant_plan(rec, item.variant);
  if (!images_.is_cached(plan)) images_.render(rec, plan);
  return {"", plan.key};
}

catalog::ItemOutput WorkerPool::run_working_copies(const catalog::ClaimedItem& item) {
  // Like a variant, it belongs to no job: the image is found whoever owns it.
  images_.make_working_copies(images_.get(core::Scope::everyone(), item.source));
  return {};
}

catalog::ItemOutput WorkerPool::run_stored(const catalog::ClaimedItem& item) {
  // A job works in its tenant: its sources, watermarks and results are the tenant's.
  const auto scope = core::Scope::of(item.spec.tenant);
  auto rec = images_.get(scope, item.source);
  auto plan = images_.plan(rec, images_.parse(ops::split_query(item.spec.params)));
  if (!item.spec.store) {
    if (!images_.is_cached(plan)) images_.render(rec, plan);
    return {"", plan.key};
  }
  auto rendered = images_.cached_or_render(rec, plan);
  auto stored = images_.store_rendered(scope, *rendered.bytes, rec.name);
  return {stored.image.id, ""};
}

catalog::ItemOutput WorkerPool::run_url(const catalog::ClaimedItem& item) {
  const auto scope = core::Scope::of(item.spec.tenant);
  auto upload = images_.fetch(item.source);
  auto spec = images_.parse(ops::split_query(item.spec.params));
  const auto name = fetch::file_name_from_url(item.source);
  if (item.spec.store && ops::is_identity(spec)) {
    // An import: the fetched bytes themselves become the image.
    service::UploadMeta meta;
    meta.name = name;
    return {images_.ingest(scope, upload, meta).image.id, ""};
  }
  auto out = images_.transform(scope, upload, std::move(spec));
  if (!item.spec.store) return {"", "", jobs_.keep_output(item, out.output)};
  return {images_.store_rendered(scope, out.output.bytes, name).image.id, ""};
}

// ---- callbacks ---------------------------------------------------------------

void WorkerPool::sweep_outputs() {
  try {
    if (auto n = jobs_.sweep_outputs(core::unix_now_ms()))
      spdlog::info("{{\"msg\":\"removed expired job outputs\",\"outputs\":{}}}", n);
  } catch (const std::exception& e) {
    // The next sweep tries again; an expired output answers 410 meanwhile.
    spdlog::warn("{{\"msg\":\"cannot sweep job outputs\",\"error\":{}}}",
                 boost::json::serialize(boost::json::string(e.what())));
  }
}

void WorkerPool::deliver_callbacks() {
  auto next_sweep = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (std::chrono::steady_clock::now() >= next_sweep) {
      sweep_outputs();
      next_sweep = std::chrono::steady_clock::now() + options_.output_sweep;
    }
    std::vector<catalog::CallbackDue> due;
    try {
      const auto lease = options_.callback_timeout + std::chrono::seconds(5);
      due = catalog_.claim_callbacks(4, lease.count(), core::unix_now_ms());
    } catch (const std::exception& e) {
      spdlog::warn("{{\"msg\":\"cannot read due callbacks\",\"error\":{}}}", boost::json::serialize(boost::json::string(e.what())));
    }
    for (const auto& d : due) {
      if (stopping_.load()) break;  // its lease expires and a later run sends it
      bool delivered = false;
      try {
        delivered = deliver(d);
      } catch (const std::exception& e) {
        spdlog::info("{{\"msg\":\"callback failed\",\"job\":\"{}\",\"error\":{}}}", d.job.id,
                     boost::json::serialize(boost::json::string(e.what())));
      }
      const int attempts = d.attempts + 1;
      std::optional<std::int64_t> retry_at;
      if (!delivered && attempts < options_.callback_attempts)
        retry_at = core::unix_now_ms() +
                   backoff_after(attempts, options_.callback_backoff, options_.backoff_cap).count();
      try {
        catalog_.record_callback(d.job.id, delivered, retry_at);
        if (delivered) counters_.callbacks_delivered.fetch_add(1);
        else if (!retry_at) counters_.callbacks_failed.fetch_add(1);
      } catch (const std::exception& e) {
        spdlog::warn("{{\"msg\":\"cannot record a callback\",\"job\":\"{}\",\"error\":{}}}", d.job.id,
                     boost::json::serialize(boost::json::string(e.what())));
      }
    }
    if (due.empty()) idle(std::chrono::milliseconds(250));
  }
}

bool WorkerPool::deliver(const catalog::CallbackDue& due) {
  auto page = catalog_.job_results(due.job.id, "", kCallbackResults);
  const auto body = core::json_text(job_json(due.job, page, options_.url_signing_secret));
  std::vector<fetch::HttpHeader> headers{{"X-ProgImage-Job", due.job.id},
                                         {"X-ProgImage-Delivery", std::to_string(due.attempts + 1)}};
  if (!options_.callback_secret.empty())
    headers.emplace_back("X-ProgImage-Signature", callback_signature(options_.callback_secret, body));
  const long status = fetcher_.post_json(due.job.spec.callback_url, body, headers, options_.callback_timeout);
  spdlog::info("{{\"msg\":\"callback sent\",\"job\":\"{}\",\"attempt\":{},\"status\":{}}}", due.job.id,
               due.attempts + 1, status);
  return status >= 200 && status < 300;
}

}  // namespace progimage::jobs
