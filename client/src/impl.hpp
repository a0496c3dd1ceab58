#pragma once
// Client::Impl, shared by the files that implement Client's calls.
#include <boost/json.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http.hpp"
#include "progimage/client.hpp"

namespace progimage {

using QueryPairs = std::vector<std::pair<std::string, std::string>>;

struct Client::Impl {
  explicit Impl(ClientOptions options);

  /// Sent with retries; the last reply, whatever it is.
  detail::Reply send(const detail::Request& request);
  /// Sent with retries; throws Error unless the answer is 2xx.
  detail::Reply send_ok(const detail::Request& request);
  /// send_ok() and the answer's JSON object.
  boost::json::object send_for_json(const detail::Request& request);
  boost::json::object get_json(std::string target);
  /// A request with a JSON body (which `body_text` keeps alive).
  detail::Request json_request(std::string method, std::string target, const std::string& body_text) const;

  /// `path` with the transform's parameters and `extra` ones, `exp` when
  /// given, and `sig` when the client has a signing secret and the URL is
  /// one the server checks (it has parameters, or `conversion`: `.{ext}`).
  std::string signed_target(const std::string& path, const Transform& transform, QueryPairs extra = {},
                            std::optional<std::int64_t> expires = {}, bool conversion = false) const;

  ClientOptions options;
  detail::Transport transport;
};

namespace detail {
/// `/v1/...` with each of `segments` percent-encoded: `path("/v1/images/", id)`.
std::string path(std::string_view prefix, std::string_view segment, std::string_view suffix = {});
/// A target with a query of the non-empty pairs.
std::string with_query(std::string target, const QueryPairs& pairs);
}  // namespace detail

}  // namespace progimage
