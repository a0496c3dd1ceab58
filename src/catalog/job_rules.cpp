#include "catalog/job_rules.hpp"

namespace progimage::catalog {

std::optional<JobStatus> finished_job_status(JobStatus status, const JobCounts& counts) noexcept {
  if (counts.done + counts.failed + counts.cancelled < counts.total) return std::nullopt;
  if (status == JobStatus::cancelled) return JobStatus::cancelled;
  if (counts.failed == 0) return JobStatus::completed;
  if (counts.done == 0) return JobStatus::failed;
  return JobStatus::partial;
}

std::string_view job_counter_column(ItemStatus final_status) noexcept {
  switch (final_status) {
    case ItemStatus::done: return "done";
    case ItemStatus::failed: return "failed";
    default: return "cancelled";
  }
}

std::string_view callback_state_after(bool delivered, bool retried) noexcept {
  if (delivered) return "delivered";
  return retried ? "pending" : "failed";
}

JobError lease_expired_error(int attempts) {
  return {"internal", "processing stopped without a result " + std::to_string(attempts) +
                          " times (the worker died or its lease expired)"};
}

void MissingImages::add(const std::string& id) {
  if (named_.size() < kNamed) named_.push_back(id);
  ++count_;
}

core::Error MissingImages::error() const {
  std::string msg = count_ > 1 ? "unknown image ids: " : "unknown image id: ";
  for (std::size_t k = 0; k < named_.size(); ++k) msg += (k ? ", " : "") + named_[k];
  if (count_ > named_.size()) msg += " (and " + std::to_string(count_ - named_.size()) + " more)";
  return core::Error(core::ErrorCode::bad_parameter, msg);
}

}  // namespace progimage::catalog
