#include "catalog/catalog.hpp"

namespace progimage::catalog {

std::string_view job_status_name(JobStatus s) noexcept {
  switch (s) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
    case JobStatus::partial: return "partial";
    case JobStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<JobStatus> parse_job_status(std::string_view s) noexcept {
  for (auto st : {JobStatus::queued, JobStatus::running, JobStatus::completed, JobStatus::failed, JobStatus::partial,
                  JobStatus::cancelled})
    if (job_status_name(st) == s) return st;
  return std::nullopt;
}

std::string_view item_status_name(ItemStatus s) noexcept {
  switch (s) {
    case ItemStatus::queued: return "queued";
    case ItemStatus::running: return "running";
    case ItemStatus::done: return "done";
    case ItemStatus::failed: return "failed";
    case ItemStatus::cancelled: return "cancelled";
  }
  return "queued";
}

}  // namespace progimage::catalog
