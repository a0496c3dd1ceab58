#include "catalog/postgres_schema.hpp"

namespace progimage::catalog::postgres {

namespace {

// Version 1: the whole catalog as SQLite's schema 7 has it (see
// sqlite_schema.cpp for what each table is for). What differs:
// - text that is ordered or compared is `bytewise_text` (collation "C"), so
//   that lists and cursors sort as in SQLite whatever the database's locale;
// - the full-text index is a generated tsvector over name and description
//   with a GIN index, in a configuration of its own: English stems (Snowball)
//   without stop words (every word of a search counts, as in SQLite) and
//   accents folded (unaccent);
// - job items are numbered by an identity column; flags are 0/1 integers.
constexpr const char* kV1 = R"sql(
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH DICTIONARY progimage_stem (TEMPLATE = snowball, LANGUAGE = english);
CREATE TEXT SEARCH CONFIGURATION progimage (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION progimage
  ALTER MAPPING FOR asciiword, asciihword, hword_asciipart WITH progimage_stem;
ALTER TEXT SEARCH CONFIGURATION progimage
  ALTER MAPPING FOR word, hword, hword_part WITH unaccent, progimage_stem;

CREATE DOMAIN bytewise_text AS text COLLATE "C";

CREATE TABLE images (
  id            bytewise_text PRIMARY KEY,
  tenant        bytewise_text NOT NULL DEFAULT 'default',
  sha256        bytewise_text NOT NULL,
  format        bytewise_text NOT NULL,
  width         BIGINT NOT NULL,
  height        BIGINT NOT NULL,
  size          BIGINT NOT NULL,
  frames        BIGINT NOT NULL DEFAULT 1,
  has_alpha     BIGINT NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  name          bytewise_text NOT NULL DEFAULT '',
  description   bytewise_text NOT NULL DEFAULT '',
  camera_make   bytewise_text NOT NULL DEFAULT '',
  camera_model  bytewise_text NOT NULL DEFAULT '',
  focus_x       DOUBLE PRECISION CHECK (focus_x IS NULL OR (focus_x >= 0 AND focus_x <= 1)),
  focus_y       DOUBLE PRECISION CHECK (focus_y IS NULL OR (focus_y >= 0 AND focus_y <= 1)),
  metadata_json bytewise_text NOT NULL DEFAULT '{}',
  phash         BIGINT,
  -- Punctuation splits words ("sunset_beach-photo.jpg" is three of them)
  -- before the parser sees it, as SQLite's unicode61 tokenizer does.
  search        tsvector GENERATED ALWAYS AS (
                  to_tsvector('progimage',
                    regexp_replace(name || ' ' || description, '[!-/:-@\[-`{-~]+', ' ', 'g'))) STORED,
  UNIQUE (tenant, sha256)
);
CREATE INDEX images_by_time ON images (created_at, id);
CREATE INDEX images_by_tenant_time ON images (tenant, created_at, id);
CREATE INDEX images_by_camera ON images (lower(camera_model));
CREATE INDEX images_by_sha256 ON images (sha256);
CREATE INDEX images_search ON images USING gin (search);

CREATE TABLE image_tags (
  image_id bytewise_text NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  tag      bytewise_text NOT NULL,
  PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_by_tag ON image_tags (tag, image_id);

CREATE TABLE derivatives (
  key          bytewise_text PRIMARY KEY,
  tenant       bytewise_text NOT NULL DEFAULT 'default',
  sha256       bytewise_text NOT NULL,
  params       bytewise_text NOT NULL,
  format       bytewise_text NOT NULL,
  width        BIGINT NOT NULL,
  height       BIGINT NOT NULL,
  size         BIGINT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL
);
CREATE INDEX derivatives_by_use ON derivatives (last_used_at);
CREATE INDEX derivatives_by_tenant_source ON derivatives (tenant, sha256);

CREATE TABLE jobs (
  id                bytewise_text PRIMARY KEY,
  tenant            bytewise_text NOT NULL DEFAULT 'default',
  status            bytewise_text NOT NULL DEFAULT 'queued',
  params            bytewise_text NOT NULL DEFAULT '',
  format            bytewise_text NOT NULL DEFAULT '',
  store             BIGINT NOT NULL DEFAULT 0,
  max_attempts      BIGINT NOT NULL DEFAULT 3,
  total             BIGINT NOT NULL DEFAULT 0,
  done              BIGINT NOT NULL DEFAULT 0,
  failed            BIGINT NOT NULL DEFAULT 0,
  cancelled         BIGINT NOT NULL DEFAULT 0,
  created_at        BIGINT NOT NULL,
  finished_at       BIGINT,
  callback_url      bytewise_text NOT NULL DEFAULT '',
  callback_state    bytewise_text NOT NULL DEFAULT '',
  callback_attempts BIGINT NOT NULL DEFAULT 0,
  callback_next_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_callbacks_due ON jobs (callback_next_at) WHERE callback_state = 'pending';

CREATE TABLE job_items (
  id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id            bytewise_text REFERENCES jobs (id) ON DELETE CASCADE,
  position          BIGINT NOT NULL DEFAULT 0,
  kind              bytewise_text NOT NULL,
  source            bytewise_text NOT NULL,
  variant           bytewise_text NOT NULL DEFAULT '',
  status            bytewise_text NOT NULL DEFAULT 'queued',
  attempts          BIGINT NOT NULL DEFAULT 0,
  max_attempts      BIGINT NOT NULL DEFAULT 3,
  next_attempt_at   BIGINT NOT NULL DEFAULT 0,
  lease_owner       bytewise_text,
  lease_token       BIGINT NOT NULL DEFAULT 0,
  lease_until       BIGINT NOT NULL DEFAULT 0,
  result_image_id   bytewise_text NOT NULL DEFAULT '',
  result_key        bytewise_text NOT NULL DEFAULT '',
  error_code        bytewise_text,
  error_message     bytewise_text,
  finished_at       BIGINT,
  result_output_key bytewise_text NOT NULL DEFAULT '',
  result_format     bytewise_text NOT NULL DEFAULT '',
  result_expires_at BIGINT
);
CREATE INDEX job_items_queued ON job_items (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX job_items_leased ON job_items (lease_until) WHERE status = 'running';
CREATE INDEX job_items_by_job ON job_items (job_id, position);
CREATE INDEX job_items_by_owner ON job_items (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX job_items_output_expiry ON job_items (result_expires_at) WHERE result_output_key <> '';

CREATE TABLE image_variants (
  image_id       bytewise_text NOT NULL REFERENCES images (id) ON DELETE CASCADE,
  name           bytewise_text NOT NULL,
  status         bytewise_text NOT NULL DEFAULT 'pending',
  derivative_key bytewise_text NOT NULL DEFAULT '',
  error_code     bytewise_text,
  error_message  bytewise_text,
  PRIMARY KEY (image_id, name)
);

CREATE TABLE dedupe_savings (
  tenant  bytewise_text PRIMARY KEY,
  uploads BIGINT NOT NULL DEFAULT 0,
  bytes   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE settings (
  name  bytewise_text PRIMARY KEY,
  value bytewise_text NOT NULL
);

CREATE TABLE api_keys (
  id              bytewise_text PRIMARY KEY,
  tenant          bytewise_text NOT NULL,
  role            bytewise_text NOT NULL,
  name            bytewise_text NOT NULL DEFAULT '',
  prefix          bytewise_text NOT NULL,
  hash            bytewise_text NOT NULL UNIQUE,
  rate_per_second DOUBLE PRECISION,
  rate_burst      DOUBLE PRECISION,
  created_at      BIGINT NOT NULL,
  last_used_at    BIGINT,
  revoked_at      BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);

CREATE TABLE tenant_totals (
  tenant bytewise_text PRIMARY KEY,
  images BIGINT NOT NULL DEFAULT 0,
  bytes  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE tenant_quotas (
  tenant     bytewise_text PRIMARY KEY,
  max_bytes  BIGINT NOT NULL DEFAULT 0,
  max_images BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE upload_links (
  id          bytewise_text PRIMARY KEY,
  tenant      bytewise_text NOT NULL,
  hash        bytewise_text NOT NULL UNIQUE,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  max_uploads BIGINT NOT NULL,
  uses        BIGINT NOT NULL DEFAULT 0,
  max_bytes   BIGINT,
  formats     bytewise_text NOT NULL DEFAULT '[]',
  tags        bytewise_text NOT NULL DEFAULT '[]',
  revoked_at  BIGINT
);
CREATE INDEX upload_links_by_tenant ON upload_links (tenant, created_at);

CREATE TABLE resumable_uploads (
  id         bytewise_text PRIMARY KEY,
  tenant     bytewise_text NOT NULL,
  length     BIGINT NOT NULL,
  metadata   bytewise_text NOT NULL DEFAULT '',
  link_id    bytewise_text,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  image_id   bytewise_text
);
CREATE INDEX resumable_uploads_by_expiry ON resumable_uploads (expires_at);

CREATE TABLE usage (
  day          bytewise_text NOT NULL,
  tenant       bytewise_text NOT NULL,
  client       bytewise_text NOT NULL,
  requests     BIGINT NOT NULL DEFAULT 0,
  bytes_in     BIGINT NOT NULL DEFAULT 0,
  bytes_out    BIGINT NOT NULL DEFAULT 0,
  transforms   BIGINT NOT NULL DEFAULT 0,
  cache_hits   BIGINT NOT NULL DEFAULT 0,
  cache_misses BIGINT NOT NULL DEFAULT 0,
  uploads      BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (day, tenant, client)
);
CREATE TABLE stored_by_day (
  day    bytewise_text NOT NULL,
  tenant bytewise_text NOT NULL,
  bytes  BIGINT NOT NULL,
  images BIGINT NOT NULL,
  PRIMARY KEY (day, tenant)
);

CREATE TABLE nodes (
  id         bytewise_text PRIMARY KEY,
  serves_api BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  seen_at    BIGINT NOT NULL
);
)sql";

// v2: working copies, reduced copies of originals that renders decode
// instead (one per level of a blob, shared by the images of those bytes).
constexpr const char* kV2 = R"sql(
CREATE TABLE working_copies (
  sha256     bytewise_text NOT NULL,
  level      BIGINT NOT NULL,
  key        bytewise_text NOT NULL,
  format     bytewise_text NOT NULL,
  width      BIGINT NOT NULL,
  height     BIGINT NOT NULL,
  size       BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (sha256, level)
);
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1},
    {2, kV2},
};

}  // namespace

std::span<const Migration> migrations() noexcept { return kMigrations; }

}  // namespace progimage::catalog::postgres
