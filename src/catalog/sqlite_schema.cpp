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

constexpr Migration kMigrations[] = {
    {1, kV1},
};

}  // namespace

std::span<const Migration> migrations() noexcept { return kMigrations; }

}  // namespace progimage::catalog::sqlite
