#pragma once
// The job queue's rules, for every engine: how a job ends, which counter an
// item's end adds to, what a callback does next, and the errors the queue
// reports.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/error.hpp"

namespace progimage::catalog {

/// Attempts a preset variant gets.
inline constexpr int kVariantAttempts = 3;

/// A job's item counts.
struct JobCounts {
  std::int64_t total = 0;
  std::int64_t done = 0;
  std::int64_t failed = 0;
  std::int64_t cancelled = 0;
};

/// The status a job in `status` ends in once every item has ended: cancelled
/// when it was cancelled, completed when nothing failed, failed when nothing
/// succeeded, partial otherwise. nullopt while items are left.
std::optional<JobStatus> finished_job_status(JobStatus status, const JobCounts& counts) noexcept;

/// The `jobs` column that counts items ended in `final_status` ("done",
/// "failed" or "cancelled").
std::string_view job_counter_column(ItemStatus final_status) noexcept;

/// The callback state after a delivery attempt: "delivered", "pending" (to be
/// retried) or "failed" (given up).
std::string_view callback_state_after(bool delivered, bool retried) noexcept;

/// The error of an item whose lease ran out `attempts` times with no result.
JobError lease_expired_error(int attempts);

/// Collects the image ids named by a new job that do not exist, for one error.
class MissingImages {
 public:
  void add(const std::string& id);
  bool empty() const noexcept { return count_ == 0; }
  /// core::Error(bad_parameter) naming the first ten, e.g. "unknown image id:
  /// a" or "unknown image ids: a, b (and 3 more)".
  core::Error error() const;

 private:
  static constexpr std::size_t kNamed = 10;
  std::vector<std::string> named_;
  std::size_t count_ = 0;
};

}  // namespace progimage::catalog
