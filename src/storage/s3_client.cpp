#include "storage/s3_client.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include "core/error.hpp"

namespace progimage::storage::detail {

namespace {

using core::Error;
using core::ErrorCode;
using Clock = std::chrono::steady_clock;

// SHA-256 of nothing: the payload hash of GET, HEAD and DELETE.
constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::size_t kMaxKeptBody = 1 << 20;  // an error or XML answer; object bytes go to sinks
constexpr std::size_t kMaxIdleHandles = 16;
constexpr auto kProbeTimeout = std::chrono::milliseconds(2'000);

bool retryable_status(long status) { return status == 429 || status >= 500; }

bool retryable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

/// Full jitter: a uniform sleep in [0, min(cap, first * 2^retry)].
std::chrono::milliseconds backoff(const RetryPolicy& p, int retry) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const auto ceiling = std::min<std::int64_t>(p.max_backoff.count(), p.first_backoff.count() << std::min(retry, 20));
  return std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, ceiling)(random));
}

bool starts_with_nocase(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

void setopt_or_throw(CURLcode rc) {
  if (rc != CURLE_OK) throw Error(ErrorCode::internal, std::string("storage: curl option: ") + curl_easy_strerror(rc));
}

}  // namespace

std::string S3Response::error_code() const {
  auto open = body.find("<Code>");
  auto close = body.find("</Code>");
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return body.substr(open + 6, close - open - 6);
}

/// What one transfer's callbacks share with the code that runs it.
struct S3Client::Attempt {
  CURL* easy = nullptr;
  const S3Request* request = nullptr;
  S3Response response;
  std::int64_t body_pos = 0;    // bytes of the request body read so far
  std::int64_t delivered = 0;   // bytes given to the sink over all attempts
  std::exception_ptr sink_failure;
  std::exception_ptr read_failure;
  CURLcode transport = CURLE_OK;  // of the last attempt
  std::int64_t asked_first = -1;  // the range this attempt asked for (-1: none)
  std::int64_t asked_last = -1;
  std::int64_t answer_pos = 0;  // body bytes of this attempt's answer so far
  std::int64_t served_first = -1;  // where a 206 answer starts (its Content-Range)

  long status() const {
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
  }

