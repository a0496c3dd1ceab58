#pragma once
// Upload links as use cases: an admin makes one (its token shown once, kept
// only as a hash), lists and revokes them; whoever holds the token uploads
// into the link's tenant, with its tags, formats and size limit, up to its
// number of uploads, each use taken atomically before the image is stored
// and given back when the upload is refused.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/tenant.hpp"
#include "service/image_service.hpp"

namespace progimage::service {

struct NewUploadLink {
  std::optional<std::chrono::milliseconds> expires_in;
  std::optional<std::int64_t> expires_at;  // unix seconds; at most one of the two
  std::int64_t max_uploads = 1;
  std::optional<std::int64_t> max_bytes;
  std::vector<std::string> formats;  // names or extensions (jpg, tif, ...)
  std::vector<std::string> tags;
};

/// A link just made: its token is shown this once and never again.
struct CreatedUploadLink {
  catalog::UploadLinkRecord record;
  std::string token;
};

/// Where a link stands: active, expired, revoked or used_up.
std::string_view upload_link_status(const catalog::UploadLinkRecord& link, std::int64_t now);

/// The path that takes uploads with `token`: /v1/uploads/{token}.
std::string upload_link_path(std::string_view token);

class UploadLinks {
 public:
  UploadLinks(catalog::Catalog& catalog, ImageService& images) : catalog_(catalog), images_(images) {}

  /// A link into the scope's tenant. Throws bad_parameter naming the field
  /// (no expiry or both, an expiry in the past or beyond a year, counts
  /// below 1, an unknown format).
  CreatedUploadLink create(const core::Scope& scope, const NewUploadLink& request);
  /// The scope's links, newest first.
  /// One page of the scope's links, newest first (see Catalog::list_upload_links).
  catalog::UploadLinkPage list(const core::Scope& scope, const std::string& cursor, int limit);
  /// Throws not_found for an unknown or another tenant's link.
  void revoke(const core::Scope& scope, const std::string& id);

  /// The link of `token` while it takes uploads. Throws not_found for an
  /// unknown token, link_expired for one expired, revoked or used up.
  catalog::UploadLinkRecord usable(std::string_view token);
  /// Takes one use of the link of `token` (the same errors as usable()).
  catalog::UploadLinkRecord take_use(std::string_view token);
  /// Gives back a use that stored nothing.
  void return_use(const catalog::UploadLinkRecord& link) { catalog_.return_upload_link_use(link.id); }
  /// The link with this id, or nullopt.
  std::optional<catalog::UploadLinkRecord> by_id(const std::string& id) { return catalog_.get_upload_link(id); }

  /// Stores an upload under the link of `token`: takes a use, applies the
  /// link's terms, and gives the use back when the image is refused.
  IngestResult ingest(std::string_view token, Upload& upload, UploadMeta meta);

  /// `meta` with the link's tags added and its formats and size limit set.
  static UploadMeta with_terms(const catalog::UploadLinkRecord& link, UploadMeta meta);

 private:
  catalog::Catalog& catalog_;
  ImageService& images_;
};

}  // namespace progimage::service
