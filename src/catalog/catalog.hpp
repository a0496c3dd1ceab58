#pragma once
// The catalog: image records, tags, derivative index, variants and the job
// queue (later links and keys). SQLite and PostgreSQL implement it; handlers
// and workers never see which.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/transfer.hpp"
#include "core/image.hpp"

namespace progimage::catalog {

struct InsertResult {
  core::ImageRecord image;
  bool duplicate = false;  // an image with the same sha256 already existed; `image` is that one
};
// insert_image() refuses an image over its tenant's quota (TenantQuota) with
// core::Error(quota_exceeded), checked in the transaction that stores it.

struct ImagePatch {
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> tags;  // replaces all tags
  std::optional<std::optional<core::FocusPoint>> focus;  // set, or clear with nullopt inside
};

struct DeleteResult {
  bool found = false;
  bool blob_unreferenced = false;  // no image of any tenant uses the sha256 any more: the blob may go
  std::string sha256;
  std::vector<std::string> derivative_keys;  // removed from the index: the blobs may go
  std::vector<std::string> working_copy_keys;  // with the last image of the bytes: the blobs may go
};

struct ImageQuery {
  std::string tenant;  // "" for every tenant (operators)
  std::vector<std::string> tags;  // OR
  std::string format;
  std::string camera;  // model, case-insensitive
  std::string text;    // full-text over name and description
  std::optional<std::int64_t> from, to;  // created_at range, unix seconds, inclusive
  int limit = 50;
  std::string cursor;  // opaque, from a previous page
};

struct ImagePage {
  std::vector<core::ImageRecord> images;
  std::string next_cursor;  // empty on the last page
};

/// An image's perceptual hash, as the similar-image index needs it.
struct ImageHash {
  std::string id;
  std::string tenant;
  std::uint64_t phash = 0;
};

struct DerivativeRecord {
  std::string key;      // cache key (hex); also the blob key in Space::derivatives
  std::string tenant = "default";  // of the image it was made for
  std::string sha256;   // of the source blob
  std::string params;   // canonical parameters
  std::string format;
  int width = 0;
  int height = 0;
  std::int64_t size = 0;
  std::int64_t created_at = 0;
  std::int64_t last_used_at = 0;
};

/// A reduced copy of an original that renders decode instead of it (see
/// imaging::WorkingCopy). One per level of a blob, shared by every image of
/// those bytes; it goes with the last of them.
struct WorkingCopyRecord {
  std::string sha256;  // of the original
  int level = 0;       // longest side it was made for
  std::string key;     // blob key in Space::working
  std::string format;
  int width = 0;
  int height = 0;
  std::int64_t size = 0;
  std::int64_t created_at = 0;
};

// ---- jobs ------------------------------------------------------------------

/// Final states are completed, failed, partial and cancelled.
enum class JobStatus { queued, running, completed, failed, partial, cancelled };
std::string_view job_status_name(JobStatus s) noexcept;
std::optional<JobStatus> parse_job_status(std::string_view s) noexcept;

/// What an item works on.
enum class ItemKind {
  image,    // a stored image id (bulk job)
  url,      // a remote URL (bulk job)
  variant,  // a preset variant of a stored image (no job row)
  working_copies,  // the working copies of a stored image (no job row)
};
std::string_view item_kind_name(ItemKind k) noexcept;
std::optional<ItemKind> parse_item_kind(std::string_view s) noexcept;
/// done and failed are final; cancelled items were dropped before they started.
enum class ItemStatus { queued, running, done, failed, cancelled };
std::string_view item_status_name(ItemStatus s) noexcept;
std::optional<ItemStatus> parse_item_status(std::string_view s) noexcept;

/// A bulk job as submitted. The spec is shared by all its items.
struct JobSpec {
  std::string id;            // empty: a new id is made
  std::string tenant = "default";  // whose job: its sources, results and visibility
  std::string params;        // canonical transform parameters
  std::string format;        // output format, "" for the source's
  bool store = false;        // results become stored images
  std::string callback_url;  // "" for none
  int max_attempts = 3;
  std::int64_t created_at = 0;  // unix seconds; 0: now
};

struct JobSource {
  ItemKind kind = ItemKind::image;  // image or url
  std::string source;               // image id or URL
};

struct JobError {
  std::string code;  // an API error code name, e.g. "unsupported_media"
  std::string message;
};

struct JobRecord {
  std::string id;
  JobSpec spec;
  JobStatus status = JobStatus::queued;
  std::int64_t total = 0;
  std::int64_t done = 0;    // items that succeeded
  std::int64_t failed = 0;  // items that failed for good
  std::int64_t cancelled = 0;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> finished_at;
  std::string callback_state;  // "" (no callback), pending, delivered, failed
};

/// The bytes of a result kept for a while instead of stored as an image
/// (store: false on a remote source); empty key for none.
struct JobOutput {
  std::string key;     // blob key in Space::outputs
  std::string format;  // output format name
  std::int64_t expires_at_ms = 0;
  bool operator==(const JobOutput&) const = default;
};

/// A kept output whose time is up, for the sweep that removes its bytes.
struct ExpiredOutput {
  std::int64_t item_id = 0;
  std::string key;
};

struct ItemResult {
  std::int64_t position = 0;  // in the job, from 0
  ItemKind kind = ItemKind::image;
  std::string source;
  ItemStatus status = ItemStatus::queued;
  int attempts = 0;
  std::string image_id;        // stored result (store: true)
  std::string derivative_key;  // cached result (store: false, variants)
  JobOutput output;            // kept result (store: false, URL sources)
  std::optional<JobError> error;
};

struct ResultPage {
  std::vector<ItemResult> results;
  std::string next_cursor;  // empty on the last page
};

/// An item leased to a worker until `lease_until`; with its job's spec.
struct ClaimedItem {
  std::int64_t id = 0;
  std::string job_id;  // empty for variant items
  ItemKind kind = ItemKind::image;
  std::string source;        // image id or URL
  std::string variant;       // preset name, for variant items
  JobSpec spec;              // params, format, store of the job (empty for variants)
  int attempts = 0;          // including this one
  int max_attempts = 3;
  std::int64_t lease_token = 0;  // proves the lease in fail_item()
};

/// What a finished item produced (one of them, or neither).
struct ItemOutput {
  std::string image_id;
  std::string derivative_key;
  JobOutput output;
};

/// Whom a claim is for: up to `max` items leased to `worker` for `lease_ms`.
struct ClaimRequest {
  std::string worker;
  int max = 1;
  std::int64_t lease_ms = 60'000;
};

/// complete_and_claim(): whether the completion was recorded (as
/// complete_item) and the items claimed with it.
struct Completion {
  bool recorded = false;
  std::vector<ClaimedItem> next;
};

struct QueueDepth {
  std::int64_t queued = 0;   // waiting, retries included
  std::int64_t running = 0;  // leased
};

/// A job whose final state is to be POSTed to its callback_url.
struct CallbackDue {
  JobRecord job;
  int attempts = 0;  // deliveries tried before this one
};

/// One preset variant of an image.
struct VariantState {
  std::string status;          // pending, ready, failed
  std::string derivative_key;  // when ready
  std::optional<JobError> error;
};

/// Aggregates for GET /v1/stats.
struct CatalogStats {
  std::int64_t images = 0;
  std::int64_t bytes_stored = 0;           // originals, each blob once
  std::int64_t bytes_saved_by_dedupe = 0;  // bytes of duplicate uploads not stored again
  std::int64_t bytes_working_copies = 0;   // working copies of those originals
  std::vector<std::pair<std::string, std::int64_t>> formats;       // most uploads first
  std::vector<std::pair<std::string, std::int64_t>> camera_models; // top 10, "unknown" without EXIF
  std::vector<std::pair<std::string, std::int64_t>> uploads_per_day;  // YYYY-MM-DD, oldest first
  std::int64_t jobs_queued = 0, jobs_running = 0, jobs_failed = 0;
};

// ---- tenants: managed keys, quotas, usage ------------------------------------

/// An API key the catalog manages. Only the hash of its secret is kept.
struct ApiKeyRecord {
  std::string id;
  std::string tenant;  // "*": an operator key
  std::string role;    // read, write, admin
  std::string name;
  std::string prefix;  // the first characters of the secret, to tell keys apart
  std::string hash;    // SHA-256 of the secret, hex
  std::optional<double> rate_per_second;
  std::optional<double> rate_burst;
  std::int64_t created_at = 0;  // unix seconds
  std::optional<std::int64_t> last_used_at;
};

/// A tenant's storage limits; 0 is no limit.
struct TenantQuota {
  std::int64_t max_bytes = 0;
  std::int64_t max_images = 0;
};

/// What a tenant stores now: its images and their bytes (a blob shared with
/// another tenant counts for each of them).
struct TenantUse {
  std::int64_t bytes = 0;
  std::int64_t images = 0;
};

/// Counts of one client's requests on one day.
struct UsageCounts {
  std::int64_t requests = 0;
  std::int64_t bytes_in = 0;
  std::int64_t bytes_out = 0;
  std::int64_t transforms = 0;  // renders computed
  std::int64_t cache_hits = 0;
  std::int64_t cache_misses = 0;
  std::int64_t uploads = 0;
  UsageCounts& operator+=(const UsageCounts& o) noexcept;
  bool operator==(const UsageCounts&) const = default;
};

struct UsageRow {
  std::string day;     // YYYY-MM-DD, UTC
  std::string tenant;
  std::string client;  // a key id, or a key id and a token subject
  UsageCounts counts;
};

struct UsageQuery {
  std::string tenant;  // "" for every tenant
  std::string client;  // "" for every client
  std::string from_day, to_day;  // inclusive, YYYY-MM-DD
};

/// What a tenant stored at the end of a day (or now, for today).
struct StoredDay {
  std::string day;
  std::string tenant;
  TenantUse use;
};

/// Why storing `incoming_bytes` more (one image) would break `quota`, or
/// nullopt when it fits: the message of the 403 quota_exceeded.
std::optional<std::string> quota_refusal(const TenantQuota& quota, const TenantUse& use, std::int64_t incoming_bytes);

// ---- upload links and resumable uploads --------------------------------------

/// A link that lets whoever holds its token upload into a tenant without a
/// key. Only the hash of the token is kept.
struct UploadLinkRecord {
  std::string id;
  std::string tenant;
  std::string hash;  // SHA-256 of the token, hex
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t expires_at = 0;
  std::int64_t max_uploads = 1;
  std::int64_t uses = 0;  // taken, including uploads under way
  std::optional<std::int64_t> max_bytes;
  std::vector<std::string> formats;  // canonical format names; empty: any
  std::vector<std::string> tags;     // given to every image that arrives
  std::optional<std::int64_t> revoked_at;
};

/// One page of upload links, newest first.
struct UploadLinkPage {
  std::vector<UploadLinkRecord> links;
  std::string next_cursor;  // empty on the last page
};

/// Why a link takes no more uploads at `now`, or nullopt when it does.
std::optional<std::string> upload_link_refusal(const UploadLinkRecord& link, std::int64_t now);

/// A resumable (tus) upload under way, or finished (`image_id` set). Its
/// bytes are kept outside the catalog; the offset is how many there are.
struct ResumableUploadRecord {
  std::string id;  // SHA-256 of the token in its URL, hex
  std::string tenant;
  std::int64_t length = 0;
  std::string metadata;  // Upload-Metadata as the client sent it, the link token left out
  std::string link_id;   // the upload link that authorised it; "" for a key
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t expires_at = 0;
  std::string image_id;  // the stored image once complete
};

// ---- signals between nodes ----------------------------------------------------

/// What one node tells every node that shares the catalog.
enum class Signal {
  work_queued,    // job items became runnable: idle workers claim now
  image_changed,  // an image (subject: its id) was patched or deleted: drop what is cached of it
  derivatives_purged,  // derivatives of a blob (subject: its sha256) left the index: drop cached renders
  key_revoked,    // a managed key (subject: its id) was revoked: forget it
};
/// Called on a thread of the catalog's; must be quick and must not throw.
using SignalHandler = std::function<void(Signal signal, const std::string& subject)>;

/// Durable write transactions committed, and the writes they carried: with
/// group commit several concurrent writes share one commit (and its fsync).
struct CommitCounts {
  std::uint64_t commits = 0;
  std::uint64_t writes = 0;
};

class Catalog {
 public:
  virtual ~Catalog() = default;

