// The job queue, written against the Catalog interface only (every test runs
// once per backend in CatalogFactories): leases, expiry, backoff, dead items,
// idempotent completion, roll-up, cancel, callbacks and variants.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "catalog/catalog.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

using namespace progimage;
using namespace progimage::catalog;
using namespace progimage::catalog::test_support;

namespace {

template <class Factory>
class JobQueueTest : public CatalogFixture<Factory> {
 protected:
  std::string add_image(const std::string& tag = "", std::map<std::string, std::string> variants = {}) {
    core::ImageRecord r;
    r.sha256 = core::sha256_hex(core::new_id());
    r.format = "png";
    r.width = r.height = 10;
    r.size = 100;
    if (!tag.empty()) r.tags = {tag};
    r.variants = std::move(variants);
    return this->catalog().insert_image(r).image.id;
  }

  std::string make_job(int n, int max_attempts = 3, std::string callback = "") {
    std::vector<JobSource> sources;
    for (int i = 0; i < n; ++i) sources.push_back({ItemKind::url, "https://example.com/" + std::to_string(i)});
    JobSpec spec;
    spec.params = "w=300";
    spec.max_attempts = max_attempts;
    spec.callback_url = std::move(callback);
    return this->catalog().create_job(spec, sources, std::nullopt).id;
  }
};
TYPED_TEST_SUITE(JobQueueTest, CatalogFactories, FactoryName);

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kLease = 30'000;

}  // namespace

TYPED_TEST(JobQueueTest, CreateJobCountsItemsAndClaimsThemOnce) {
  Catalog& c = this->catalog();
  auto id = this->make_job(5);
  auto job = c.get_job(id);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->total, 5);
  EXPECT_EQ(job->status, JobStatus::queued);
  auto a = c.claim_items("w1", 3, kLease, kNow);
  auto b = c.claim_items("w2", 10, kLease, kNow);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_TRUE(c.claim_items("w3", 10, kLease, kNow).empty());
  EXPECT_EQ(a[0].spec.params, "w=300");
  EXPECT_EQ(a[0].attempts, 1);
  EXPECT_EQ(c.get_job(id)->status, JobStatus::running);
  auto depth = c.queue_depth();
  EXPECT_EQ(depth.running, 5);
  EXPECT_EQ(depth.queued, 0);
}

TYPED_TEST(JobQueueTest, ExpiredLeaseIsTakenOverAndCompletionIsRecordedOnce) {
  Catalog& c = this->catalog();
  auto id = this->make_job(1);
  auto first = c.claim_items("w1", 1, kLease, kNow);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(c.claim_items("w2", 1, kLease, kNow + kLease - 1).empty());
  auto second = c.claim_items("w2", 1, kLease, kNow + kLease);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[0].id);
  EXPECT_EQ(second[0].attempts, 2);
  EXPECT_NE(second[0].lease_token, first[0].lease_token);
  // The old worker may no longer fail it...
  EXPECT_FALSE(c.fail_item(first[0].id, first[0].lease_token, {"internal", "x"}, std::nullopt, kNow));
  // ...but whoever completes first wins, once.
  EXPECT_TRUE(c.complete_item(first[0].id, {"img-a", ""}, kNow + kLease + 5));
  EXPECT_FALSE(c.complete_item(second[0].id, {"img-b", ""}, kNow + kLease + 6));
  auto job = c.get_job(id);
  EXPECT_EQ(job->done, 1);
  EXPECT_EQ(job->status, JobStatus::completed);
  ASSERT_TRUE(job->finished_at);
  auto page = c.job_results(id, "", 10);
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_EQ(page.results[0].image_id, "img-a");
}

