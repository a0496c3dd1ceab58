#include "catalog/job_rules.hpp"

#include <gtest/gtest.h>

using namespace progimage;
using namespace progimage::catalog;

TEST(FinishedJobStatus, WaitsUntilEveryItemHasEnded) {
  EXPECT_FALSE(finished_job_status(JobStatus::running, {.total = 3, .done = 1, .failed = 1}));
  EXPECT_FALSE(finished_job_status(JobStatus::cancelled, {.total = 3, .done = 1, .cancelled = 1}));
}

TEST(FinishedJobStatus, NamesHowTheJobEnded) {
  EXPECT_EQ(finished_job_status(JobStatus::running, {.total = 2, .done = 2}), JobStatus::completed);
  EXPECT_EQ(finished_job_status(JobStatus::running, {.total = 2, .failed = 2}), JobStatus::failed);
  EXPECT_EQ(finished_job_status(JobStatus::running, {.total = 3, .done = 2, .failed = 1}), JobStatus::partial);
  EXPECT_EQ(finished_job_status(JobStatus::queued, {}), JobStatus::completed);  // an empty job ends at once
  // A cancelled job stays cancelled, whatever its items did.
  EXPECT_EQ(finished_job_status(JobStatus::cancelled, {.total = 3, .done = 1, .failed = 1, .cancelled = 1}),
            JobStatus::cancelled);
  EXPECT_EQ(finished_job_status(JobStatus::cancelled, {.total = 1, .done = 1}), JobStatus::cancelled);
}

TEST(JobCounterColumn, OnePerFinalStatus) {
  EXPECT_EQ(job_counter_column(ItemStatus::done), "done");
  EXPECT_EQ(job_counter_column(ItemStatus::failed), "failed");
  EXPECT_EQ(job_counter_column(ItemStatus::cancelled), "cancelled");
}

TEST(CallbackStateAfter, DeliveredRetriedOrGivenUp) {
  EXPECT_EQ(callback_state_after(true, false), "delivered");
  EXPECT_EQ(callback_state_after(true, true), "delivered");
  EXPECT_EQ(callback_state_after(false, true), "pending");
  EXPECT_EQ(callback_state_after(false, false), "failed");
}

TEST(LeaseExpiredError, CountsTheAttempts) {
  auto e = lease_expired_error(3);
  EXPECT_EQ(e.code, "internal");
  EXPECT_EQ(e.message, "processing stopped without a result 3 times (the worker died or its lease expired)");
}

TEST(MissingImages, NamesTheFirstTenAndCountsTheRest) {
  MissingImages none;
  EXPECT_TRUE(none.empty());

  MissingImages one;
  one.add("a");
  EXPECT_FALSE(one.empty());
  EXPECT_EQ(one.error().code(), core::ErrorCode::bad_parameter);
  EXPECT_STREQ(one.error().what(), "unknown image id: a");

  MissingImages two;
  two.add("a");
  two.add("b");
  EXPECT_STREQ(two.error().what(), "unknown image ids: a, b");

  MissingImages many;
  for (int i = 0; i < 12; ++i) many.add("id" + std::to_string(i));
  EXPECT_STREQ(many.error().what(),
               "unknown image ids: id0, id1, id2, id3, id4, id5, id6, id7, id8, id9 (and 2 more)");
}
