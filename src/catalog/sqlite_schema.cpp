#include "catalog/sqlite_schema.hpp"

namespace progimage::catalog::sqlite {

namespace {

// Version 1: images, tags, full-text index, derivative index.
//
// `seq` is the rowid, declared so that VACUUM keeps it: the external-content
// FTS5 table refers to rows by it. Images are addressed by `id` everywhere else.
constexpr const char* kV1 = R"sql(
CREATE TABLE images (
  seq           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  sha256        TEXT NOT NULL UNIQUE,
  format        TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  frames        INTEGER NOT NULL DEFAULT 1,
  has_alpha     INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  description   TEXT NOT NULL DEFAULT '',
  camera_make   TEXT NOT NULL DEFAULT '',
  camera_model  TEXT NOT NULL DEFAULT '',
  focus_x       REAL CHECK (focus_x IS NULL OR (focus_x >= 0 AND focus_x <= 1)),
  focus_y       REAL CHECK (focus_y IS NULL OR (focus_y >= 0 AND focus_y <= 1)),
  metadata_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX images_by_time ON images (created_at, id);
CREATE INDEX images_by_camera ON images (camera_model COLLATE NOCASE);

CREATE TABLE image_tags (
  image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  tag      TEXT NOT NULL,
  PRIMARY KEY (image_id, tag)
) WITHOUT ROWID;
CREATE INDEX image_tags_by_tag ON image_tags (tag, image_id);

CREATE VIRTUAL TABLE images_fts USING fts5 (
  name, description,
  content = 'images', content_rowid = 'seq',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN
  INSERT INTO images_fts (rowid, name, description) VALUES (new.seq, new.name, new.description);
END;
CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN
  INSERT INTO images_fts (images_fts, rowid, name, description)
    VALUES ('delete', old.seq, old.name, old.description);
END;
CREATE TRIGGER images_fts_update AFTER UPDATE OF name, description ON images BEGIN
  INSERT INTO images_fts (images_fts, rowid, name, description)
    VALUES ('delete', old.seq, old.name, old.description);
  INSERT INTO images_fts (rowid, name, description) VALUES (new.seq, new.name, new.description);
END;

CREATE TABLE derivatives (
  key          TEXT PRIMARY KEY,
  sha256       TEXT NOT NULL,
  params       TEXT NOT NULL,
  format       TEXT NOT NULL,
  width        INTEGER NOT NULL,
  height       INTEGER NOT NULL,
  size         INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX derivatives_by_use ON derivatives (last_used_at);
CREATE INDEX derivatives_by_source ON derivatives (sha256);
)sql";

// Version 2: the job queue (jobs, job_items) and preset variants.
//
// Times in job_items are unix milliseconds (leases and backoff need them);
// jobs keep unix seconds like images. A variant item has no job (job_id NULL).
// `lease_token` changes on every claim so that a worker whose lease was taken
// over cannot fail or release the item any more.
constexpr const char* kV2 = R"sql(
CREATE TABLE jobs (
  id              TEXT PRIMARY KEY,
  status          TEXT NOT NULL DEFAULT 'queued',
  params          TEXT NOT NULL DEFAULT '',
  format          TEXT NOT NULL DEFAULT '',
  store           INTEGER NOT NULL DEFAULT 0,
  max_attempts    INTEGER NOT NULL DEFAULT 3,
  total           INTEGER NOT NULL DEFAULT 0,
  done            INTEGER NOT NULL DEFAULT 0,
  failed          INTEGER NOT NULL DEFAULT 0,
  cancelled       INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  finished_at     INTEGER,
  callback_url    TEXT NOT NULL DEFAULT '',
  callback_state  TEXT NOT NULL DEFAULT '',
  callback_attempts INTEGER NOT NULL DEFAULT 0,
  callback_next_at  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX jobs_callbacks_due ON jobs (callback_state, callback_next_at);

CREATE TABLE job_items (
  id              INTEGER PRIMARY KEY,
  job_id          TEXT REFERENCES jobs (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL DEFAULT 0,
  kind            TEXT NOT NULL,
  source          TEXT NOT NULL,
  variant         TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL DEFAULT 'queued',
  attempts        INTEGER NOT NULL DEFAULT 0,
  max_attempts    INTEGER NOT NULL DEFAULT 3,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  lease_owner     TEXT,
  lease_token     INTEGER NOT NULL DEFAULT 0,
  lease_until     INTEGER NOT NULL DEFAULT 0,
  result_image_id TEXT NOT NULL DEFAULT '',
  result_key      TEXT NOT NULL DEFAULT '',
  error_code      TEXT,
  error_message   TEXT,
  finished_at     INTEGER
);
CREATE INDEX job_items_runnable ON job_items (status, next_attempt_at) WHERE status IN ('queued', 'running');
CREATE INDEX job_items_by_job ON job_items (job_id, position);
CREATE INDEX job_items_by_owner ON job_items (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE image_variants (
  image_id       TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'pending',
  derivative_key TEXT NOT NULL DEFAULT '',
  error_code     TEXT,
  error_message  TEXT,
  PRIMARY KEY (image_id, name)
) WITHOUT ROWID;
)sql";

// Version 3: what deduplication saved, for /v1/stats (one row, updated in the
// transaction that answers a duplicate upload).
constexpr const char* kV3 = R"sql(
CREATE TABLE dedupe_savings (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  uploads   INTEGER NOT NULL DEFAULT 0,
  bytes     INTEGER NOT NULL DEFAULT 0
);
INSERT INTO dedupe_savings (id) VALUES (1);
)sql";

// Version 4: named settings the program keeps for itself (e.g. the secret
// that signs callbacks when none is configured).
constexpr const char* kV4 = R"sql(
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 5: results kept for a while instead of stored as images (URL
// sources with store: false). The key empties when the sweep removed the
// bytes; the expiry stays, so the result answers "expired".
constexpr const char* kV5 = R"sql(
ALTER TABLE job_items ADD COLUMN result_output_key TEXT NOT NULL DEFAULT '';
ALTER TABLE job_items ADD COLUMN result_format TEXT NOT NULL DEFAULT '';
ALTER TABLE job_items ADD COLUMN result_expires_at INTEGER;
CREATE INDEX job_items_output_expiry ON job_items (result_expires_at) WHERE result_output_key != '';
)sql";

// Version 6: tenants. Every image and job belongs to one ("default" for what
// was there before). The same bytes may be stored once per tenant: (tenant,
// sha256) is unique and the blob is shared, so `images` is rebuilt without
// its UNIQUE (sha256). Runs with foreign keys off (the catalog checks them
// after), so that dropping the old table does not cascade to the tags.
// Derivatives are made for one tenant's image; dedupe savings are per tenant.
// The perceptual hash gets a column of its own (the similar-image index is
// built from it at start; rows from before keep it in metadata_json only,
// where the index reads it).
// New: managed API keys and upload links (secrets kept as SHA-256 only),
// tenant quotas, resumable uploads, and usage by day (client: a key id, or
// a key id and a token subject).
constexpr const char* kV6 = R"sql(
CREATE TABLE images_v6 (
  seq           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  tenant        TEXT NOT NULL DEFAULT 'default',
  sha256        TEXT NOT NULL,
  format        TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  frames        INTEGER NOT NULL DEFAULT 1,
  has_alpha     INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  description   TEXT NOT NULL DEFAULT '',
  camera_make   TEXT NOT NULL DEFAULT '',
  camera_model  TEXT NOT NULL DEFAULT '',
  focus_x       REAL CHECK (focus_x IS NULL OR (focus_x >= 0 AND focus_x <= 1)),
  focus_y       REAL CHECK (focus_y IS NULL OR (focus_y >= 0 AND focus_y <= 1)),
  metadata_json TEXT NOT NULL DEFAULT '{}',
  phash         INTEGER,
  UNIQUE (tenant, sha256)
);
INSERT INTO images_v6 (seq, id, tenant, sha256, format, width, height, size, frames, has_alpha, created_at,
                       name, description, camera_make, camera_model, focus_x, focus_y, metadata_json)
  SELECT seq, id, 'default', sha256, format, width, height, size, frames, has_alpha, created_at,
         name, description, camera_make, camera_model, focus_x, focus_y, metadata_json FROM images;
DROP TABLE images;
ALTER TABLE images_v6 RENAME TO images;
CREATE INDEX images_by_time ON images (created_at, id);
CREATE INDEX images_by_tenant_time ON images (tenant, created_at, id);
CREATE INDEX images_by_camera ON images (camera_model COLLATE NOCASE);
CREATE INDEX images_by_sha256 ON images (sha256);
CREATE TRIGGER images_fts_insert AFTER INSERT ON images BEGIN
  INSERT INTO images_fts (rowid, name, description) VALUES (new.seq, new.name, new.description);
END;
CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN
  INSERT INTO images_fts (images_fts, rowid, name, description)
    VALUES ('delete', old.seq, old.name, old.description);
END;
CREATE TRIGGER images_fts_update AFTER UPDATE OF name, description ON images BEGIN
  INSERT INTO images_fts (images_fts, rowid, name, description)
    VALUES ('delete', old.seq, old.name, old.description);
  INSERT INTO images_fts (rowid, name, description) VALUES (new.seq, new.name, new.description);
END;

ALTER TABLE derivatives ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX derivatives_by_tenant_source ON derivatives (tenant, sha256);

ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';

CREATE TABLE dedupe_savings_v6 (
  tenant  TEXT PRIMARY KEY,
  uploads INTEGER NOT NULL DEFAULT 0,
  bytes   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO dedupe_savings_v6 (tenant, uploads, bytes)
  SELECT 'default', uploads, bytes FROM dedupe_savings WHERE uploads > 0;
DROP TABLE dedupe_savings;
ALTER TABLE dedupe_savings_v6 RENAME TO dedupe_savings;

CREATE TABLE api_keys (
  id              TEXT PRIMARY KEY,
  tenant          TEXT NOT NULL,
  role            TEXT NOT NULL,
  name            TEXT NOT NULL DEFAULT '',
  prefix          TEXT NOT NULL,
  hash            TEXT NOT NULL UNIQUE,
  rate_per_second REAL,
  rate_burst      REAL,
  created_at      INTEGER NOT NULL,
  last_used_at    INTEGER,
  revoked_at      INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);

-- What each tenant stores, kept by the catalog in the transactions that
-- insert and delete images: a quota check reads one row, not every image.
CREATE TABLE tenant_totals (
  tenant TEXT PRIMARY KEY,
  images INTEGER NOT NULL DEFAULT 0,
  bytes  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO tenant_totals (tenant, images, bytes)
  SELECT tenant, COUNT(*), SUM(size) FROM images GROUP BY tenant;

CREATE TABLE tenant_quotas (
  tenant     TEXT PRIMARY KEY,
  max_bytes  INTEGER NOT NULL DEFAULT 0,
  max_images INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE upload_links (
  id          TEXT PRIMARY KEY,
  tenant      TEXT NOT NULL,
  hash        TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  max_uploads INTEGER NOT NULL,
  uses        INTEGER NOT NULL DEFAULT 0,
  max_bytes   INTEGER,
  formats     TEXT NOT NULL DEFAULT '[]',
  tags        TEXT NOT NULL DEFAULT '[]',
  revoked_at  INTEGER
);
CREATE INDEX upload_links_by_tenant ON upload_links (tenant, created_at);

-- A resumable upload's id is the SHA-256 of the token in its URL; metadata
-- is its Upload-Metadata header (without the link token). Its bytes are a
-- file outside the catalog, whose size is the offset.
CREATE TABLE resumable_uploads (
  id         TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  length     INTEGER NOT NULL,
  metadata   TEXT NOT NULL DEFAULT '',
  link_id    TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  image_id   TEXT
);
CREATE INDEX resumable_uploads_by_expiry ON resumable_uploads (expires_at);

CREATE TABLE usage (
  day          TEXT NOT NULL,
  tenant       TEXT NOT NULL,
  client       TEXT NOT NULL,
  requests     INTEGER NOT NULL DEFAULT 0,
  bytes_in     INTEGER NOT NULL DEFAULT 0,
  bytes_out    INTEGER NOT NULL DEFAULT 0,
  transforms   INTEGER NOT NULL DEFAULT 0,
  cache_hits   INTEGER NOT NULL DEFAULT 0,
  cache_misses INTEGER NOT NULL DEFAULT 0,
  uploads      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, tenant, client)
) WITHOUT ROWID;
CREATE TABLE stored_by_day (
  day    TEXT NOT NULL,
  tenant TEXT NOT NULL,
  bytes  INTEGER NOT NULL,
  images INTEGER NOT NULL,
  PRIMARY KEY (day, tenant)
) WITHOUT ROWID;
)sql";

// v7: the nodes of an installation, each beating every few seconds, so that
// they share limits (each enforces its part of a rate) and know each other.
constexpr const char* kV7 = R"sql(
CREATE TABLE nodes (
  id         TEXT PRIMARY KEY,
  serves_api INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at    INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// v8: indexes the claims can use. SQLite uses a partial index only when the
// query's WHERE names its condition itself, and a claim's "status = 'queued'"
// does not prove v4's "status IN ('queued', 'running')": every claim scanned
// the whole table, finished items included (as PostgreSQL's schema has them).
constexpr const char* kV8 = R"sql(
CREATE INDEX job_items_queued ON job_items (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX job_items_leased ON job_items (lease_until) WHERE status = 'running';
)sql";

// v9: working copies, reduced copies of originals that renders decode
// instead (one per level of a blob, shared by the images of those bytes).
constexpr const char* kV9 = R"sql(
CREATE TABLE working_copies (
  sha256     TEXT NOT NULL,
  level      INTEGER NOT NULL,
  key        TEXT NOT NULL,
  format     TEXT NOT NULL,
  width      INTEGER NOT NULL,
  height     INTEGER NOT NULL,
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (sha256, level)
) WITHOUT ROWID;
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
    {3, kV3},
    {4, kV4},
    {5, kV5},
    {6, kV6},
    {7, kV7},
    {8, kV8},
    {9, kV9},
};

}  // namespace

std::span<const Migration> migrations() noexcept { return kMigrations; }

}  // namespace progimage::catalog::sqlite