TYPED_TEST(JobQueueTest, BackoffThenDeadAfterMaxAttemptsAndJobIsPartial) {
  Catalog& c = this->catalog();
  auto id = this->make_job(2, 2);
  auto items = c.claim_items("w", 2, kLease, kNow);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(c.complete_item(items[1].id, {"", "key"}, kNow));
  EXPECT_TRUE(c.fail_item(items[0].id, items[0].lease_token, {"unsupported_media", "bad"}, kNow + 1000, kNow));
  EXPECT_TRUE(c.claim_items("w", 1, kLease, kNow + 999).empty()) << "not before its backoff";
  auto again = c.claim_items("w", 1, kLease, kNow + 1000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_TRUE(c.fail_item(again[0].id, again[0].lease_token, {"unsupported_media", "bad"}, std::nullopt, kNow));
  auto job = c.get_job(id);
  EXPECT_EQ(job->status, JobStatus::partial);
  EXPECT_EQ(job->done, 1);
  EXPECT_EQ(job->failed, 1);
  auto page = c.job_results(id, "", 10);
  ASSERT_EQ(page.results.size(), 2u);
  EXPECT_EQ(page.results[0].status, ItemStatus::failed);
  ASSERT_TRUE(page.results[0].error);
  EXPECT_EQ(page.results[0].error->code, "unsupported_media");
  EXPECT_EQ(page.results[0].attempts, 2);
}

TYPED_TEST(JobQueueTest, ExpiredLeaseWithNoAttemptsLeftFailsTheItem) {
  Catalog& c = this->catalog();
  auto id = this->make_job(1, 1);
  ASSERT_EQ(c.claim_items("w", 1, kLease, kNow).size(), 1u);
  EXPECT_TRUE(c.claim_items("w", 1, kLease, kNow + kLease).empty());
  auto job = c.get_job(id);
  EXPECT_EQ(job->status, JobStatus::failed);
  EXPECT_EQ(job->failed, 1);
}

TYPED_TEST(JobQueueTest, ReleaseGivesBackLeasesWithoutCountingAttempts) {
  Catalog& c = this->catalog();
  this->make_job(3);
  ASSERT_EQ(c.claim_items("w", 3, kLease, kNow).size(), 3u);
  EXPECT_EQ(c.release_leases("w"), 3);
  auto again = c.claim_items("v", 3, kLease, kNow);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].attempts, 1);
}

TYPED_TEST(JobQueueTest, CancelDropsQueuedItemsAndFinishesWhenRunningOnesEnd) {
  Catalog& c = this->catalog();
  auto id = this->make_job(4);
  auto running = c.claim_items("w", 1, kLease, kNow);
  auto job = c.cancel_job(id, kNow / 1000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, JobStatus::cancelled);
  EXPECT_EQ(job->cancelled, 3);
  EXPECT_FALSE(job->finished_at);
  EXPECT_TRUE(c.claim_items("w", 10, kLease, kNow).empty());
  EXPECT_TRUE(c.complete_item(running[0].id, {"", "k"}, kNow));
  job = c.get_job(id);
  EXPECT_EQ(job->status, JobStatus::cancelled);
  EXPECT_TRUE(job->finished_at);
  EXPECT_FALSE(c.cancel_job("nope", kNow));
}

TYPED_TEST(JobQueueTest, ResultsArePaginatedInSourceOrder) {
  Catalog& c = this->catalog();
  auto id = this->make_job(25);
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = c.job_results(id, cursor, 10);
    for (const auto& r : page.results) seen.push_back(r.source);
    cursor = page.next_cursor;
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen[0], "https://example.com/0");
  EXPECT_EQ(seen[24], "https://example.com/24");
  EXPECT_THROW(c.job_results(id, "garbage!", 10), core::Error);
}

TYPED_TEST(JobQueueTest, UnknownImageIdsAreRefusedAndNothingIsCreated) {
  Catalog& c = this->catalog();
  auto known = this->add_image();
  JobSpec spec;
  try {
    c.create_job(spec, {{ItemKind::image, known}, {ItemKind::image, "missing1"}}, std::nullopt);
    FAIL() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    EXPECT_NE(std::string(e.what()).find("missing1"), std::string::npos);
  }
  EXPECT_TRUE(c.claim_items("w", 10, kLease, kNow).empty());
}

TYPED_TEST(JobQueueTest, SelectorTakesMatchingImagesInOneTransaction) {
  Catalog& c = this->catalog();
  this->add_image("beach");
  this->add_image("beach");
  this->add_image("city");
  ImageQuery q;
  q.tags = {"beach"};
  auto job = c.create_job(JobSpec{}, {}, q);
  EXPECT_EQ(job.total, 2);
  ImageQuery none;
  none.tags = {"nothing"};
  auto empty = c.create_job(JobSpec{}, {}, none);
  EXPECT_EQ(empty.total, 0);
  EXPECT_EQ(empty.status, JobStatus::completed);
  EXPECT_TRUE(empty.finished_at);
}

TYPED_TEST(JobQueueTest, ConcurrentClaimersNeverShareAnItem) {
  Catalog& c = this->catalog();
  this->make_job(400);
  std::mutex mu;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto items = c.claim_items("w" + std::to_string(t), 3, kLease, kNow);
        if (items.empty()) return;
        for (const auto& it : items) {
          {
            std::lock_guard lock(mu);
            claimed.insert(it.id);
          }
          c.complete_item(it.id, {"", "k"}, kNow);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), 400u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 400u);
}

