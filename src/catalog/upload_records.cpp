#include "catalog/upload_records.hpp"

#include <boost/json.hpp>

namespace progimage::catalog {

const std::string kUploadLinkColumns =
    "id, tenant, hash, created_at, expires_at, max_uploads, uses, max_bytes, formats, tags, revoked_at";

UploadLinkRecord read_upload_link(const Row& row) {
  UploadLinkRecord link;
  link.id = row.text(0);
  link.tenant = row.text(1);
  link.hash = row.text(2);
  link.created_at = row.int64(3);
  link.expires_at = row.int64(4);
  link.max_uploads = row.int64(5);
  link.uses = row.int64(6);
  if (!row.is_null(7)) link.max_bytes = row.int64(7);
  link.formats = string_list_of(row.text(8));
  link.tags = string_list_of(row.text(9));
  if (!row.is_null(10)) link.revoked_at = row.int64(10);
  return link;
}

const std::string kResumableUploadColumns = "id, tenant, length, metadata, link_id, created_at, expires_at, image_id";

ResumableUploadRecord read_resumable_upload(const Row& row) {
  ResumableUploadRecord u;
  u.id = row.text(0);
  u.tenant = row.text(1);
  u.length = row.int64(2);
  u.metadata = row.text(3);
  u.link_id = row.text(4);
  u.created_at = row.int64(5);
  u.expires_at = row.int64(6);
  u.image_id = row.text(7);
  return u;
}

std::string string_list_json(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return boost::json::serialize(a);
}

std::vector<std::string> string_list_of(std::string_view json_text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(json_text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array())
    if (item.is_string()) out.emplace_back(item.as_string());
  return out;
}

std::optional<std::string> upload_link_refusal(const UploadLinkRecord& link, std::int64_t now) {
  if (link.revoked_at) return std::string("this upload link was revoked");
  if (link.expires_at <= now) return std::string("this upload link expired");
  if (link.uses >= link.max_uploads)
    return "this upload link is used up (" + std::to_string(link.max_uploads) + " uploads)";
  return std::nullopt;
}

}  // namespace progimage::catalog
