#pragma once
// RAII owners for libcurl handles, shared by the modules that speak HTTP out
// (fetch: remote images and callbacks; storage: the S3 blob store).
#include <curl/curl.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace progimage::core::curl {

/// curl_global_init, once per process, thread-safe. Throws std::runtime_error.
void ensure_curl_initialised();

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct UrlDeleter {
  void operator()(CURLU* h) const noexcept { curl_url_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Url = std::unique_ptr<CURLU, UrlDeleter>;

/// A curl_slist of header lines.
class HeaderList {
 public:
  void append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_.get(), line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    list_.release();
    list_.reset(next);
  }
  curl_slist* get() const noexcept { return list_.get(); }

 private:
  std::unique_ptr<curl_slist, SlistDeleter> list_;
};

/// A string that libcurl allocated.
struct CurlFree {
  void operator()(char* p) const noexcept { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlFree>;

}  // namespace progimage::core::curl
