#include "core/error.hpp"

#include <boost/json.hpp>

namespace progimage::core {

unsigned http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_request:
    case ErrorCode::bad_parameter:
    case ErrorCode::bad_multipart:
    case ErrorCode::bad_base64: return 400;
    case ErrorCode::unauthorized:
    case ErrorCode::token_expired:
    case ErrorCode::bad_token:
    case ErrorCode::unknown_key: return 401;
    case ErrorCode::forbidden:
    case ErrorCode::bad_signature:
    case ErrorCode::url_expired:
    case ErrorCode::quota_exceeded: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::conflict: return 409;
    case ErrorCode::precondition_failed: return 412;
    case ErrorCode::link_expired: return 410;
    case ErrorCode::result_expired: return 410;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::unsupported_media: return 415;
    case ErrorCode::image_too_large:
    case ErrorCode::unprocessable: return 422;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::upstream_failed: return 502;
    case ErrorCode::overloaded:
    case ErrorCode::timeout:
    case ErrorCode::unavailable: return 503;
    case ErrorCode::upstream_timeout: return 504;
    case ErrorCode::internal: return 500;
  }
  return 500;
}

std::string_view code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::bad_parameter: return "bad_parameter";
    case ErrorCode::bad_multipart: return "bad_multipart";
    case ErrorCode::bad_base64: return "bad_base64";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::token_expired: return "token_expired";
    case ErrorCode::bad_token: return "bad_token";
    case ErrorCode::unknown_key: return "unknown_key";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::bad_signature: return "bad_signature";
    case ErrorCode::url_expired: return "url_expired";
    case ErrorCode::quota_exceeded: return "quota_exceeded";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::precondition_failed: return "precondition_failed";
    case ErrorCode::link_expired: return "link_expired";
    case ErrorCode::result_expired: return "result_expired";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::unsupported_media: return "unsupported_media";
    case ErrorCode::image_too_large: return "image_too_large";
    case ErrorCode::unprocessable: return "unprocessable";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::upstream_failed: return "upstream_failed";
    case ErrorCode::upstream_timeout: return "upstream_timeout";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

std::string error_json(ErrorCode code, std::string_view message) {
  boost::json::object inner;
  inner["code"] = code_name(code);
  inner["message"] = message;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return boost::json::serialize(outer);
}

}  // namespace progimage::core
