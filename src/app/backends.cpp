#include "app/backends.hpp"

#include <stdexcept>

#include "catalog/sqlite_catalog.hpp"
#include "storage/file_blob_store.hpp"

namespace progimage::app {

namespace {
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

std::unique_ptr<catalog::Catalog> make_catalog(const std::string& url) {
  if (starts_with(url, "sqlite://")) return std::make_unique<catalog::SqliteCatalog>(url.substr(9));
  throw std::invalid_argument("--catalog " + url + ": use sqlite://PATH");
}

std::unique_ptr<storage::BlobStore> make_blob_store(const std::string& url) {
  if (starts_with(url, "file://")) return std::make_unique<storage::FileBlobStore>(url.substr(7));
  throw std::invalid_argument("--storage " + url + ": use file://DIR");
}

}  // namespace progimage::app