  /// Zeros for an engine that groups its commits itself (PostgreSQL shares
  /// WAL flushes between concurrent commits on the server).
  virtual CommitCounts commit_counts() const { return {}; }

  /// Inserts the record in one transaction; when an image of the same tenant
  /// with the same sha256 exists, returns it with duplicate = true and inserts
  /// nothing. Another tenant's image of the same bytes is never a duplicate:
  /// dedupe is not observable across tenants (the blob itself is shared).
  virtual InsertResult insert_image(const core::ImageRecord& image) = 0;
  virtual std::optional<core::ImageRecord> get_image(const std::string& id) = 0;
  virtual std::optional<core::ImageRecord> update_image(const std::string& id, const ImagePatch& patch) = 0;
  /// Deletes the record and its derivative index rows in one transaction,
  /// and the working copies' rows with the last image of its bytes.
  virtual DeleteResult delete_image(const std::string& id) = 0;
  virtual ImagePage list_images(const ImageQuery& query) = 0;
  /// Calls `each` for every image created at or after `since` (unix seconds)
  /// that has a perceptual hash, in no particular order.
  virtual void scan_image_hashes(std::int64_t since, const std::function<void(ImageHash&&)>& each) = 0;

  virtual std::optional<DerivativeRecord> get_derivative(const std::string& key) = 0;
  /// Inserts or replaces the row.
  virtual void put_derivative(const DerivativeRecord& d) = 0;
  virtual void touch_derivative(const std::string& key, std::int64_t now) = 0;
  /// The derivatives made for `tenant`'s image of these bytes.
  virtual std::vector<DerivativeRecord> list_derivatives(const std::string& tenant, const std::string& sha256) = 0;
  /// Removes the index rows of those; returns the removed keys.
  virtual std::vector<std::string> remove_derivatives(const std::string& tenant, const std::string& sha256) = 0;
  virtual std::int64_t derivative_bytes() = 0;
  /// Removes least-recently-used rows until the total is at most `budget`;
  /// returns the removed keys so that the caller deletes their blobs.
  virtual std::vector<std::string> evict_derivatives(std::int64_t budget) = 0;