  /// The part of a piece of body that the sink gets: only the bytes asked
  /// for, wherever the answer starts. A server that ignores Range answers 200
  /// with the whole object, and s3rver answers `bytes=0-0` with all of it (as
  /// 206, its Content-Range saying so).
  std::string_view wanted(std::string_view piece, long status) {
    const std::int64_t base = status == 206 && served_first >= 0 ? served_first : 0;
    const std::int64_t at = base + answer_pos;
    answer_pos += static_cast<std::int64_t>(piece.size());
    if (asked_first < 0) return piece;
    const std::int64_t end = asked_last >= 0 ? asked_last + 1 : std::numeric_limits<std::int64_t>::max();
    const std::int64_t from = std::max(at, asked_first);
    const std::int64_t to = std::min(at + static_cast<std::int64_t>(piece.size()), end);
    if (from >= to) return {};
    return piece.substr(static_cast<std::size_t>(from - at), static_cast<std::size_t>(to - from));
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self) {
    auto& a = *static_cast<Attempt*>(self);
    std::string_view line(data, size * count);
    // A new status line (after 100 Continue, say) starts a new set of headers.
    if (line.starts_with("HTTP/")) {
      a.response.etag.clear();
      a.response.content_length.reset();
      a.served_first = -1;
    } else if (starts_with_nocase(line, "content-range:")) {
      auto v = trim(line.substr(14));
      if (v.starts_with("bytes ")) v.remove_prefix(6);
      std::int64_t first = 0;
      if (std::from_chars(v.data(), v.data() + v.size(), first).ec == std::errc()) a.served_first = first;
    } else if (starts_with_nocase(line, "etag:")) {
      a.response.etag = std::string(trim(line.substr(5)));
    } else if (starts_with_nocase(line, "content-length:")) {
      auto v = trim(line.substr(15));
      std::int64_t n = 0;
      if (std::from_chars(v.data(), v.data() + v.size(), n).ec == std::errc()) a.response.content_length = n;
    }
    return size * count;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* self) {
    auto& a = *static_cast<Attempt*>(self);
    const std::size_t n = size * count;
    const long status = a.status();
    if (a.request->sink && status >= 200 && status < 300) {
      const std::string_view piece = a.wanted(std::string_view(data, n), status);
      try {
        if (!piece.empty()) a.request->sink(piece);
      } catch (...) {
        a.sink_failure = std::current_exception();
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
      }
      a.delivered += static_cast<std::int64_t>(piece.size());
    } else if (a.response.body.size() < kMaxKeptBody) {
      a.response.body.append(data, std::min(n, kMaxKeptBody - a.response.body.size()));
    }
    return n;
  }

  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* self) {
    auto& a = *static_cast<Attempt*>(self);
    const std::size_t want = size * count;
    if (const auto* bytes = std::get_if<std::string_view>(&a.request->body)) {
      const auto left = bytes->size() - static_cast<std::size_t>(a.body_pos);
      const auto n = std::min(want, left);
      std::memcpy(buffer, bytes->data() + a.body_pos, n);
      a.body_pos += static_cast<std::int64_t>(n);
      return n;
    }
    const auto& slice = std::get<FileSlice>(a.request->body);
    const auto left = static_cast<std::size_t>(slice.length - a.body_pos);
    if (left == 0) return 0;
    for (;;) {
      ssize_t n = ::pread(slice.fd, buffer, std::min(want, left), slice.offset + a.body_pos);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {  // the staging file shrank or failed: never send a short body
        a.read_failure = std::make_exception_ptr(
            Error(ErrorCode::internal, std::string("storage: reading the staged file: ") +
                                           (n < 0 ? std::strerror(errno) : "unexpected end")));
        return CURL_READFUNC_ABORT;
      }
      a.body_pos += n;
      return static_cast<std::size_t>(n);
    }
  }

  /// curl rewinds the body when it must send it again on the same attempt.
  static int on_seek(void* self, curl_off_t offset, int origin) {
    auto& a = *static_cast<Attempt*>(self);
    if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
    a.body_pos = offset;
    return CURL_SEEKFUNC_OK;
  }
};

S3Client::S3Client(S3Endpoint endpoint, S3Credentials credentials, RetryPolicy retry)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), retry_(retry) {
  core::curl::ensure_curl_initialised();
  sigv4_ = "aws:amz:" + endpoint_.region + ":s3";
}

std::string S3Client::uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string S3Client::url_of(const S3Request& request) const {
  // curl signs the path and query as they are written: both must already be
  // in SigV4's canonical form (encoded here, sorted by the caller).
  std::string url = endpoint_.base;
  if (endpoint_.path_style) url += "/" + uri_encode(endpoint_.bucket, false);
  if (!request.object.empty() || !endpoint_.path_style) url += "/" + uri_encode(request.object, true);
  if (!request.query.empty()) url += "?" + request.query;
  return url;
}

core::curl::Easy S3Client::acquire() {
  {
    std::lock_guard lock(idle_mu_);
    if (!idle_.empty()) {
      core::curl::Easy easy = std::move(idle_.back());
      idle_.pop_back();
      // Forgets the options, keeps the open connections and the DNS cache.
      curl_easy_reset(easy.get());
      return easy;
    }
  }
  core::curl::Easy easy(curl_easy_init());
  if (!easy) throw Error(ErrorCode::unavailable, "storage: curl_easy_init failed");
  return easy;
}

void S3Client::release(core::curl::Easy easy) {
  std::lock_guard lock(idle_mu_);
  if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(easy));
}

