#include "retry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <string>
#include <thread>

namespace progimage::detail {
namespace {

/// The request never left: resending cannot repeat anything.
bool never_sent(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY;
}

/// Faults of the network or the peer, worth another attempt (not the
/// client's own: a file that cannot be read, a sink that stopped).
bool transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::chrono::milliseconds full_jitter(const RetryPolicy& policy, int next_attempt) {
  // base · 2^(n-1), computed in double so a large n cannot overflow.
  const double cap = std::min(static_cast<double>(policy.max_delay.count()),
                              static_cast<double>(policy.base_delay.count()) * std::pow(2.0, next_attempt - 1));
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, std::max(0.0, cap));
  return std::chrono::milliseconds(static_cast<long long>(uniform(random)));
}

}  // namespace

bool resendable(const Request& request) {
  const std::string& m = request.method;
  return request.resendable || m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS";
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  long long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc{} && end == value.data() + value.size()) {
    if (seconds < 0) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // An HTTP date; libcurl's parser reads the three formats RFC 9110 allows.
  const std::string text(value);
  const time_t at = curl_getdate(text.c_str(), nullptr);
  if (at == -1) return std::nullopt;
  const auto left = std::chrono::system_clock::from_time_t(at) - now;
  return std::max(std::chrono::seconds(0), std::chrono::ceil<std::chrono::seconds>(left));
}

std::optional<std::chrono::milliseconds> retry_delay(const RetryPolicy& policy, int attempt, const Reply& reply,
                                                     bool resendable) {
  if (attempt >= policy.max_attempts) return std::nullopt;
  bool again = false;
  if (reply.status == 429 || reply.status == 503) {
    again = true;  // the server did not act on the request
  } else if (reply.status == 502 || reply.status == 504) {
    again = resendable;
  } else if (reply.status == 0 && !reply.stopped_by_sink) {
    again = never_sent(reply.transfer) || (resendable && transient(reply.transfer));
  }
  if (!again) return std::nullopt;
  if (auto after = parse_retry_after(reply.header("Retry-After"), std::chrono::system_clock::now())) {
    // Sooner than the server asked would only be refused again: a wait
    // longer than the policy allows ends the retries (as in the TypeScript client).
    if (*after > policy.max_delay) return std::nullopt;
    return std::chrono::milliseconds(*after);
  }
  return full_jitter(policy, attempt + 1);
}

Reply send_with_retries(Transport& transport, const RetryPolicy& policy, const Request& request) {
  const bool may_resend = resendable(request);
  for (int attempt = 1;; ++attempt) {
    Reply reply = transport.perform(request);
    auto delay = retry_delay(policy, attempt, reply, may_resend);
    if (!delay) return reply;
    // Bytes a sink already has cannot be sent twice unless it starts over.
    if (reply.delivered > 0 && !(request.sink->restart && request.sink->restart())) return reply;
    std::this_thread::sleep_for(*delay);
  }
}

}  // namespace progimage::detail
