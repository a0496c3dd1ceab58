#include "fetch/fetcher.hpp"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "core/error.hpp"
#include "core/curl.hpp"
#include "fetch/url.hpp"

namespace progimage::fetch {

namespace {

using core::Error;
using core::ErrorCode;

constexpr const char* kUserAgent = "ProgImage/1.0";

/// What the callbacks of one transfer share with the code that runs it.
struct Transfer {
  CURL* easy = nullptr;
  const AddressGuard* guard = nullptr;
  const std::function<bool(const sockaddr*)>* connect_filter = nullptr;
  const std::function<void(std::string_view)>* sink = nullptr;  // null: discard the body
  std::int64_t max_bytes = -1;                                   // -1: no limit
  bool require_2xx = false;

  std::optional<std::string> refused;  // a connection the guard blocked, and why
  std::int64_t received = 0;
  bool too_large = false;
  long bad_status = 0;  // a non-2xx answer whose body reached the write callback
  std::exception_ptr sink_error;
};

curl_socket_t open_socket(void* clientp, curlsocktype /*purpose*/, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(clientp);
  if (auto reason = t->guard->refuse_reason(&address->addr)) {
    t->refused = std::move(reason);
    return CURL_SOCKET_BAD;
  }
  if (*t->connect_filter && !(*t->connect_filter)(&address->addr)) {
    t->refused = "address refused by the connect filter";
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Second layer: the peer of the connection the request is about to use.
int check_peer(void* clientp, char* primary_ip, char* /*local_ip*/, int /*primary_port*/, int /*local_port*/) {
  auto* t = static_cast<Transfer*>(clientp);
  auto ip = IpAddress::try_parse(primary_ip == nullptr ? "" : primary_ip);
  auto reason = ip ? t->guard->refuse_reason(*ip)
                   : std::optional<std::string>("peer address could not be checked");
  if (!reason) return CURL_PREREQFUNC_OK;
  t->refused = std::move(reason);
  return CURL_PREREQFUNC_ABORT;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  const std::size_t length = size * count;
  if (t->require_2xx && t->received == 0) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
      t->bad_status = status;
      return 0;
    }
  }
  if (t->max_bytes >= 0 && static_cast<std::int64_t>(length) > t->max_bytes - t->received) {
    t->too_large = true;
    return 0;
  }
  t->received += static_cast<std::int64_t>(length);
  if (t->sink != nullptr) {
    try {
      (*t->sink)(std::string_view(data, length));
    } catch (...) {
      t->sink_error = std::current_exception();
      return 0;
    }
  }
  return length;
}

template <typename T>
void set(CURL* easy, CURLoption option, T value) {
  if (curl_easy_setopt(easy, option, value) != CURLE_OK)
    throw Error(ErrorCode::internal, "libcurl refused an option (" + std::to_string(option) + ")");
}

std::string host_of(std::string_view url) {
  core::curl::Url handle(curl_url());
  char* raw = nullptr;
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK ||
      curl_url_get(handle.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK)
    return "the upstream host";
  core::curl::CurlString owned(raw);
  return raw;
}

std::string effective_url(CURL* easy) {
  char* url = nullptr;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
  return url == nullptr ? std::string() : std::string(url);
}

long response_code(CURL* easy) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

/// A handle with everything fetch() and post_json() share.
core::curl::Easy make_easy(const std::string& url, Transfer& t, std::chrono::milliseconds connect_timeout,
                       std::chrono::milliseconds total_timeout) {
  core::curl::Easy easy(curl_easy_init());
  if (!easy) throw std::bad_alloc();
  CURL* h = easy.get();
  t.easy = h;
  set(h, CURLOPT_URL, url.c_str());
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_PROXY, "");  // an http_proxy variable would hide the real peer from the guard
  set(h, CURLOPT_USERAGENT, kUserAgent);
  set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(total_timeout.count()));
  set(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
  set(h, CURLOPT_OPENSOCKETDATA, static_cast<void*>(&t));
  set(h, CURLOPT_PREREQFUNCTION, &check_peer);
  set(h, CURLOPT_PREREQDATA, static_cast<void*>(&t));
  set(h, CURLOPT_WRITEFUNCTION, &on_body);
  set(h, CURLOPT_WRITEDATA, static_cast<void*>(&t));
  return easy;
}

/// Turns a failed transfer into the error the API promises.
[[noreturn]] void fail(CURLcode rc, CURL* easy, const Transfer& t, const std::string& requested_url,
                       const FetchOptions& options, std::chrono::milliseconds total_timeout) {
  if (t.sink_error) std::rethrow_exception(t.sink_error);
  if (t.refused && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_ABORTED_BY_CALLBACK))
    throw Error(ErrorCode::upstream_failed, *t.refused);
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    throw Error(ErrorCode::upstream_failed,
                "remote image is larger than " + std::to_string(options.max_bytes) + " bytes");
  if (t.bad_status != 0)
    throw Error(ErrorCode::upstream_failed, "HTTP " + std::to_string(t.bad_status) + " from upstream");
  auto current = effective_url(easy);
  const std::string host = host_of(current.empty() ? requested_url : current);
  switch (rc) {
    case CURLE_HTTP_RETURNED_ERROR:
      throw Error(ErrorCode::upstream_failed, "HTTP " + std::to_string(response_code(easy)) + " from upstream");
    case CURLE_OPERATION_TIMEDOUT: {
      double connected = 0;
      curl_easy_getinfo(easy, CURLINFO_CONNECT_TIME, &connected);
      if (connected <= 0)
        throw Error(ErrorCode::upstream_timeout, "could not connect to " + host + " in time");
      throw Error(ErrorCode::upstream_timeout,
                  "remote fetch did not finish within " + std::to_string(total_timeout.count()) + " ms");
    }
    case CURLE_TOO_MANY_REDIRECTS:
      throw Error(ErrorCode::upstream_failed,
                  "too many redirects (more than " + std::to_string(options.max_redirects) + ")");
    case CURLE_UNSUPPORTED_PROTOCOL:
      throw Error(ErrorCode::upstream_failed, "redirected to a URL scheme that is not allowed (only http and https)");
    case CURLE_URL_MALFORMAT:
      throw Error(ErrorCode::upstream_failed, "redirected to a malformed URL");
    case CURLE_COULDNT_RESOLVE_HOST:
      throw Error(ErrorCode::upstream_failed, "could not resolve host " + host);
    case CURLE_COULDNT_CONNECT:
      throw Error(ErrorCode::upstream_failed, "could not connect to " + host);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      throw Error(ErrorCode::upstream_failed, "TLS with " + host + " failed: " + curl_easy_strerror(rc));
    default:
      throw Error(ErrorCode::upstream_failed, std::string("remote fetch from ") + host +
                                                  " failed: " + curl_easy_strerror(rc));
  }
}