S3Response S3Client::attempt(CURL* easy, const S3Request& r, std::int64_t resume_from, Attempt& a) {
  a.easy = easy;
  a.request = &r;
  a.response = {};
  a.body_pos = 0;
  a.transport = CURLE_OK;
  a.answer_pos = 0;
  a.asked_first = a.asked_last = -1;

  const std::string url = url_of(r);
  core::curl::HeaderList headers;
  headers.append("x-amz-content-sha256: " + (r.payload_sha256.empty() ? std::string(kEmptySha256) : r.payload_sha256));
  if (!credentials_.session_token.empty()) headers.append("x-amz-security-token: " + credentials_.session_token);
  if (!r.content_type.empty()) headers.append("Content-Type: " + r.content_type);

  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_URL, url.c_str()));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https"));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_PROXY, ""));  // an http_proxy variable must not reroute blobs
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, sigv4_.c_str()));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_USERNAME, credentials_.access_key_id.c_str()));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str()));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get()));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Attempt::on_header));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_HEADERDATA, &a));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Attempt::on_body));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_WRITEDATA, &a));
  setopt_or_throw(curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(retry_.connect_timeout.count())));
  if (r.probe) {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(kProbeTimeout.count())));
  } else {
    // Large bodies take as long as they take; a stalled one does not.
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, static_cast<long>(retry_.stall_timeout.count())));
  }

  const std::string_view method = r.method;
  std::int64_t body_size = 0;
  if (const auto* bytes = std::get_if<std::string_view>(&r.body)) body_size = static_cast<std::int64_t>(bytes->size());
  if (const auto* slice = std::get_if<FileSlice>(&r.body)) body_size = slice->length;
  if (method == "HEAD") {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_NOBODY, 1L));
  } else if (method == "PUT") {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body_size)));
  } else if (method == "POST") {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_POST, 1L));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_size)));
  } else if (method != "GET") {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method));
  }
  if (!std::holds_alternative<std::monostate>(r.body) || method == "PUT" || method == "POST") {
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_READFUNCTION, &Attempt::on_read));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_READDATA, &a));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &Attempt::on_seek));
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_SEEKDATA, &a));
  }

  // A retry after part of the body reached the sink asks only for the rest.
  std::string range;
  const std::int64_t first = std::max<std::int64_t>(r.range_first, 0) + resume_from;
  if (r.range_first >= 0 || resume_from > 0) {
    range = std::to_string(first) + "-" + (r.range_last >= 0 ? std::to_string(r.range_last) : "");
    a.asked_first = first;
    a.asked_last = r.range_last;
    setopt_or_throw(curl_easy_setopt(easy, CURLOPT_RANGE, range.c_str()));
  }

  const CURLcode rc = curl_easy_perform(easy);
  if (a.sink_failure) std::rethrow_exception(a.sink_failure);
  if (a.read_failure) std::rethrow_exception(a.read_failure);
  if (rc != CURLE_OK) {
    a.transport = rc;
    a.response = {};
    a.response.body = curl_easy_strerror(rc);
    return std::move(a.response);
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &a.response.status);
  return std::move(a.response);
}

S3Response S3Client::send(const S3Request& request) {
  const auto started = Clock::now();
  const int attempts = request.probe ? 1 : std::max(1, retry_.max_attempts);
  Attempt state;
  for (int n = 1;; ++n) {
    core::curl::Easy easy = acquire();
    S3Response response = attempt(easy.get(), request, state.delivered, state);
    const bool transport_failed = state.transport != CURLE_OK;
    // A handle whose transfer failed may hold a broken connection: drop it.
    if (!transport_failed) release(std::move(easy));

    const bool worth_retrying =
        transport_failed ? retryable_transport(state.transport) : retryable_status(response.status);
    const auto sleep = backoff(retry_, n - 1);
    const bool out_of_time = Clock::now() + sleep - started > retry_.deadline;
    if (!worth_retrying || !request.idempotent || n >= attempts || out_of_time) {
      if (!transport_failed) return response;
      // response.body holds curl's message: no secret, no payload.
      throw Error(ErrorCode::unavailable, std::string("storage: S3 ") + request.method + " " +
                                              (request.object.empty() ? endpoint_.bucket : request.object) + ": " +
                                              response.body + " (" + std::to_string(n) + " attempts)");
    }
    std::this_thread::sleep_for(sleep);
  }
}

}  // namespace progimage::storage::detail
