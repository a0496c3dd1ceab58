#include "app/backends.hpp"

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "catalog/postgres_catalog.hpp"
#include "catalog/sqlite_catalog.hpp"
#include "storage/file_blob_store.hpp"
#include "storage/s3_blob_store.hpp"

namespace progimage::app {

namespace {

/// `open` takes what follows the prefix (and the backend's options).
template <class Backend, class... Options>
struct Scheme {
  std::string_view prefix;  // "sqlite://"
  std::string_view form;    // for messages: "sqlite://PATH"
  std::unique_ptr<Backend> (*open)(const std::string& rest, Options...);
};

using CatalogScheme = Scheme<catalog::Catalog, bool /*apply migrations*/>;

/// libpq reads the whole URI; both prefixes are its own.
std::unique_ptr<catalog::Catalog> open_postgres(const std::string& rest, bool migrate) {
  return std::make_unique<catalog::PostgresCatalog>("postgresql://" + rest, migrate);
}

const CatalogScheme kCatalogs[] = {
    {"sqlite://", "sqlite://PATH",
     [](const std::string& path, bool migrate) -> std::unique_ptr<catalog::Catalog> {
       return std::make_unique<catalog::SqliteCatalog>(path, migrate);
     }},
    {"postgresql://", "postgresql://USER@HOST:PORT/DB", open_postgres},
    {"postgres://", "postgres://USER@HOST:PORT/DB", open_postgres},
};

const Scheme<storage::BlobStore, const core::Config&> kBlobStores[] = {
    {"file://", "file://DIR",
     [](const std::string& dir, const core::Config&) -> std::unique_ptr<storage::BlobStore> {
       return std::make_unique<storage::FileBlobStore>(dir);
     }},
    {"s3://", "s3://BUCKET?endpoint=URL&region=R&path_style=true&prefix=P&multipart_threshold=16M&create_bucket=true",
     [](const std::string& rest, const core::Config& cfg) -> std::unique_ptr<storage::BlobStore> {
       storage::S3Options defaults;
       defaults.region = cfg.s3_region.empty() ? "us-east-1" : cfg.s3_region;
       defaults.credentials = {cfg.s3_access_key_id, cfg.s3_secret_access_key, cfg.s3_session_token};
       // Staging stays on this node's disk, beside its other local state.
       defaults.staging_dir = std::filesystem::path(cfg.data) / "s3-staging";
       return std::make_unique<storage::S3BlobStore>(storage::parse_s3_url(rest, std::move(defaults)));
     }},
};

template <class Backend, std::size_t N, class... Options>
std::unique_ptr<Backend> open(const Scheme<Backend, Options...> (&schemes)[N], const char* flag,
                              const std::string& url, std::type_identity_t<Options>... options) {
  std::string forms;
  for (const auto& s : schemes) {
    if (url.starts_with(s.prefix)) return s.open(url.substr(s.prefix.size()), options...);
    forms += (forms.empty() ? "" : " or ") + std::string(s.form);
  }
  throw std::invalid_argument(std::string(flag) + " " + url + ": use " + forms);
}

}  // namespace

std::unique_ptr<catalog::Catalog> make_catalog(const std::string& url, bool apply_migrations) {
  return open(kCatalogs, "--catalog", url, apply_migrations);
}

std::unique_ptr<storage::BlobStore> make_blob_store(const std::string& url, const core::Config& cfg) {
  return open(kBlobStores, "--storage", url, cfg);
}

}  // namespace progimage::app
