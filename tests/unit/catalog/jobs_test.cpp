// The job queue of the SQLite catalog: leases, expiry, backoff, dead items,
// idempotent completion, roll-up, cancel, callbacks and variants.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "catalog/sqlite_catalog.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"

namespace fs = std::filesystem;
using namespace progimage;
using namespace progimage::catalog;

namespace {

class JobsTest : public ::testing::Test {
 protected:
  JobsTest() : dir_(fs::temp_directory_path() / ("progimage-jobs-" + core::new_id())) {
    cat_ = std::make_unique<SqliteCatalog>(dir_ / "catalog.db");
  }
  ~JobsTest() override {
    cat_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string add_image(const std::string& tag = "", std::map<std::string, std::string> variants = {}) {
    core::ImageRecord r;
    r.sha256 = core::sha256_hex(core::new_id());
    r.format = "png";
    r.width = r.height = 10;
    r.size = 100;
    if (!tag.empty()) r.tags = {tag};
    r.variants = std::move(variants);
    return cat_->insert_image(r).image.id;
  }

  std::string make_job(int n, int max_attempts = 3, std::string callback = "") {
    std::vector<JobSource> sources;
    for (int i = 0; i < n; ++i) sources.push_back({ItemKind::url, "https://example.com/" + std::to_string(i)});
    JobSpec spec;
    spec.params = "w=300";
    spec.max_attempts = max_attempts;
    spec.callback_url = std::move(callback);
    return cat_->create_job(spec, sources, std::nullopt).id;
  }

  fs::path dir_;
  std::unique_ptr<SqliteCatalog> cat_;
};

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kLease = 30'000;

TEST_F(JobsTest, JobTablesArriveWithMigrationTwo) { EXPECT_GE(cat_->schema_version(), 2); }

TEST_F(JobsTest, CreateJobCountsItemsAndClaimsThemOnce) {
  auto id = make_job(5);
  auto job = cat_->get_job(id);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->total, 5);
  EXPECT_EQ(job->status, JobStatus::queued);
  auto a = cat_->claim_items("w1", 3, kLease, kNow);
  auto b = cat_->claim_items("w2", 10, kLease, kNow);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_TRUE(cat_->claim_items("w3", 10, kLease, kNow).empty());
  EXPECT_EQ(a[0].spec.params, "w=300");
  EXPECT_EQ(a[0].attempts, 1);
  EXPECT_EQ(cat_->get_job(id)->status, JobStatus::running);
  auto depth = cat_->queue_depth();
  EXPECT_EQ(depth.running, 5);
  EXPECT_EQ(depth.queued, 0);
}

TEST_F(JobsTest, ExpiredLeaseIsTakenOverAndCompletionIsRecordedOnce) {
  auto id = make_job(1);
  auto first = cat_->claim_items("w1", 1, kLease, kNow);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(cat_->claim_items("w2", 1, kLease, kNow + kLease - 1).empty());
  auto second = cat_->claim_items("w2", 1, kLease, kNow + kLease);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].id, first[0].id);
  EXPECT_EQ(second[0].attempts, 2);
  EXPECT_NE(second[0].lease_token, first[0].lease_token);
  // The old worker may no longer fail it...
  EXPECT_FALSE(cat_->fail_item(first[0].id, first[0].lease_token, {"internal", "x"}, std::nullopt, kNow));
  // ...but whoever completes first wins, once.
  EXPECT_TRUE(cat_->complete_item(first[0].id, {"img-a", ""}, kNow + kLease + 5));
  EXPECT_FALSE(cat_->complete_item(second[0].id, {"img-b", ""}, kNow + kLease + 6));
  auto job = cat_->get_job(id);
  EXPECT_EQ(job->done, 1);
  EXPECT_EQ(job->status, JobStatus::completed);
  ASSERT_TRUE(job->finished_at);
  auto page = cat_->job_results(id, "", 10);
  ASSERT_EQ(page.results.size(), 1u);
  EXPECT_EQ(page.results[0].image_id, "img-a");
}

