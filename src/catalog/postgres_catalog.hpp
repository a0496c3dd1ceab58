#pragma once
// The catalog in a PostgreSQL database, shared by every node of an
// installation.
#include <memory>
#include <mutex>
#include <string>

#include "catalog/catalog.hpp"
#include "catalog/dialect.hpp"
#include "catalog/postgres_fence.hpp"
#include "catalog/touch_buffer.hpp"

namespace progimage::catalog {

namespace postgres {
class Connection;
class Listener;
class Pool;
}  // namespace postgres

/// Catalog over PostgreSQL (libpq). Durable writes commit with the server's
/// synchronous_commit; queue bookkeeping commits with synchronous_commit off
/// (a crash of the server may forget the latest of it, which only makes some
/// items run again; see Catalog).
///
/// Any number of nodes use one database at once: writers are ordered by row
/// locks (and an advisory lock per blob for insert and delete, so that the
/// last reference to a blob is known exactly); workers claim job items with
/// `FOR UPDATE SKIP LOCKED` and are woken by NOTIFY; signals go to every node
/// over LISTEN/NOTIFY. Schema migrations run at start in one transaction
/// under an advisory lock, so that nodes starting together migrate once.
///
/// Threads: every method may be called from any number of threads at once;
/// each call borrows a pooled connection.
///
/// Errors: as SqliteCatalog; a server that cannot be reached, or a pool with
/// no free connection for 10 s, throws core::Error(unavailable); text that is
/// not UTF-8 (or holds NUL) throws core::Error(bad_parameter).
class PostgresCatalog final : public Catalog {
 public:
  /// `url` is a libpq URI (postgresql://user@host:port/db?...), with one
  /// parameter of ours: `pool_size` (connections, default 8). Connects,
  /// and applies pending migrations unless `migrate` is false; throws when the
  /// server cannot be reached or the schema is newer than this program's.
  explicit PostgresCatalog(const std::string& url, bool apply_migrations = true);
  ~PostgresCatalog() override;
  PostgresCatalog(const PostgresCatalog&) = delete;
  PostgresCatalog& operator=(const PostgresCatalog&) = delete;

  InsertResult insert_image(const core::ImageRecord& image) override;
  std::optional<core::ImageRecord> get_image(const std::string& id) override;
  std::optional<core::ImageRecord> update_image(const std::string& id, const ImagePatch& patch) override;
  DeleteResult delete_image(const std::string& id) override;
  ImagePage list_images(const ImageQuery& query) override;
  int beat_node(const std::string& id, bool serves_api, std::int64_t now, std::int64_t alive_since) override;
  void remove_node(const std::string& id) override;
  void scan_image_hashes(std::int64_t since, const std::function<void(ImageHash&&)>& each) override;

  std::optional<DerivativeRecord> get_derivative(const std::string& key) override;
  void put_derivative(const DerivativeRecord& d) override;
  void touch_derivative(const std::string& key, std::int64_t now) override;
  std::vector<DerivativeRecord> list_derivatives(const std::string& tenant, const std::string& sha256) override;
  std::vector<std::string> remove_derivatives(const std::string& tenant, const std::string& sha256) override;
  std::int64_t derivative_bytes() override;
  std::vector<std::string> evict_derivatives(std::int64_t budget) override;
  std::vector<WorkingCopyRecord> working_copies(const std::string& sha256) override;
  bool put_working_copy(const WorkingCopyRecord& copy) override;

  std::optional<VariantState> get_variant(const std::string& image_id, const std::string& name) override;
  bool queue_variant(const std::string& image_id, const std::string& name) override;

  JobRecord create_job(const JobSpec& spec, const std::vector<JobSource>& sources,
                       const std::optional<ImageQuery>& selector) override;
  std::optional<JobRecord> get_job(const std::string& id) override;
  ResultPage job_results(const std::string& job_id, const std::string& cursor, int limit) override;
  std::optional<ItemResult> job_result(const std::string& job_id, std::int64_t position) override;
  std::vector<ExpiredOutput> expired_outputs(std::int64_t now_ms, int max) override;
  void forget_outputs(const std::vector<std::int64_t>& item_ids) override;
  std::optional<JobRecord> cancel_job(const std::string& id, std::int64_t now) override;
  std::vector<ClaimedItem> claim_items(const std::string& worker, int max, std::int64_t lease_ms,
                                       std::int64_t now_ms) override;
  bool complete_item(std::int64_t item_id, const ItemOutput& output, std::int64_t now_ms) override;
  Completion complete_and_claim(std::int64_t item_id, const ItemOutput& output, const ClaimRequest& next,
                                std::int64_t now_ms) override;
  bool fail_item(std::int64_t item_id, std::int64_t lease_token, const JobError& error,
                 std::optional<std::int64_t> retry_at_ms, std::int64_t now_ms) override;
  int release_leases(const std::string& worker) override;
  QueueDepth queue_depth() override;
  std::vector<CallbackDue> claim_callbacks(int max, std::int64_t lease_ms, std::int64_t now_ms) override;
  void record_callback(const std::string& job_id, bool delivered, std::optional<std::int64_t> retry_at_ms) override;

