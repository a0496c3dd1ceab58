#pragma once
// Bulk jobs as use cases: the rules a job request must meet; reading, paging
// and cancelling jobs; the outputs jobs keep for a while; the callback key. The queue itself (claims, leases, results) is
// the catalog's; the workers that run it are in jobs/.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/tenant.hpp"
#include "imaging/imaging.hpp"
#include "ops/spec.hpp"
#include "service/body.hpp"

namespace progimage::storage {
class BlobStore;
}

namespace progimage::service {

struct JobRequest {
  std::vector<catalog::JobSource> sources;       // image ids and URLs, or
  std::optional<catalog::ImageQuery> selector;   // every stored image this search finds
  ops::TransformSpec transform;
  std::string format;  // "" (from the transform, else the source's), a format name or an extension
  bool store = false;  // results become stored images (else derivatives, or kept outputs for URLs)
  std::string callback_url;
};

struct JobOptions {
  int max_attempts = 3;  // per item
  /// How long results kept instead of stored (URL sources, store: false) stay.
  std::chrono::milliseconds output_retention{24 * 3600'000};
};

/// A kept result, ready to send.
struct KeptOutput {
  std::string format;
  std::int64_t expires_at_ms = 0;
  Body body;
};

class JobService {
 public:
  /// `queued` is called after a commit that queued items (to wake the workers).
  JobService(catalog::Catalog& catalog, storage::BlobStore& blobs, JobOptions options,
             std::function<void()> queued = {});

  /// Checks the request and creates the job with its items in one
  /// transaction. Throws core::Error(bad_parameter) naming what is wrong.
  catalog::JobRecord submit(const core::Scope& scope, const JobRequest& request);
  /// The job, or throws not_found (also for another tenant's job).
  catalog::JobRecord get(const core::Scope& scope, const std::string& id);
  /// A page of results in source order; throws bad_parameter for a bad cursor.
  catalog::ResultPage results(const std::string& job_id, const std::string& cursor, int limit);
  /// Drops the items not started; throws not_found.
  catalog::JobRecord cancel(const core::Scope& scope, const std::string& id);

  // ---- kept outputs ----------------------------------------------------------
  /// Keeps the result of `item` for the retention time; returns what the
  /// item's completion records. A repeated attempt overwrites the same key.
  catalog::JobOutput keep_output(const catalog::ClaimedItem& item, const imaging::Rendered& rendered);
  /// The kept result at `position` of the job: not_found for an unknown job
  /// or position, or a result that is not kept (stored images and cached
  /// derivatives have their own URLs); result_expired after the retention.
  KeptOutput output(const core::Scope& scope, const std::string& job_id, std::int64_t position);
  /// Removes the bytes of outputs past their retention; returns how many.
  std::size_t sweep_outputs(std::int64_t now_ms);

  // ---- callbacks -------------------------------------------------------------
  /// The key that signs callbacks: `configured`, or else one generated at the
  /// first start and kept in the catalog (the same on every node).
  std::string callback_secret(const std::string& configured);

 private:
  catalog::Catalog& catalog_;
  storage::BlobStore& blobs_;
  JobOptions options_;
  std::function<void()> queued_;
};

/// A job's items of this many sources at most; more go through a selector.
inline constexpr std::size_t kMaxJobSources = 10'000;

}  // namespace progimage::service
