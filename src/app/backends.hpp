#pragma once
// The one place that names concrete backends: chosen by URL scheme.
#include <memory>
#include <string>

#include "catalog/catalog.hpp"
#include "storage/blob_store.hpp"

namespace progimage::app {

/// sqlite://PATH (postgresql:// comes with the PostgreSQL catalog).
std::unique_ptr<catalog::Catalog> make_catalog(const std::string& url);
/// file://DIR (s3:// comes with the S3 store).
std::unique_ptr<storage::BlobStore> make_blob_store(const std::string& url);

}  // namespace progimage::app