  // ---- working copies -------------------------------------------------------
  /// The working copies of these bytes, smallest level first.
  virtual std::vector<WorkingCopyRecord> working_copies(const std::string& sha256) = 0;
  /// Records (or replaces) a working copy; false, and nothing recorded, when
  /// no image has its bytes any more (deleted while it was being made: the
  /// caller removes its blob).
  virtual bool put_working_copy(const WorkingCopyRecord& copy) = 0;

  // ---- variants -----------------------------------------------------------
  // insert_image() also stores each `image.variants` entry (name -> "pending")
  // and queues one variant item per entry, in the same transaction; get_image()
  // and list_images() fill `variants` with each one's status.

  virtual std::optional<VariantState> get_variant(const std::string& image_id, const std::string& name) = 0;
  /// Queues a variant that the image does not have yet (e.g. a preset added to
  /// the configuration later); does nothing when it exists. False when the
  /// image does not exist.
  virtual bool queue_variant(const std::string& image_id, const std::string& name) = 0;

  // ---- job queue ----------------------------------------------------------
  // Items are leased, not locked: claim_items() hands each runnable item to
  // one caller until its lease ends; a lease that ends without a completion
  // makes the item runnable again (at-least-once processing), and only the
  // first completion of an item is recorded (exactly-once results). Backends
  // with row locks implement the claim as one UPDATE over a
  // `SELECT ... FOR UPDATE SKIP LOCKED LIMIT max`, so that any number of
  // workers on any number of machines claim concurrently. create_job() is
  // durable when it returns; the bookkeeping calls below may be committed
  // without waiting for the disk (a power loss then forgets the latest ones,
  // which only makes some items run again).