TYPED_TEST(JobQueueTest, CompletionBringsTheNextClaimInTheSameTransaction) {
  Catalog& c = this->catalog();
  auto id = this->make_job(3);
  auto first = c.claim_items("node-a", 1, kLease, kNow);
  ASSERT_EQ(first.size(), 1u);
  auto done = c.complete_and_claim(first[0].id, {"", "k0"}, {"node-a", 1, kLease}, kNow);
  EXPECT_TRUE(done.recorded);
  ASSERT_EQ(done.next.size(), 1u);
  EXPECT_NE(done.next[0].id, first[0].id);
  EXPECT_EQ(done.next[0].attempts, 1);
  EXPECT_EQ(done.next[0].spec.params, "w=300") << "a claim with a completion carries its job's spec too";
  EXPECT_EQ(c.get_job(id)->done, 1);
  // A completion recorded already is not recorded again, and claims nothing
  // when asked for nothing.
  auto again = c.complete_and_claim(first[0].id, {"", "other"}, {"node-a", 0, kLease}, kNow);
  EXPECT_FALSE(again.recorded);
  EXPECT_TRUE(again.next.empty());
  // The claimed item is leased like any other: nobody else gets it...
  auto rest = c.claim_items("node-b", 5, kLease, kNow);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_NE(rest[0].id, done.next[0].id);
  // ...and the last completion finds the queue empty and finishes the job.
  EXPECT_TRUE(c.complete_item(rest[0].id, {"", "k2"}, kNow));
  auto last = c.complete_and_claim(done.next[0].id, {"", "k1"}, {"node-a", 1, kLease}, kNow);
  EXPECT_TRUE(last.recorded);
  EXPECT_TRUE(last.next.empty());
  EXPECT_EQ(c.get_job(id)->status, JobStatus::completed);
  EXPECT_EQ(c.job_results(id, "", 10).results.size(), 3u);
}

TYPED_TEST(JobQueueTest, WorkersChainingCompletionsAndClaimsShareNoItem) {
  Catalog& c = this->catalog();
  auto id = this->make_job(300);
  std::mutex mu;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "node-" + std::to_string(t);
      auto items = c.claim_items(worker, 2, kLease, kNow);
      while (!items.empty()) {
        auto item = items.back();
        items.pop_back();
        {
          std::lock_guard lock(mu);
          claimed.insert(item.id);
        }
        auto done = c.complete_and_claim(item.id, {"", "k"}, {worker, items.empty() ? 1 : 0, kLease}, kNow);
        EXPECT_TRUE(done.recorded);
        for (auto& next : done.next) items.push_back(std::move(next));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), 300u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 300u);
  EXPECT_EQ(c.get_job(id)->done, 300);
  EXPECT_EQ(c.get_job(id)->status, JobStatus::completed);
}

