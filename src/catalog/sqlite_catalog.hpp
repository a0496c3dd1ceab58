#pragma once
// The catalog in one SQLite file (WAL mode), for single-machine deployments.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/dialect.hpp"
#include "catalog/touch_buffer.hpp"

namespace progimage::catalog {

namespace sqlite {
class Connection;
}

/// Catalog over SQLite 3 in WAL mode with `synchronous=FULL`: once a write
/// method returns, the change survives kill -9 and power loss. Queue
/// bookkeeping (claims, completions, failures, callback state) commits
/// relaxed: it survives kill -9, and a power loss may forget the latest of it
/// (see Catalog).
///
/// Threads: every method may be called from any number of threads at once.
/// Writes go through one connection, one transaction at a time; reads use a
/// small pool of read-only connections and never wait for a writer (WAL).
///
/// Errors: a malformed list cursor throws core::Error(bad_parameter); a busy
/// database (another process holding the write lock past the 5 s busy
/// timeout) or a full disk throws core::Error(unavailable); any other SQLite
/// failure throws core::Error(internal) whose message is for logs only. A
/// record that breaks the rules (empty sha256, metadata_json not a JSON
/// object) throws std::invalid_argument: the caller builds records, so that is
/// a bug, not bad input.
///
/// Derivative touches are buffered in memory and written in batches (at most
/// about a second late, and at destruction); readers of this object see them
/// at once. touch_derivative() can therefore throw the error of a batch.
class SqliteCatalog final : public Catalog {
 public:
  /// Opens or creates the database (and its parent directories) and, unless
  /// `apply_migrations` is false, applies pending schema migrations. Throws
  /// when the file cannot be used or was written by a newer schema.
  explicit SqliteCatalog(std::filesystem::path db_file, bool apply_migrations = true);
  ~SqliteCatalog() override;
  SqliteCatalog(const SqliteCatalog&) = delete;
  SqliteCatalog& operator=(const SqliteCatalog&) = delete;

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

  std::vector<TableRow> export_rows(const TransferTable& table, const TableRow& after, int limit) override;
  std::int64_t import_rows(const TransferTable& table, const std::vector<TableRow>& rows) override;
  std::int64_t count_rows(const TransferTable& table) override;

  CatalogStats stats(std::int64_t since_day, const std::string& tenant) override;
  bool healthy() override;
  /// Runs `PRAGMA integrity_check`, `PRAGMA foreign_key_check` and the
  /// full-text index check; "ok" or one line per problem.
  std::string integrity_check() override;

  /// Writes buffered derivative touches now; without `wait`, only when no
  /// other write is under way.
  void flush_touches(bool wait = true);
  CommitCounts commit_counts() const override { return {commits_.load(), grouped_writes_.load()}; }
  int schema_version() override;
  std::vector<int> migrate() override;
  /// The newest schema version this program knows.
  static int latest_schema_version() noexcept;

  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  class ReaderLease;
  ReaderLease reader();
  /// Runs `body(writer)` in a write transaction and commits it with the
  /// given durability; nothing of it stays if it throws. Returns what `body`
  /// returns. Durable writes are committed in groups (see commit_grouped).
  template <class F>
  auto write(Durability durability, F&& body);
  /// One transaction of its own, for a caller that holds write_mu_ already.
  template <class F>
  auto write_locked(Durability durability, F&& body);

  /// A durable write waiting for its group's commit.
  struct GroupedWrite {
    const std::function<void(sqlite::Connection&)>& body;
    std::exception_ptr error;
    bool done = false;
  };
  /// Group commit: the writes that arrive while a commit is under way are
  /// run together, each in a savepoint of one transaction (a write that
  /// throws undoes only itself), and share that transaction's commit, its
  /// one fsync. Each caller returns only once its group's commit is durable.
  void commit_grouped(const std::function<void(sqlite::Connection&)>& body);
  /// Runs one group; never throws (each member gets its own error).
  void run_group(const std::vector<GroupedWrite*>& group);

  std::filesystem::path file_;

  std::mutex write_mu_;  // one write transaction at a time, on writer_
  std::unique_ptr<sqlite::Connection> writer_;

  std::mutex group_mu_;  // the writes waiting for a group, and whether one is being committed
  std::condition_variable group_done_;
  std::vector<GroupedWrite*> waiting_;
  bool committing_ = false;
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> grouped_writes_{0};

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_readers_;

  TouchBuffer touches_;
};

}  // namespace progimage::catalog