  /// Creates the job and one item per source (or per image that `selector`
  /// finds, when given) in one transaction. Throws core::Error(bad_parameter)
  /// naming unknown image ids (then nothing is created).
  virtual JobRecord create_job(const JobSpec& spec, const std::vector<JobSource>& sources,
                               const std::optional<ImageQuery>& selector) = 0;
  virtual std::optional<JobRecord> get_job(const std::string& id) = 0;
  /// Results in source order; `cursor` from a previous page ("" for the first).
  /// Throws core::Error(bad_parameter) for a malformed cursor.
  virtual ResultPage job_results(const std::string& job_id, const std::string& cursor, int limit) = 0;
  /// The result at `position` of the job, or nullopt.
  virtual std::optional<ItemResult> job_result(const std::string& job_id, std::int64_t position) = 0;
  /// Up to `max` kept outputs whose expiry is at or before `now_ms` and
  /// whose bytes have not been forgotten yet.
  virtual std::vector<ExpiredOutput> expired_outputs(std::int64_t now_ms, int max) = 0;
  /// Records that the bytes of these items' outputs are gone; their results
  /// keep the expiry (so that they answer "expired", not "unknown").
  virtual void forget_outputs(const std::vector<std::int64_t>& item_ids) = 0;
  /// Drops the items that have not started; the job ends `cancelled` once
  /// the running ones finish. nullopt for an unknown job; a finished job is
  /// returned unchanged.
  virtual std::optional<JobRecord> cancel_job(const std::string& id, std::int64_t now) = 0;