  std::string setting(const std::string& name, const std::string& value_if_absent) override;

  void insert_api_key(const ApiKeyRecord& key) override;
  std::optional<ApiKeyRecord> find_api_key(const std::string& hash) override;
  std::vector<ApiKeyRecord> list_api_keys(const std::string& tenant) override;
  std::optional<ApiKeyRecord> revoke_api_key(const std::string& tenant, const std::string& id,
                                             std::int64_t now) override;
  bool has_api_keys() override;
  void mark_keys_used(const std::vector<std::pair<std::string, std::int64_t>>& last_used) override;
  std::optional<TenantQuota> tenant_quota(const std::string& tenant) override;
  void set_tenant_quota(const std::string& tenant, const TenantQuota& quota, bool only_if_absent) override;
  TenantUse tenant_use(const std::string& tenant) override;
  void add_usage(const std::vector<UsageRow>& rows, const std::string& today) override;
  std::vector<UsageRow> usage(const UsageQuery& query) override;
  std::vector<StoredDay> stored_by_day(const UsageQuery& query) override;
  std::vector<std::pair<std::string, std::int64_t>> tag_counts(const std::string& tenant, int limit) override;

  void insert_upload_link(const UploadLinkRecord& link) override;
  std::optional<UploadLinkRecord> find_upload_link(const std::string& hash) override;
  std::optional<UploadLinkRecord> get_upload_link(const std::string& id) override;
  UploadLinkPage list_upload_links(const std::string& tenant, const std::string& cursor, int limit) override;
  bool revoke_upload_link(const std::string& tenant, const std::string& id, std::int64_t now) override;
  std::optional<UploadLinkRecord> take_upload_link_use(const std::string& hash, std::int64_t now) override;
  void return_upload_link_use(const std::string& id) override;
  void insert_resumable_upload(const ResumableUploadRecord& upload) override;
  std::optional<ResumableUploadRecord> get_resumable_upload(const std::string& id) override;
  void finish_resumable_upload(const std::string& id, const std::string& image_id) override;
  bool delete_resumable_upload(const std::string& id) override;
  std::vector<ResumableUploadRecord> expired_resumable_uploads(std::int64_t now, int max) override;

  void on_signal(SignalHandler handler) override;
  bool signals() const noexcept override { return true; }

  std::vector<TableRow> export_rows(const TransferTable& table, const TableRow& after, int limit) override;
  std::int64_t import_rows(const TransferTable& table, const std::vector<TableRow>& rows) override;
  std::int64_t count_rows(const TransferTable& table) override;

  CatalogStats stats(std::int64_t since_day, const std::string& tenant) override;
  bool healthy() override;
  /// Checks that the stored totals, variants and links agree with the rows
  /// they summarise; "ok" or one line per problem.
  std::string integrity_check() override;

  /// Writes buffered derivative touches now.
  void flush_touches();
  int schema_version() override;
  /// Takes an advisory lock for the transaction, so that nodes starting
  /// together migrate one after the other (the later ones find nothing to do).
  std::vector<int> migrate() override;
  static int latest_schema_version() noexcept;

 private:
  /// Runs `body(connection)` in one transaction and commits it with the given
  /// durability; runs it again after a serialization failure or deadlock.
  template <class F>
  auto write(Durability durability, F&& body);
  /// Runs `body(connection)` on a pooled connection, outside a transaction.
  template <class F>
  auto read(F&& body);
  /// Writes the buffered touches; the caller holds flush_mu_.
  void write_touches();
  /// After the commit of a write that raised `fence`: waits until every other
  /// live node has acted on its notifications (postgres_fence.hpp), at most
  /// kFenceTimeout. Returns at once when this catalog does not listen.
  void await_fence(const postgres::Fence& fence);
  /// Answers another node's fence, on a pooled connection.
  void answer_fence(const std::string& token);
  /// The listener's handler: fences here, the other kinds to signal_handler_.
  void on_notification(const std::string& payload);

  std::unique_ptr<postgres::Pool> pool_;
  TouchBuffer touches_;
  std::mutex flush_mu_;  // one touch flush at a time

  std::mutex signal_mu_;
  SignalHandler signal_handler_;
  std::unique_ptr<postgres::Listener> listener_;
  postgres::Fences fences_;
};

}  // namespace progimage::catalog
