// SqliteCatalog: upload links (their uses taken and given back in single
// statements) and resumable uploads.
#include "catalog/cursor.hpp"
#include "catalog/sqlite_access.hpp"
#include "catalog/upload_records.hpp"

namespace progimage::catalog {

using sqlite::Connection;

// ---- upload links ------------------------------------------------------------

void SqliteCatalog::insert_upload_link(const UploadLinkRecord& link) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached("INSERT INTO upload_links (" + kUploadLinkColumns +
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    s->bind(1, link.id).bind(2, link.tenant).bind(3, link.hash).bind(4, link.created_at).bind(5, link.expires_at);
    s->bind(6, link.max_uploads).bind(7, link.uses);
    if (link.max_bytes) s->bind(8, *link.max_bytes);
    s->bind(9, string_list_json(link.formats)).bind(10, string_list_json(link.tags));
    if (link.revoked_at) s->bind(11, *link.revoked_at);
    s->run();
  });
}

std::optional<UploadLinkRecord> SqliteCatalog::find_upload_link(const std::string& hash) {
  auto r = reader();
  auto s = r->cached("SELECT " + kUploadLinkColumns + " FROM upload_links WHERE hash = ?1");
  s->bind(1, hash);
  if (!s->step()) return std::nullopt;
  return read_upload_link(*s);
}

std::optional<UploadLinkRecord> SqliteCatalog::get_upload_link(const std::string& id) {
  auto r = reader();
  auto s = r->cached("SELECT " + kUploadLinkColumns + " FROM upload_links WHERE id = ?1");
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  return read_upload_link(*s);
}

UploadLinkPage SqliteCatalog::list_upload_links(const std::string& tenant, const std::string& cursor, int limit) {
  const auto after = list_cursor_position(cursor);
  limit = clamp_limit(limit);
  auto r = reader();
  // Keyset paging, as for images: links made meanwhile land before the cursor.
  auto s = r->cached("SELECT " + kUploadLinkColumns +
                     " FROM upload_links WHERE (?1 = '' OR tenant = ?1) AND (?2 = 0 OR (created_at, id) < (?3, ?4))"
                     " ORDER BY created_at DESC, id DESC LIMIT ?5");
  s->bind(1, tenant)
      .bind(2, std::int64_t{after ? 1 : 0})
      .bind(3, after ? after->created_at : 0)
      .bind(4, after ? after->id : std::string())
      .bind(5, std::int64_t{limit} + 1);
  UploadLinkPage page;
  while (s->step()) {
    if (page.links.size() == static_cast<std::size_t>(limit)) {
      page.next_cursor = encode_cursor({page.links.back().created_at, page.links.back().id});
      break;
    }
    page.links.push_back(read_upload_link(*s));
  }
  return page;
}

bool SqliteCatalog::revoke_upload_link(const std::string& tenant, const std::string& id, std::int64_t now) {
  return write(Durability::full, [&](Connection& w) {
    auto s = w.cached(
        "UPDATE upload_links SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND (?2 = '' OR tenant = ?2)");
    s->bind(1, id).bind(2, tenant).bind(3, now).run();
    return w.changes() > 0;
  });
}

std::optional<UploadLinkRecord> SqliteCatalog::take_upload_link_use(const std::string& hash, std::int64_t now) {
  return write(Durability::full, [&](Connection& w) -> std::optional<UploadLinkRecord> {
    // One statement checks and counts: no reader can slip between the two.
    auto s = w.cached("UPDATE upload_links SET uses = uses + 1"
                      " WHERE hash = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND uses < max_uploads"
                      " RETURNING " + kUploadLinkColumns);
    s->bind(1, hash).bind(2, now);
    if (!s->step()) return std::nullopt;
    return read_upload_link(*s);
  });
}

void SqliteCatalog::return_upload_link_use(const std::string& id) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached("UPDATE upload_links SET uses = uses - 1 WHERE id = ?1 AND uses > 0");
    s->bind(1, id).run();
  });
}

// ---- resumable uploads -----------------------------------------------------------

void SqliteCatalog::insert_resumable_upload(const ResumableUploadRecord& u) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached("INSERT INTO resumable_uploads (" + kResumableUploadColumns +
                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    s->bind(1, u.id).bind(2, u.tenant).bind(3, u.length).bind(4, u.metadata);
    if (!u.link_id.empty()) s->bind(5, u.link_id);
    s->bind(6, u.created_at).bind(7, u.expires_at);
    if (!u.image_id.empty()) s->bind(8, u.image_id);
    s->run();
  });
}

std::optional<ResumableUploadRecord> SqliteCatalog::get_resumable_upload(const std::string& id) {
  auto r = reader();
  auto s = r->cached("SELECT " + kResumableUploadColumns + " FROM resumable_uploads WHERE id = ?1");
  s->bind(1, id);
  if (!s->step()) return std::nullopt;
  return read_resumable_upload(*s);
}

void SqliteCatalog::finish_resumable_upload(const std::string& id, const std::string& image_id) {
  write(Durability::full, [&](Connection& w) {
    auto s = w.cached("UPDATE resumable_uploads SET image_id = ?2 WHERE id = ?1");
    s->bind(1, id).bind(2, image_id).run();
  });
}

bool SqliteCatalog::delete_resumable_upload(const std::string& id) {
  return write(Durability::full, [&](Connection& w) {
    auto s = w.cached("DELETE FROM resumable_uploads WHERE id = ?1");
    s->bind(1, id).run();
    return w.changes() > 0;
  });
}

std::vector<ResumableUploadRecord> SqliteCatalog::expired_resumable_uploads(std::int64_t now, int max) {
  auto r = reader();
  auto s = r->cached("SELECT " + kResumableUploadColumns +
                     " FROM resumable_uploads WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2");
  s->bind(1, now).bind(2, max);
  std::vector<ResumableUploadRecord> out;
  while (s->step()) out.push_back(read_resumable_upload(*s));
  return out;
}

}  // namespace progimage::catalog
