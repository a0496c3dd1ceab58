#include "app/usage.hpp"

namespace progimage::app {

void record_usage(service::UsageMeter& meter, const http::Exchange& e) {
  if (!e.request.path.starts_with("/v1/")) return;
  catalog::UsageCounts counts;
  counts.requests = 1;
  counts.bytes_in = static_cast<std::int64_t>(e.bytes_in);
  counts.bytes_out = static_cast<std::int64_t>(e.bytes_out);
  counts.transforms = e.work.transforms;
  counts.cache_hits = e.work.cache_hits;
  counts.cache_misses = e.work.cache_misses;
  counts.uploads = e.work.uploads;
  const auto& who = e.request.principal;
  meter.record(e.request.scope.tenant, who ? who->client_id() : std::string(), counts);
}

}  // namespace progimage::app