  /// Leases up to `max` runnable items (queued and due, or running with an
  /// expired lease) to `worker` until now_ms + lease_ms, counting an attempt
  /// on each. An expired item that has used all its attempts is failed
  /// instead of handed out.
  virtual std::vector<ClaimedItem> claim_items(const std::string& worker, int max, std::int64_t lease_ms,
                                               std::int64_t now_ms) = 0;
  /// Records the item's result unless it already has one (idempotent: a
  /// worker whose lease was taken over may finish too). True when this call
  /// recorded it. Rolls the job up, and marks a variant ready.
  virtual bool complete_item(std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) = 0;
  /// complete_item() and then claim_items() for `next`, in one transaction:
  /// a busy worker's completion and its next claim cost one commit and one
  /// trip to the catalog, not two.
  virtual Completion complete_and_claim(std::int64_t item_id, const ItemOutput& output, const ClaimRequest& next,
                                        std::int64_t now_ms) = 0;
  /// Records a failed attempt by the lease holder: back in the queue until
  /// `retry_at_ms`, or failed for good when nullopt. False when the caller no
  /// longer holds the lease (nothing changes then).
  virtual bool fail_item(std::int64_t item_id, std::int64_t lease_token, const JobError& error,
                         std::optional<std::int64_t> retry_at_ms, std::int64_t now_ms) = 0;
  /// Gives back the worker's leases without counting the attempts (shutdown).
  virtual int release_leases(const std::string& worker) = 0;
  virtual QueueDepth queue_depth() = 0;

  /// Leases finished jobs whose callback is due (pending and next try <= now)
  /// until now_ms + lease_ms.
  virtual std::vector<CallbackDue> claim_callbacks(int max, std::int64_t lease_ms, std::int64_t now_ms) = 0;
  /// Records a delivery attempt: delivered, retried at `retry_at_ms`, or given
  /// up (failed) when neither.
  virtual void record_callback(const std::string& job_id, bool delivered, std::optional<std::int64_t> retry_at_ms) = 0;

