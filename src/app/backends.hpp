#pragma once
// The one place that names concrete backends: each URL scheme maps to the
// factory that opens it. A new backend is one row here.
#include <memory>
#include <string>

#include "catalog/catalog.hpp"
#include "core/config.hpp"
#include "storage/blob_store.hpp"

namespace progimage::app {

/// Opens the catalog at `url` (sqlite://PATH, postgresql://…) and, unless
/// `apply_migrations` is false, brings its schema up to date. Throws
/// std::invalid_argument for a scheme no backend takes, naming the ones that
/// exist.
std::unique_ptr<catalog::Catalog> make_catalog(const std::string& url, bool apply_migrations = true);
/// Opens the blob store at `url` (file://DIR or s3://BUCKET?...), with the S3
/// credentials and region of `cfg` and its data directory for S3 staging.
/// Throws like make_catalog.
std::unique_ptr<storage::BlobStore> make_blob_store(const std::string& url, const core::Config& cfg);

}  // namespace progimage::app
