#pragma once
// What handlers see of an HTTP exchange, without Beast types.
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.hpp"
#include "core/config.hpp"
#include "core/error.hpp"

namespace progimage::http {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;
  std::string path;       // decoded path
  std::string raw_query;  // as sent, without '?'
  QueryParams query;      // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> params;  // route captures
  std::string route;                // the matched pattern, for logs and metrics
  std::string request_id;
  /// Who the caller proved to be; nullopt on open routes (health, metrics, upload links).
  std::optional<auth::Principal> principal;
  /// Whose data the request works on (the default tenant on open routes).
  core::Scope scope;
  std::optional<std::int64_t> content_length;

  /// First header with this name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
  /// First query value with this name, or nullopt.
  std::optional<std::string> query_value(std::string_view name) const;
};

/// The request body, read on demand so that it streams.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  /// Reads up to `size` bytes; 0 at the end of the body. Throws core::Error
  /// payload_too_large once the configured limit is passed.
  virtual boost::asio::awaitable<std::size_t> read_some(char* data, std::size_t size) = 0;
  /// Reads the whole body into memory (for JSON bodies), up to `limit` bytes.
  boost::asio::awaitable<std::string> read_all(std::size_t limit);
};

struct FileRange {
  std::filesystem::path path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::shared_ptr<const void> owner;  // keeps `path` valid until the answer is sent
};

/// A body produced while it is sent (e.g. read from a remote store): `next`
/// fills up to `size` bytes and returns how many, 0 only at the end.
struct StreamBody {
  std::uint64_t length = 0;
  std::function<boost::asio::awaitable<std::size_t>(char* data, std::size_t size)> next;
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::shared_ptr<const std::string> shared_body;  // sent instead of `body` when set (cached bytes)
  std::optional<FileRange> file;  // sent instead of `body` when set
  std::optional<StreamBody> stream;  // sent instead of `body` when set
  bool close = false;             // close the connection after this answer
  /// What the answer cost, for usage: images stored, renders computed, cache lookups.
  struct Work {
    int uploads = 0;
    int transforms = 0;
    int cache_hits = 0;
    int cache_misses = 0;
  } work;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  static Response json(unsigned status, std::string body);
  static Response error(core::ErrorCode code, std::string_view message);
  /// The answer to a thrown error: its JSON, `Retry-After` when it has one,
  /// and a closed connection after a 413 (the rest of the body is not read).
  static Response error(const core::Error& e);
  /// 204 No Content.
  static Response no_content() {
    Response r;
    r.status = 204;
    return r;
  }
};

}  // namespace progimage::http
