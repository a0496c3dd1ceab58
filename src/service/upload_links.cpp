#include "service/upload_links.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/tags.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::int64_t kMaxLifetime = 366LL * 24 * 3600;
constexpr std::int64_t kMaxUploads = 1'000'000;
constexpr std::size_t kMaxTags = 100;

/// A token: 44 base62 characters from a CSPRNG (about 262 bits), so that
/// nobody guesses one; the catalog keeps only its SHA-256.
std::string new_token() { return core::new_id() + core::new_id(); }

std::string token_hash(std::string_view token) { return core::sha256_hex(token); }

bool names_format(const core::FormatInfo& f, std::string_view wanted) {
  if (core::iequals(f.name, wanted)) return true;
  std::string_view rest = f.extensions;
  while (!rest.empty()) {
    auto space = rest.find(' ');
    if (core::iequals(rest.substr(0, space), wanted)) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

/// The canonical names of formats an upload may have, sorted and unique.
std::vector<std::string> upload_formats(const std::vector<std::string>& wanted) {
  std::vector<std::string> out;
  for (const auto& w : wanted) {
    auto all = core::formats();
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& f) { return f.readable && names_format(f, w); });
    if (it == all.end()) {
      std::string names;
      for (const auto& f : all)
        if (f.readable) names += (names.empty() ? "" : " ") + std::string(f.name);
      throw Error(ErrorCode::bad_parameter, "\"formats\": " + w + " is not an upload format; use " + names);
    }
    out.emplace_back(it->name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::int64_t expiry_of(const NewUploadLink& r, std::int64_t now) {
  if (r.expires_in && r.expires_at)
    throw Error(ErrorCode::bad_parameter, "give \"expires_in\" or \"expires_at\", not both");
  if (!r.expires_in && !r.expires_at)
    throw Error(ErrorCode::bad_parameter, "an upload link needs \"expires_in\" (e.g. PT1H) or \"expires_at\"");
  std::int64_t at = r.expires_at ? *r.expires_at
                                 : now + std::chrono::duration_cast<std::chrono::seconds>(*r.expires_in).count();
  if (at <= now) throw Error(ErrorCode::bad_parameter, "the link would expire at once; give a time in the future");
  if (at - now > kMaxLifetime) throw Error(ErrorCode::bad_parameter, "an upload link lives at most 366 days");
  return at;
}

Error unknown_token() { return Error(ErrorCode::not_found, "no upload link has this token"); }

}  // namespace

std::string_view upload_link_status(const catalog::UploadLinkRecord& link, std::int64_t now) {
  if (link.revoked_at) return "revoked";
  if (link.expires_at <= now) return "expired";
  if (link.uses >= link.max_uploads) return "used_up";
  return "active";
}

std::string upload_link_path(std::string_view token) { return "/v1/uploads/" + std::string(token); }

CreatedUploadLink UploadLinks::create(const core::Scope& scope, const NewUploadLink& request) {
  const auto now = core::unix_now();
  if (request.max_uploads < 1 || request.max_uploads > kMaxUploads)
    throw Error(ErrorCode::bad_parameter, "\"max_uploads\" must be between 1 and 1000000");
  if (request.max_bytes && *request.max_bytes < 1)
    throw Error(ErrorCode::bad_parameter, "\"max_bytes\" must be at least 1");
  if (request.tags.size() > kMaxTags) throw Error(ErrorCode::bad_parameter, "\"tags\": at most 100");
  CreatedUploadLink made;
  made.token = new_token();
  auto& r = made.record;
  r.id = core::new_id();
  r.tenant = scope.tenant;
  r.hash = token_hash(made.token);
  r.created_at = now;
  r.expires_at = expiry_of(request, now);
  r.max_uploads = request.max_uploads;
  r.max_bytes = request.max_bytes;
  r.formats = upload_formats(request.formats);
  r.tags = core::normalize_tags(request.tags);
  catalog_.insert_upload_link(r);
  return made;
}

catalog::UploadLinkPage UploadLinks::list(const core::Scope& scope, const std::string& cursor, int limit) {
  return catalog_.list_upload_links(scope.search_tenant(), cursor, limit);
}

void UploadLinks::revoke(const core::Scope& scope, const std::string& id) {
  if (!core::looks_like_id(id) || !catalog_.revoke_upload_link(scope.search_tenant(), id, core::unix_now()))
    throw Error(ErrorCode::not_found, "no upload link with id " + id);
}

catalog::UploadLinkRecord UploadLinks::usable(std::string_view token) {
  if (token.empty()) throw unknown_token();
  auto link = catalog_.find_upload_link(token_hash(token));
  if (!link) throw unknown_token();
  if (auto refusal = catalog::upload_link_refusal(*link, core::unix_now()))
    throw Error(ErrorCode::link_expired, *refusal);
  return std::move(*link);
}

catalog::UploadLinkRecord UploadLinks::take_use(std::string_view token) {
  if (token.empty()) throw unknown_token();
  const auto hash = token_hash(token);
  if (auto link = catalog_.take_upload_link_use(hash, core::unix_now())) return std::move(*link);
  // None taken: say why (it may have changed since, but only towards refusal).
  auto link = catalog_.find_upload_link(hash);
  if (!link) throw unknown_token();
  auto refusal = catalog::upload_link_refusal(*link, core::unix_now());
  throw Error(ErrorCode::link_expired, refusal.value_or("this upload link is used up"));
}

UploadMeta UploadLinks::with_terms(const catalog::UploadLinkRecord& link, UploadMeta meta) {
  meta.tags.insert(meta.tags.end(), link.tags.begin(), link.tags.end());
  meta.allowed_formats = link.formats;
  meta.max_bytes = link.max_bytes.value_or(0);
  return meta;
}

IngestResult UploadLinks::ingest(std::string_view token, Upload& upload, UploadMeta meta) {
  auto link = take_use(token);
  try {
    return images_.ingest(core::Scope::of(link.tenant), upload, with_terms(link, std::move(meta)));
  } catch (...) {
    return_use(link);
    throw;
  }
}

}  // namespace progimage::service
