#pragma once
// Error codes of the HTTP contract (API.md) and the exception that carries them.
#include <stdexcept>
#include <string>
#include <string_view>

namespace progimage::core {

enum class ErrorCode {
  bad_request,
  bad_parameter,
  bad_multipart,
  bad_base64,
  unauthorized,
  token_expired,
  bad_token,
  unknown_key,
  forbidden,
  bad_signature,
  url_expired,
  quota_exceeded,
  not_found,
  method_not_allowed,
  conflict,
  precondition_failed,
  link_expired,
  result_expired,
  payload_too_large,
  unsupported_media,
  image_too_large,
  unprocessable,
  rate_limited,
  overloaded,
  upstream_failed,
  upstream_timeout,
  timeout,
  unavailable,
  internal,
};

/// HTTP status for a code, e.g. unsupported_media -> 415.
unsigned http_status(ErrorCode code) noexcept;
/// Stable machine name used in JSON bodies, e.g. "unsupported_media".
std::string_view code_name(ErrorCode code) noexcept;
/// `{"error": {"code": ..., "message": ...}}`
std::string error_json(ErrorCode code, std::string_view message);

/// An expected failure that maps to an HTTP answer. Thrown inside a module,
/// caught once per request by the HTTP layer.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message)
      : std::runtime_error(std::move(message)), code_(code) {}
  /// With the seconds after which the same request may succeed (Retry-After).
  Error(ErrorCode code, std::string message, int retry_after_seconds)
      : std::runtime_error(std::move(message)), code_(code), retry_after_(retry_after_seconds) {}
  ErrorCode code() const noexcept { return code_; }
  unsigned status() const noexcept { return http_status(code_); }
  /// 0 when the error says nothing about when to try again.
  int retry_after() const noexcept { return retry_after_; }

 private:
  ErrorCode code_;
  int retry_after_ = 0;
};

}  // namespace progimage::core