  // ---- nodes ----------------------------------------------------------------

  /// Records that node `id` is alive at `now` (unix seconds), forgets nodes
  /// silent since before `alive_since`, and returns how many live nodes serve
  /// the API, this one included when it does.
  virtual int beat_node(const std::string& id, bool serves_api, std::int64_t now, std::int64_t alive_since) = 0;
  /// A node that stops takes itself off the list.
  virtual void remove_node(const std::string& id) = 0;

  // ---- settings -------------------------------------------------------------

  /// The stored value of `name`. When there is none, stores `value_if_absent`
  /// first (durably) and returns it. Atomic: every caller on one database, in
  /// any process, gets the value of the first one.
  virtual std::string setting(const std::string& name, const std::string& value_if_absent) = 0;

  // ---- tenants ----------------------------------------------------------------

  virtual void insert_api_key(const ApiKeyRecord& key) = 0;
  /// The unrevoked key whose secret hashes to `hash`.
  virtual std::optional<ApiKeyRecord> find_api_key(const std::string& hash) = 0;
  /// Unrevoked keys of `tenant` ("" for every tenant), oldest first.
  virtual std::vector<ApiKeyRecord> list_api_keys(const std::string& tenant) = 0;
  /// Revokes the key (of `tenant`, or of any tenant with ""); nullopt when
  /// there is no such unrevoked key.
  virtual std::optional<ApiKeyRecord> revoke_api_key(const std::string& tenant, const std::string& id,
                                                     std::int64_t now) = 0;
  /// True when any key was ever created (revoked ones count: the server stays closed).
  virtual bool has_api_keys() = 0;
  /// Records when keys were last used (key id, unix seconds), in one transaction.
  virtual void mark_keys_used(const std::vector<std::pair<std::string, std::int64_t>>& last_used) = 0;

  virtual std::optional<TenantQuota> tenant_quota(const std::string& tenant) = 0;
  /// Sets the quota; with `only_if_absent`, keeps one that is already set.
  virtual void set_tenant_quota(const std::string& tenant, const TenantQuota& quota, bool only_if_absent) = 0;
  virtual TenantUse tenant_use(const std::string& tenant) = 0;

  /// Adds the counts to the stored ones in one transaction, and records
  /// every tenant's storage for `today`.
  virtual void add_usage(const std::vector<UsageRow>& rows, const std::string& today) = 0;
  /// Stored counts by day, tenant and client, oldest day first.
  virtual std::vector<UsageRow> usage(const UsageQuery& query) = 0;
  /// Storage by day (days on which usage was flushed) of the query's tenants.
  virtual std::vector<StoredDay> stored_by_day(const UsageQuery& query) = 0;

  /// Tags of `tenant`'s images ("" for every tenant) with how many images carry each, most first.
  virtual std::vector<std::pair<std::string, std::int64_t>> tag_counts(const std::string& tenant, int limit) = 0;

  // ---- upload links and resumable uploads -----------------------------------

  virtual void insert_upload_link(const UploadLinkRecord& link) = 0;
  /// The link whose token hashes to `hash`, in whatever state.
  virtual std::optional<UploadLinkRecord> find_upload_link(const std::string& hash) = 0;
  /// The link with this id, in whatever state.
  virtual std::optional<UploadLinkRecord> get_upload_link(const std::string& id) = 0;
  /// Links of `tenant` ("" for every tenant), revoked ones included, newest
  /// first: `limit` (clamped to 1..1000) after `cursor` ("" for the first
  /// page). Throws core::Error(bad_parameter) for a malformed cursor.
  virtual UploadLinkPage list_upload_links(const std::string& tenant, const std::string& cursor, int limit) = 0;
  /// Revokes the link (of `tenant`, or of any tenant with ""); false when
  /// there is no such link. Revoking a revoked link is true and changes nothing.
  virtual bool revoke_upload_link(const std::string& tenant, const std::string& id, std::int64_t now) = 0;
  /// Takes one use of the link in one statement, when it is neither expired,
  /// revoked nor used up at `now`: concurrent callers never take more than
  /// max_uploads. The link after the use, or nullopt when none was taken.
  virtual std::optional<UploadLinkRecord> take_upload_link_use(const std::string& hash, std::int64_t now) = 0;
  /// Gives back a use that stored nothing (refused upload, terminated or
  /// expired resumable upload).
  virtual void return_upload_link_use(const std::string& id) = 0;