bool valid_header_text(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Fetcher::Fetcher(FetchOptions options) : options_(std::move(options)), guard_(options_.allow_cidrs) {
  if (options_.max_bytes <= 0) throw std::invalid_argument("fetch: max_bytes must be positive");
  if (options_.total_timeout.count() <= 0 || options_.connect_timeout.count() <= 0)
    throw std::invalid_argument("fetch: timeouts must be positive");
  if (options_.max_redirects < 0) throw std::invalid_argument("fetch: max_redirects must not be negative");
  core::curl::ensure_curl_initialised();
}

FetchResult Fetcher::fetch(const std::string& url, const std::function<void(std::string_view)>& sink) const {
  const RemoteUrl remote = parse_remote_url(url);
  Transfer t;
  t.guard = &guard_;
  t.connect_filter = &options_.connect_filter;
  t.sink = &sink;
  t.max_bytes = options_.max_bytes;
  t.require_2xx = true;
  auto easy = make_easy(remote.url, t, options_.connect_timeout, options_.total_timeout);
  CURL* h = easy.get();
  set(h, CURLOPT_FOLLOWLOCATION, 1L);
  set(h, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  set(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));  // checks Content-Length
  set(h, CURLOPT_FAILONERROR, 1L);

  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) fail(rc, h, t, remote.url, options_, options_.total_timeout);
  const long status = response_code(h);
  if (status < 200 || status > 299)
    throw Error(ErrorCode::upstream_failed, "HTTP " + std::to_string(status) + " from upstream");

  FetchResult result;
  result.final_url = redact_url(effective_url(h));
  char* type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) result.content_type = type;
  result.size = t.received;
  return result;
}

long Fetcher::post_json(const std::string& url, std::string_view body, const std::vector<HttpHeader>& headers,
                        std::chrono::milliseconds timeout) const {
  const RemoteUrl remote = parse_remote_url(url);
  if (timeout.count() <= 0) timeout = options_.total_timeout;
  core::curl::HeaderList list;
  list.append("Content-Type: application/json");
  list.append("Expect:");  // no 100-continue round trip
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find(':') != std::string::npos || !valid_header_text(name) || !valid_header_text(value))
      throw Error(ErrorCode::bad_parameter, "invalid callback header");
    list.append(name + ": " + value);
  }
  Transfer t;
  t.guard = &guard_;
  t.connect_filter = &options_.connect_filter;
  auto easy = make_easy(remote.url, t, std::min(options_.connect_timeout, timeout), timeout);
  CURL* h = easy.get();
  set(h, CURLOPT_FOLLOWLOCATION, 0L);
  set(h, CURLOPT_POST, 1L);
  set(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
  set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  set(h, CURLOPT_HTTPHEADER, list.get());

  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) fail(rc, h, t, remote.url, options_, timeout);
  return response_code(h);
}

}  // namespace progimage::fetch
