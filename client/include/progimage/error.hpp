#pragma once
/// @file
/// The one exception type of the ProgImage client.
#include <stdexcept>
#include <string>

namespace progimage {

/// A request that did not succeed: an error answer of the server, or a
/// transfer that got no answer at all.
///
/// For an answer, `status()` is its HTTP status and `code()` the API's stable
/// machine code (`not_found`, `rate_limited`, … as listed in docs/API.md);
/// `what()` is the server's message. For a transfer that failed (refused
/// connection, timeout, TLS), `status()` is 0 and `code()` is
/// `connection_failed` or `timeout`. `request_id()` is the server's
/// `X-Request-Id`, to quote when asking an operator about a failure.
class Error : public std::runtime_error {
 public:
  Error(int status, std::string code, const std::string& message, std::string request_id = {})
      : std::runtime_error(message), status_(status), code_(std::move(code)), request_id_(std::move(request_id)) {}

  /// The HTTP status, or 0 when no answer arrived.
  int status() const noexcept { return status_; }
  /// The API's error code (`bad_parameter`, `unauthorized`, …), or
  /// `connection_failed` / `timeout` / `bad_response` from the client itself
  /// (and `file_unreadable` for an item of upload_many() whose file cannot be read).
  const std::string& code() const noexcept { return code_; }
  /// The server's request id, "" when there was no answer.
  const std::string& request_id() const noexcept { return request_id_; }
  /// True for faults worth trying again later: 429, 503, 502, 504, and
  /// transfers without an answer.
  bool retryable() const noexcept {
    return status_ == 0 || status_ == 429 || status_ == 502 || status_ == 503 || status_ == 504;
  }

 private:
  int status_;
  std::string code_;
  std::string request_id_;
};

}  // namespace progimage
