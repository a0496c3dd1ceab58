#pragma once
// One HTTP exchange over libcurl: the request's body streamed from memory, a
// file range or a curl_mime form; the answer's body streamed to a sink (2xx)
// or kept (errors); headers and progress. A Transport owns a pool of easy
// handles, so connections are reused across calls and threads.
#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "progimage/client.hpp"

namespace progimage::detail {

/// Where a request's body comes from. Each attempt reads it from its start.
struct Body {
  enum class Kind { none, memory, file, form };
  Kind kind = Kind::none;
  std::string_view memory;  ///< the caller keeps the bytes alive
  std::filesystem::path file;
  std::int64_t offset = 0, length = 0;  ///< the range of `file` sent
  /// Builds the form on the easy handle of an attempt (curl_mime is tied to one).
  std::function<curl_mime*(CURL*)> form;
  std::string content_type;

  static Body bytes(std::string_view bytes, std::string content_type);
  static Body file_range(std::filesystem::path path, std::int64_t offset, std::int64_t length,
                         std::string content_type);
  /// The whole file; throws std::filesystem::filesystem_error when it cannot be read.
  static Body whole_file(const std::filesystem::path& path, std::string content_type);
  static Body multipart(std::function<curl_mime*(CURL*)> build);
  std::int64_t size() const;  ///< -1 for a form (libcurl counts it)
};

/// Receives the body of a 2xx answer.
struct Sink {
  ByteSink write;
  /// Before a retry of a transfer that already delivered bytes: start over,
  /// or return false when what was delivered cannot be taken back.
  std::function<bool()> restart;
};

struct Request {
  std::string method = "GET";
  std::string target;  ///< below the base URL: `/v1/...` with its query
  std::vector<std::string> headers;  ///< `Name: value`
  Body body;
  const Sink* sink = nullptr;  ///< nullptr: a 2xx body is kept in Reply::body
  ProgressCallback on_progress;  ///< bytes sent when there is a body, else bytes received
  /// A POST that may be sent again after a lost answer (the tus PATCH override).
  bool resendable = false;
};

struct Reply {
  int status = 0;  ///< 0: no answer arrived
  CURLcode transfer = CURLE_OK;
  std::string transfer_error;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;             ///< an error answer's body, or a 2xx one without sink
  std::int64_t delivered = 0;   ///< bytes given to the sink
  bool stopped_by_sink = false;
  std::string header(std::string_view name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

/// What every request of a client carries.
struct Settings {
  std::string base_url;  ///< without a trailing '/'
  std::vector<std::string> headers;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::string user_agent;
};

/// One attempt of a request on one easy handle, for curl_easy_perform or a multi handle.
class Transfer {
 public:
  Transfer(const Settings& settings, const Request& request);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  /// Sets every option of `easy` (a reset handle) for this attempt. Throws
  /// std::filesystem::filesystem_error when the body's file cannot be opened.
  void prepare(CURL* easy);
  /// The answer, once libcurl is done with the handle.
  Reply finish(CURLcode code);
  /// Body bytes sent so far.
  std::int64_t uploaded() const { return uploaded_; }

 private:
  static std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* self);
  static int on_seek(void* self, curl_off_t offset, int origin);
  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* self);
  static std::size_t on_write(char* data, std::size_t size, std::size_t count, void* self);
  static int on_progress(void* self, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total, curl_off_t ul_now);
  void set_method_and_body();
  void set_headers();
  bool answer_is_success() const;

  const Settings& settings_;
  const Request& request_;
  CURL* easy_ = nullptr;
  curl_slist* header_list_ = nullptr;
  curl_mime* form_ = nullptr;
  std::FILE* file_ = nullptr;
  std::int64_t file_position_ = 0;  // within the body's range
  std::int64_t uploaded_ = 0;
  std::int64_t last_reported_ = -1;
  Reply reply_;
  char error_[CURL_ERROR_SIZE] = {};
};

/// A pool of easy handles (each keeps its connections) over one base URL.
/// Thread-safe.
class Transport {
 public:
  explicit Transport(Settings settings);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  /// One attempt of `request`, blocking.
  Reply perform(const Request& request);
  const Settings& settings() const { return settings_; }

  /// A reset easy handle, from the pool or new; give it back with release().
  CURL* acquire();
  void release(CURL* easy);

 private:
  Settings settings_;
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

}  // namespace progimage::detail