TEST_F(JobsTest, BackoffThenDeadAfterMaxAttemptsAndJobIsPartial) {
  auto id = make_job(2, 2);
  auto items = cat_->claim_items("w", 2, kLease, kNow);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_TRUE(cat_->complete_item(items[1].id, {"", "key"}, kNow));
  EXPECT_TRUE(cat_->fail_item(items[0].id, items[0].lease_token, {"unsupported_media", "bad"}, kNow + 1000, kNow));
  EXPECT_TRUE(cat_->claim_items("w", 1, kLease, kNow + 999).empty()) << "not before its backoff";
  auto again = cat_->claim_items("w", 1, kLease, kNow + 1000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_TRUE(cat_->fail_item(again[0].id, again[0].lease_token, {"unsupported_media", "bad"}, std::nullopt, kNow));
  auto job = cat_->get_job(id);
  EXPECT_EQ(job->status, JobStatus::partial);
  EXPECT_EQ(job->done, 1);
  EXPECT_EQ(job->failed, 1);
  auto page = cat_->job_results(id, "", 10);
  ASSERT_EQ(page.results.size(), 2u);
  EXPECT_EQ(page.results[0].status, ItemStatus::failed);
  ASSERT_TRUE(page.results[0].error);
  EXPECT_EQ(page.results[0].error->code, "unsupported_media");
  EXPECT_EQ(page.results[0].attempts, 2);
}

TEST_F(JobsTest, ExpiredLeaseWithNoAttemptsLeftFailsTheItem) {
  auto id = make_job(1, 1);
  ASSERT_EQ(cat_->claim_items("w", 1, kLease, kNow).size(), 1u);
  EXPECT_TRUE(cat_->claim_items("w", 1, kLease, kNow + kLease).empty());
  auto job = cat_->get_job(id);
  EXPECT_EQ(job->status, JobStatus::failed);
  EXPECT_EQ(job->failed, 1);
}

TEST_F(JobsTest, ReleaseGivesBackLeasesWithoutCountingAttempts) {
  make_job(3);
  ASSERT_EQ(cat_->claim_items("w", 3, kLease, kNow).size(), 3u);
  EXPECT_EQ(cat_->release_leases("w"), 3);
  auto again = cat_->claim_items("v", 3, kLease, kNow);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].attempts, 1);
}

TEST_F(JobsTest, CancelDropsQueuedItemsAndFinishesWhenRunningOnesEnd) {
  auto id = make_job(4);
  auto running = cat_->claim_items("w", 1, kLease, kNow);
  auto job = cat_->cancel_job(id, kNow / 1000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, JobStatus::cancelled);
  EXPECT_EQ(job->cancelled, 3);
  EXPECT_FALSE(job->finished_at);
  EXPECT_TRUE(cat_->claim_items("w", 10, kLease, kNow).empty());
  EXPECT_TRUE(cat_->complete_item(running[0].id, {"", "k"}, kNow));
  job = cat_->get_job(id);
  EXPECT_EQ(job->status, JobStatus::cancelled);
  EXPECT_TRUE(job->finished_at);
  EXPECT_FALSE(cat_->cancel_job("nope", kNow));
}

TEST_F(JobsTest, ResultsArePaginatedInSourceOrder) {
  auto id = make_job(25);
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = cat_->job_results(id, cursor, 10);
    for (const auto& r : page.results) seen.push_back(r.source);
    cursor = page.next_cursor;
    ++pages;
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen[0], "https://example.com/0");
  EXPECT_EQ(seen[24], "https://example.com/24");
  EXPECT_THROW(cat_->job_results(id, "garbage!", 10), core::Error);
}

TEST_F(JobsTest, UnknownImageIdsAreRefusedAndNothingIsCreated) {
  auto known = add_image();
  JobSpec spec;
  try {
    cat_->create_job(spec, {{ItemKind::image, known}, {ItemKind::image, "missing1"}}, std::nullopt);
    FAIL() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    EXPECT_NE(std::string(e.what()).find("missing1"), std::string::npos);
  }
  EXPECT_TRUE(cat_->claim_items("w", 10, kLease, kNow).empty());
}

