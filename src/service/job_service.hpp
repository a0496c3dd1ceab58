#pragma once
// Bulk jobs as use cases: the rules a job request must meet, and reading,
// paging and cancelling jobs. The queue itself (claims, leases, results) is
// the catalog's; the workers that run it are in jobs/.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "ops/spec.hpp"

namespace progimage::service {

struct JobRequest {
  std::vector<catalog::JobSource> sources;       // image ids and URLs, or
  std::optional<catalog::ImageQuery> selector;   // every stored image this search finds
  ops::TransformSpec transform;
  std::string format;  // "" (from the transform, else the source's), a format name or an extension
  bool store = false;  // results become stored images
  std::string callback_url;
};

class JobService {
 public:
  /// `max_attempts` per item; `queued` is called after a commit that queued
  /// items (to wake the workers).
  JobService(catalog::Catalog& catalog, int max_attempts, std::function<void()> queued = {});

  /// Checks the request and creates the job with its items in one
  /// transaction. Throws core::Error(bad_parameter) naming what is wrong.
  catalog::JobRecord submit(const JobRequest& request);
  /// The job, or throws not_found.
  catalog::JobRecord get(const std::string& id);
  /// A page of results in source order; throws bad_parameter for a bad cursor.
  catalog::ResultPage results(const std::string& job_id, const std::string& cursor, int limit);
  /// Drops the items not started; throws not_found.
  catalog::JobRecord cancel(const std::string& id);

 private:
  catalog::Catalog& catalog_;
  int max_attempts_;
  std::function<void()> queued_;
};

/// A job's items of this many sources at most; more go through a selector.
inline constexpr std::size_t kMaxJobSources = 10'000;

}  // namespace progimage::service
