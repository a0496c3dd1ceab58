#pragma once
// Usage of the API: each exchange counted for its tenant and client (main
// flushes the counts every --usage-flush with an app::Periodic, and at exit).
#include "http/server.hpp"
#include "service/usage_meter.hpp"

namespace progimage::app {

/// Counts an exchange of the /v1 API (health, metrics and the OpenAPI
/// document are not usage).
void record_usage(service::UsageMeter& meter, const http::Exchange& e);

}  // namespace progimage::app
