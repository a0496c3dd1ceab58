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

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
    {3, kV3},
    {4, kV4},
    {5, kV5},
};

}  // namespace

std::span<const Migration> migrations() noexcept { return kMigrations; }

}  // namespace progimage::catalog::sqlite
