#include "app/backends.hpp"

#include <functional>
#include <span>
#include <stdexcept>
#include <string_view>

#include "catalog/sqlite_catalog.hpp"
#include "storage/file_blob_store.hpp"

namespace progimage::app {

namespace {

template <class Backend>
struct Scheme {
  std::string_view prefix;  // "sqlite://"
  std::string_view form;    // for messages: "sqlite://PATH"
  std::unique_ptr<Backend> (*open)(const std::string& rest);
};

const Scheme<catalog::Catalog> kCatalogs[] = {
    {"sqlite://", "sqlite://PATH",
     [](const std::string& path) -> std::unique_ptr<catalog::Catalog> {
       return std::make_unique<catalog::SqliteCatalog>(path);
     }},
};

const Scheme<storage::BlobStore> kBlobStores[] = {
    {"file://", "file://DIR",
     [](const std::string& dir) -> std::unique_ptr<storage::BlobStore> {
       return std::make_unique<storage::FileBlobStore>(dir);
     }},
};

template <class Backend>
std::unique_ptr<Backend> open(std::span<const Scheme<Backend>> schemes, const char* flag, const std::string& url) {
  std::string forms;
  for (const auto& s : schemes) {
    if (url.starts_with(s.prefix)) return s.open(url.substr(s.prefix.size()));
    forms += (forms.empty() ? "" : " or ") + std::string(s.form);
  }
  throw std::invalid_argument(std::string(flag) + " " + url + ": use " + forms);
}

}  // namespace

std::unique_ptr<catalog::Catalog> make_catalog(const std::string& url) {
  return open<catalog::Catalog>(kCatalogs, "--catalog", url);
}

std::unique_ptr<storage::BlobStore> make_blob_store(const std::string& url) {
  return open<storage::BlobStore>(kBlobStores, "--storage", url);
}

}  // namespace progimage::app