TYPED_TEST(JobQueueTest, CancelWhileWorkersChainCompletionsAndClaimsEndsTheJobWithoutADeadlock) {
  Catalog& c = this->catalog();
  auto id = this->make_job(2000);
  std::atomic<bool> cancelled{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "node-" + std::to_string(t);
      auto items = c.claim_items(worker, 1, kLease, kNow);
      while (!items.empty()) {
        auto done = c.complete_and_claim(items.front().id, {"", "k"}, {worker, 1, kLease}, kNow);
        items = std::move(done.next);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // A deadlock would end one of the transactions with an error (after the
  // retries), here or in a worker thread.
  auto job = c.cancel_job(id, kNow / 1000);
  cancelled = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(job);
  job = c.get_job(id);
  EXPECT_EQ(job->status, JobStatus::cancelled);
  ASSERT_TRUE(job->finished_at);
  EXPECT_GT(job->cancelled, 0);
  EXPECT_EQ(job->done + job->failed + job->cancelled, 2000);
  EXPECT_EQ(static_cast<std::int64_t>(c.job_results(id, "", 1000).results.size()), 1000);
}

TYPED_TEST(JobQueueTest, CallbackIsDueOnceFinishedAndDeliveredOnce) {
  Catalog& c = this->catalog();
  auto id = this->make_job(1, 3, "http://127.0.0.1:9/hook");
  auto items = c.claim_items("w", 1, kLease, kNow);
  EXPECT_TRUE(c.claim_callbacks(10, kLease, kNow).empty()) << "not before the job finished";
  c.complete_item(items[0].id, {"", "k"}, kNow);
  auto due = c.claim_callbacks(10, kLease, kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].job.id, id);
  EXPECT_TRUE(c.claim_callbacks(10, kLease, kNow).empty()) << "leased";
  c.record_callback(id, false, kNow + 100);
  due = c.claim_callbacks(10, kLease, kNow + 100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1);
  c.record_callback(id, true, std::nullopt);
  EXPECT_TRUE(c.claim_callbacks(10, kLease, kNow + 10 * kLease).empty());
  EXPECT_EQ(c.get_job(id)->callback_state, "delivered");
}

TYPED_TEST(JobQueueTest, VariantsAreQueuedWithTheImageAndShownInIt) {
  Catalog& c = this->catalog();
  auto id = this->add_image("", {{"thumb", "pending"}, {"small", "pending"}});
  auto rec = c.get_image(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->variants.size(), 2u);
  EXPECT_EQ(rec->variants["thumb"], "pending");
  auto items = c.claim_items("w", 10, kLease, kNow);
  ASSERT_EQ(items.size(), 2u);
  for (const auto& it : items) {
    EXPECT_EQ(it.kind, ItemKind::variant);
    EXPECT_EQ(it.source, id);
    if (it.variant == "thumb") EXPECT_TRUE(c.complete_item(it.id, {"", "thumbkey"}, kNow));
    else EXPECT_TRUE(c.fail_item(it.id, it.lease_token, {"unprocessable", "no"}, std::nullopt, kNow));
  }
  rec = c.get_image(id);
  EXPECT_EQ(rec->variants["thumb"], "ready");
  EXPECT_EQ(rec->variants["small"], "failed");
  auto v = c.get_variant(id, "thumb");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->derivative_key, "thumbkey");
  auto f = c.get_variant(id, "small");
  ASSERT_TRUE(f && f->error);
  EXPECT_EQ(f->error->code, "unprocessable");
  EXPECT_FALSE(c.get_variant(id, "medium"));
  EXPECT_TRUE(c.queue_variant(id, "medium"));
  EXPECT_EQ(c.get_image(id)->variants["medium"], "pending");
  EXPECT_FALSE(c.queue_variant("missing", "medium"));
  // Deleting the image removes its variants with it.
  EXPECT_TRUE(c.delete_image(id).found);
  EXPECT_FALSE(c.get_variant(id, "thumb"));
}


TYPED_TEST(JobQueueTest, KeptOutputsAreRecordedFoundByPositionAndSweptAfterTheirExpiry) {
  Catalog& c = this->catalog();
  auto id = this->make_job(3);
  auto items = c.claim_items("w1", 3, kLease, kNow);
  ASSERT_EQ(items.size(), 3u);
  // Two kept outputs with different expiries, one derivative result.
  ASSERT_TRUE(c.complete_item(items[0].id, {"", "", {"key0", "webp", kNow + 1000}}, kNow));
  ASSERT_TRUE(c.complete_item(items[1].id, {"", "", {"key1", "png", kNow + 5000}}, kNow));
  ASSERT_TRUE(c.complete_item(items[2].id, {"", "dkey", {}}, kNow));

  auto first = c.job_result(id, 0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, ItemStatus::done);
  EXPECT_EQ(first->output, (JobOutput{"key0", "webp", kNow + 1000}));
  EXPECT_EQ(c.job_result(id, 2)->output, JobOutput{});
  EXPECT_EQ(c.job_result(id, 2)->derivative_key, "dkey");
  EXPECT_FALSE(c.job_result(id, 3));
  EXPECT_FALSE(c.job_result("no-such-job", 0));
  EXPECT_EQ(c.job_results(id, "", 10).results[1].output.key, "key1");

  EXPECT_TRUE(c.expired_outputs(kNow + 999, 10).empty());
  auto expired = c.expired_outputs(kNow + 1000, 10);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, "key0");
  EXPECT_EQ(c.expired_outputs(kNow + 5000, 10).size(), 2u);
  EXPECT_EQ(c.expired_outputs(kNow + 5000, 1).size(), 1u);

  c.forget_outputs({expired[0].item_id});
  auto later = c.expired_outputs(kNow + 5000, 10);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].key, "key1");
  // A forgotten output keeps its expiry: it reads as expired, not as absent.
  auto gone = c.job_result(id, 0);
  EXPECT_TRUE(gone->output.key.empty());
  EXPECT_EQ(gone->output.expires_at_ms, kNow + 1000);
}
