#pragma once
// The retry policy of client.hpp, in one place: which faults are tried
// again, how long to wait, and the loop that does it for blocking calls
// (the batch uploader asks retry_delay() for its own items).
#include <chrono>
#include <optional>
#include <string_view>

#include "http.hpp"
#include "progimage/client.hpp"

namespace progimage::detail {

/// Whether a request may be sent again when no answer (or a 502/504) came:
/// GET, HEAD, PUT, DELETE, OPTIONS, or a request marked `resendable`.
bool resendable(const Request& request);

/// The wait before the next attempt, after `attempt` (from 1) ended with
/// `reply`; nullopt when the reply is final.
std::optional<std::chrono::milliseconds> retry_delay(const RetryPolicy& policy, int attempt, const Reply& reply,
                                                     bool resendable);

/// `Retry-After`: delay-seconds or an HTTP date (relative to `now`); nullopt
/// when it is neither. A date in the past is 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

/// Sends `request` until it succeeds or the policy gives up; the last reply.
Reply send_with_retries(Transport& transport, const RetryPolicy& policy, const Request& request);

}  // namespace progimage::detail