TEST_F(JobsTest, SelectorTakesMatchingImagesInOneTransaction) {
  add_image("beach");
  add_image("beach");
  add_image("city");
  ImageQuery q;
  q.tags = {"beach"};
  auto job = cat_->create_job(JobSpec{}, {}, q);
  EXPECT_EQ(job.total, 2);
  ImageQuery none;
  none.tags = {"nothing"};
  auto empty = cat_->create_job(JobSpec{}, {}, none);
  EXPECT_EQ(empty.total, 0);
  EXPECT_EQ(empty.status, JobStatus::completed);
  EXPECT_TRUE(empty.finished_at);
}

TEST_F(JobsTest, ConcurrentClaimersNeverShareAnItem) {
  make_job(400);
  std::mutex mu;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        auto items = cat_->claim_items("w" + std::to_string(t), 3, kLease, kNow);
        if (items.empty()) return;
        for (const auto& it : items) {
          {
            std::lock_guard lock(mu);
            claimed.insert(it.id);
          }
          cat_->complete_item(it.id, {"", "k"}, kNow);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), 400u);
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), 400u);
}

TEST_F(JobsTest, CallbackIsDueOnceFinishedAndDeliveredOnce) {
  auto id = make_job(1, 3, "http://127.0.0.1:9/hook");
  auto items = cat_->claim_items("w", 1, kLease, kNow);
  EXPECT_TRUE(cat_->claim_callbacks(10, kLease, kNow).empty()) << "not before the job finished";
  cat_->complete_item(items[0].id, {"", "k"}, kNow);
  auto due = cat_->claim_callbacks(10, kLease, kNow);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].job.id, id);
  EXPECT_TRUE(cat_->claim_callbacks(10, kLease, kNow).empty()) << "leased";
  cat_->record_callback(id, false, kNow + 100);
  due = cat_->claim_callbacks(10, kLease, kNow + 100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].attempts, 1);
  cat_->record_callback(id, true, std::nullopt);
  EXPECT_TRUE(cat_->claim_callbacks(10, kLease, kNow + 10 * kLease).empty());
  EXPECT_EQ(cat_->get_job(id)->callback_state, "delivered");
}

TEST_F(JobsTest, VariantsAreQueuedWithTheImageAndShownInIt) {
  auto id = add_image("", {{"thumb", "pending"}, {"small", "pending"}});
  auto rec = cat_->get_image(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->variants.size(), 2u);
  EXPECT_EQ(rec->variants["thumb"], "pending");
  auto items = cat_->claim_items("w", 10, kLease, kNow);
  ASSERT_EQ(items.size(), 2u);
  for (const auto& it : items) {
    EXPECT_EQ(it.kind, ItemKind::variant);
    EXPECT_EQ(it.source, id);
    if (it.variant == "thumb") EXPECT_TRUE(cat_->complete_item(it.id, {"", "thumbkey"}, kNow));
    else EXPECT_TRUE(cat_->fail_item(it.id, it.lease_token, {"unprocessable", "no"}, std::nullopt, kNow));
  }
  rec = cat_->get_image(id);
  EXPECT_EQ(rec->variants["thumb"], "ready");
  EXPECT_EQ(rec->variants["small"], "failed");
  auto v = cat_->get_variant(id, "thumb");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->derivative_key, "thumbkey");
  auto f = cat_->get_variant(id, "small");
  ASSERT_TRUE(f && f->error);
  EXPECT_EQ(f->error->code, "unprocessable");
  EXPECT_FALSE(cat_->get_variant(id, "medium"));
  EXPECT_TRUE(cat_->queue_variant(id, "medium"));
  EXPECT_EQ(cat_->get_image(id)->variants["medium"], "pending");
  EXPECT_FALSE(cat_->queue_variant("missing", "medium"));
  // Deleting the image removes its variants with it.
  EXPECT_TRUE(cat_->delete_image(id).found);
  EXPECT_FALSE(cat_->get_variant(id, "thumb"));
}

}  // namespace