  virtual void insert_resumable_upload(const ResumableUploadRecord& upload) = 0;
  virtual std::optional<ResumableUploadRecord> get_resumable_upload(const std::string& id) = 0;
  /// Records the image a complete upload became.
  virtual void finish_resumable_upload(const std::string& id, const std::string& image_id) = 0;
  /// False when there was no such upload.
  virtual bool delete_resumable_upload(const std::string& id) = 0;
  /// Up to `max` uploads whose expiry is at or before `now` (finished or not).
  virtual std::vector<ResumableUploadRecord> expired_resumable_uploads(std::int64_t now, int max) = 0;

  /// Aggregates for /v1/stats over `tenant`'s images ("" for every tenant);
  /// uploads per day cover the days from `since_day` (unix seconds).
  virtual CatalogStats stats(std::int64_t since_day, const std::string& tenant) = 0;

  // ---- signals between nodes -------------------------------------------------
  // A catalog that several machines share tells every node of the changes
  // that make caches stale, in the transaction that makes them (PostgreSQL:
  // NOTIFY): patches and deletes of images, purged derivatives, revoked keys,
  // and queued work. One that a single machine owns tells nothing: each
  // process acts on its own changes, and workers in other processes poll.

  /// Calls `handler` for each signal from now on, this node's own changes
  /// included (one handler; a later call replaces it, nullptr stops them).
  /// After a lost connection the catalog calls it once per kind with an
  /// empty subject: what was sent meanwhile is unknown.
  virtual void on_signal(SignalHandler /*handler*/) {}
  /// True when the catalog tells other nodes of changes.
  virtual bool signals() const noexcept { return false; }

  // ---- moving an installation (transfer.hpp) -----------------------------------
  // Rows as they are, for `progimage copy`: read from one catalog, written to
  // another of any engine. Never used while serving.

  /// Up to `limit` rows of `table` in key order, from the first (`after`
  /// empty) or after the key of `after`.
  virtual std::vector<TableRow> export_rows(const TransferTable& table, const TableRow& after, int limit) = 0;
  /// Inserts the rows it does not hold yet, in one durable transaction; a row
  /// whose key (or another unique column's value) is there already is left
  /// as it is. Returns how many it inserted. Nothing else changes with them
  /// (totals are rows of their own) and no signal is sent.
  virtual std::int64_t import_rows(const TransferTable& table, const std::vector<TableRow>& rows) = 0;
  /// The rows of `table` that would move.
  virtual std::int64_t count_rows(const TransferTable& table) = 0;

  // ---- schema ---------------------------------------------------------------

  /// The schema version of the database (0 before the first migration).
  virtual int schema_version() = 0;
  /// Applies the migrations the database lacks, in one transaction that
  /// concurrent callers (other processes, other nodes) wait for; returns the
  /// versions applied (none when it was current). Throws when the database
  /// was written by a newer program.
  virtual std::vector<int> migrate() = 0;

  /// True when the catalog answers (for /readyz).
  virtual bool healthy() = 0;
  /// "ok" or the problems found.
  virtual std::string integrity_check() = 0;
};

/// Throws core::Error(quota_exceeded) when one more image of `incoming_bytes`
/// would take `tenant` over its quota as the catalog has it now (a check
/// before storing; insert_image() checks again in its transaction).
void check_tenant_quota(Catalog& catalog, const std::string& tenant, std::int64_t incoming_bytes);

}  // namespace progimage::catalog
