#pragma once
// Remote URL fetching over libcurl, every connection checked by AddressGuard.
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fetch/address_guard.hpp"

namespace progimage::fetch {

struct FetchOptions {
  std::int64_t max_bytes = 10LL * 1024 * 1024;  // body limit, enforced while streaming
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{10'000};
  int max_redirects = 3;
  std::vector<std::string> allow_cidrs;  // exempt from the guard, e.g. "127.0.0.0/8"
  /// Optional: called with every address the guard let through, just before
  /// connecting; returning false refuses it. Tests use it to make sure nothing
  /// leaves loopback even if the guard were wrong.
  std::function<bool(const sockaddr*)> connect_filter;
};

struct FetchResult {
  std::string final_url;     // after redirects, without user:password
  std::string content_type;  // as the upstream sent it; empty when absent
  std::int64_t size = 0;     // body bytes passed to the sink
};

using HttpHeader = std::pair<std::string, std::string>;

/// Fetches http/https URLs for image imports and posts webhook callbacks.
///
/// Every connection, each redirect included, is checked after DNS resolution
/// (before connecting, and again once connected) by an AddressGuard built from
/// `allow_cidrs`. No proxy is ever used, whatever the environment says.
/// Thread-safe: each call uses its own curl handle.
///
/// Errors are core::Error: `bad_parameter` for a malformed URL, a scheme other
/// than http/https or a missing host; `upstream_timeout` when a time limit ran
/// out; `upstream_failed` for everything else, the message naming the reason
/// ("address 127.0.0.1 is not allowed (loopback)", "too many redirects (more
/// than 3)", "HTTP 404 from upstream", "remote image is larger than 10485760
/// bytes", ...). Messages never contain credentials from the URL.
class Fetcher {
 public:
  /// Throws std::invalid_argument for an invalid CIDR or a non-positive limit.
  explicit Fetcher(FetchOptions options);

  /// GETs `url`, following up to max_redirects redirects, and streams the body
  /// of the final 2xx answer to `sink` in chunks. A Content-Length over
  /// max_bytes fails before any byte is passed on; otherwise the transfer
  /// stops as soon as the count would pass max_bytes, so the sink never sees
  /// more than max_bytes in all. An exception thrown by `sink` aborts the
  /// transfer and is rethrown unchanged.
  FetchResult fetch(const std::string& url, const std::function<void(std::string_view)>& sink) const;

  /// POSTs `body` as application/json (plus `headers`) for a webhook and
  /// returns the HTTP status, whatever it is. Redirects are not followed (a
  /// 3xx is returned); the response body is discarded. Same guard, proxy and
  /// protocol rules as fetch(); `timeout` is the total time limit. Throws
  /// bad_parameter for a header name or value that holds CR, LF or NUL.
  long post_json(const std::string& url, std::string_view body, const std::vector<HttpHeader>& headers,
                 std::chrono::milliseconds timeout) const;

  const AddressGuard& guard() const noexcept { return guard_; }
  const FetchOptions& options() const noexcept { return options_; }

 private:
  FetchOptions options_;
  AddressGuard guard_;
};

}  // namespace progimage::fetch
