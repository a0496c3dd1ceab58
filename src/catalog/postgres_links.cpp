// PostgresCatalog: upload links (their uses taken and given back in single
// statements) and resumable uploads.
#include "catalog/cursor.hpp"
#include "catalog/postgres_access.hpp"
#include "catalog/upload_records.hpp"

namespace progimage::catalog {

using postgres::Connection;

namespace {

std::optional<UploadLinkRecord> first_link(postgres::Result r) {
  if (!r.step()) return std::nullopt;
  return read_upload_link(r);
}

}  // namespace

void PostgresCatalog::insert_upload_link(const UploadLinkRecord& link) {
  write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO upload_links (" + kUploadLinkColumns +
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            link.id, link.tenant, link.hash, link.created_at, link.expires_at, link.max_uploads, link.uses,
            link.max_bytes, string_list_json(link.formats), string_list_json(link.tags), link.revoked_at);
  });
}

std::optional<UploadLinkRecord> PostgresCatalog::find_upload_link(const std::string& hash) {
  return read([&](Connection& c) {
    return first_link(c.query("SELECT " + kUploadLinkColumns + " FROM upload_links WHERE hash = $1", hash));
  });
}

std::optional<UploadLinkRecord> PostgresCatalog::get_upload_link(const std::string& id) {
  return read([&](Connection& c) {
    return first_link(c.query("SELECT " + kUploadLinkColumns + " FROM upload_links WHERE id = $1", id));
  });
}

UploadLinkPage PostgresCatalog::list_upload_links(const std::string& tenant, const std::string& cursor, int limit) {
  const auto after = list_cursor_position(cursor);
  limit = clamp_limit(limit);
  return read([&](Connection& c) {
    auto r = c.query("SELECT " + kUploadLinkColumns +
                         " FROM upload_links WHERE ($1 = '' OR tenant = $1) AND ($2 = 0 OR (created_at, id) < ($3, $4))"
                         " ORDER BY created_at DESC, id DESC LIMIT $5",
                     tenant, std::int64_t{after ? 1 : 0}, after ? after->created_at : 0,
                     after ? after->id : std::string(), std::int64_t{limit} + 1);
    UploadLinkPage page;
    while (r.step()) {
      if (page.links.size() == static_cast<std::size_t>(limit)) {
        page.next_cursor = encode_cursor({page.links.back().created_at, page.links.back().id});
        break;
      }
      page.links.push_back(read_upload_link(r));
    }
    return page;
  });
}

bool PostgresCatalog::revoke_upload_link(const std::string& tenant, const std::string& id, std::int64_t now) {
  return write(Durability::full, [&](Connection& c) {
    return c.query("UPDATE upload_links SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1"
                   " AND ($2 = '' OR tenant = $2)",
                   id, tenant, now)
               .changes() > 0;
  });
}

std::optional<UploadLinkRecord> PostgresCatalog::take_upload_link_use(const std::string& hash, std::int64_t now) {
  return write(Durability::full, [&](Connection& c) {
    // One statement checks and counts; the row lock orders concurrent takers,
    // each of which checks again against the count the previous one left.
    return first_link(c.query("UPDATE upload_links SET uses = uses + 1"
                              " WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uploads"
                              " RETURNING " + kUploadLinkColumns,
                              hash, now));
  });
}

void PostgresCatalog::return_upload_link_use(const std::string& id) {
  write(Durability::full, [&](Connection& c) {
    c.query("UPDATE upload_links SET uses = uses - 1 WHERE id = $1 AND uses > 0", id);
  });
}

void PostgresCatalog::insert_resumable_upload(const ResumableUploadRecord& u) {
  auto nonempty = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  write(Durability::full, [&](Connection& c) {
    c.query("INSERT INTO resumable_uploads (" + kResumableUploadColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            u.id, u.tenant, u.length, u.metadata, nonempty(u.link_id), u.created_at, u.expires_at,
            nonempty(u.image_id));
  });
}

std::optional<ResumableUploadRecord> PostgresCatalog::get_resumable_upload(const std::string& id) {
  return read([&](Connection& c) -> std::optional<ResumableUploadRecord> {
    auto r = c.query("SELECT " + kResumableUploadColumns + " FROM resumable_uploads WHERE id = $1", id);
    if (!r.step()) return std::nullopt;
    return read_resumable_upload(r);
  });
}

void PostgresCatalog::finish_resumable_upload(const std::string& id, const std::string& image_id) {
  write(Durability::full,
        [&](Connection& c) { c.query("UPDATE resumable_uploads SET image_id = $2 WHERE id = $1", id, image_id); });
}

bool PostgresCatalog::delete_resumable_upload(const std::string& id) {
  return write(Durability::full, [&](Connection& c) {
    return c.query("DELETE FROM resumable_uploads WHERE id = $1", id).changes() > 0;
  });
}

std::vector<ResumableUploadRecord> PostgresCatalog::expired_resumable_uploads(std::int64_t now, int max) {
  return read([&](Connection& c) {
    auto r = c.query("SELECT " + kResumableUploadColumns +
                         " FROM resumable_uploads WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
                     now, max);
    std::vector<ResumableUploadRecord> out;
    while (r.step()) out.push_back(read_resumable_upload(r));
    return out;
  });
}

}  // namespace progimage::catalog
