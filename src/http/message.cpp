#include "http/message.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <strings.h>

namespace progimage::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return {};
}

std::optional<std::string> Request::query_value(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

boost::asio::awaitable<std::string> BodyReader::read_all(std::size_t limit) {
  std::string out;
  char buf[16384];
  for (;;) {
    std::size_t n = co_await read_some(buf, sizeof buf);
    if (n == 0) break;
    if (out.size() + n > limit)
      throw core::Error(core::ErrorCode::payload_too_large,
                        "request body is larger than " + std::to_string(limit) + " bytes");
    out.append(buf, n);
  }
  co_return out;
}

Response Response::json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.header("Content-Type", "application/json");
  return r;
}

Response Response::error(core::ErrorCode code, std::string_view message) {
  return json(core::http_status(code), core::error_json(code, message));
}

Response Response::error(const core::Error& e) {
  auto res = error(e.code(), e.what());
  if (e.code() == core::ErrorCode::payload_too_large) res.close = true;
  if (e.retry_after() > 0) res.header("Retry-After", std::to_string(e.retry_after()));
  return res;
}

}  // namespace progimage::http
