#include "app/copy.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/backends.hpp"
#include "app/progress.hpp"
#include "copy/copier.hpp"
#include "core/config.hpp"
#include "core/id.hpp"

namespace progimage::app {

namespace {

namespace fs = std::filesystem;

constexpr const char* kFooter = R"(
Copies one installation into another: images (records and original blobs),
metadata, tags, tenants and their quotas and totals, API keys (by hash: the
same secrets keep working), upload links, usage, jobs with their items and
results (and their kept outputs), variants, settings (the callback secret),
and with --derivatives the derivative index and its blobs. Ids and times are
kept, so URLs and links handed out before still work. Any catalog and store
to any other: sqlite:// or postgresql://, file:// or s3://.

Stop the servers of the source first (or let nothing write to it meanwhile).
The target catalog must be empty or filled by an earlier copy of the same
source: a copy cut off (even by kill -9) goes on when run again and copies
nothing twice; run after a finished copy, it copies nothing and says so.
At the end the rows of every table are compared and every blob is re-read
from the target and its SHA-256 checked.

Examples:
  progimage copy --from-catalog sqlite:///var/lib/progimage/catalog.db --from-storage file:///var/lib/progimage \
                 --to-catalog postgresql://progimage@db.internal:5432/progimage \
                 --to-storage 's3://progimage-images?endpoint=https://s3.internal:9000'
  progimage copy --dry-run ...same URLs...     # what would be copied
  progimage copy --json --derivatives ...      # JSON lines: phases, progress, then the summary

S3 credentials: --s3-access-key-id and --s3-secret-access-key, or the AWS
variables (both stores use them). Exit status: 0 copied and verified (or
nothing to copy), 1 verification found a difference (named), 2 bad usage,
3 the target holds other data, 4 a catalog or store failed (run it again).)";

struct Request {
  std::string from_catalog, from_storage, to_catalog, to_storage;
  std::string s3_key_id, s3_secret, s3_region, staging;
  bool derivatives = false, dry_run = false, json = false;
  int batch = 500;
  std::int64_t kill_after = 0;
};

/// A failure to open or reach a backend, with what to do about it.
class Unreachable : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The URL without a password in it, for messages.
std::string redacted(const std::string& url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos) return url;
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

/// A sqlite:// source that does not exist would be created empty: refused.
void require_existing_sqlite(const std::string& url, const char* flag) {
  constexpr std::string_view kScheme = "sqlite://";
  if (!url.starts_with(kScheme)) return;
  if (!fs::exists(url.substr(kScheme.size())))
    throw Unreachable(std::string(flag) + " " + url + ": no such file; give the catalog.db of the installation to copy");
}

std::unique_ptr<catalog::Catalog> open_catalog(const std::string& url, const char* flag, bool migrate) {
  try {
    return make_catalog(url, migrate);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw Unreachable(std::string(flag) + " " + redacted(url) + ": cannot open it: " + e.what() +
                      " (is the server up, the URL right, and may this user use it?)");
  }
}

std::unique_ptr<storage::BlobStore> open_store(const std::string& url, const char* flag, const core::Config& cfg) {
  std::unique_ptr<storage::BlobStore> store;
  try {
    store = make_blob_store(url, cfg);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw Unreachable(std::string(flag) + " " + url + ": cannot open it: " + e.what());
  }
  if (!store->healthy())
    throw Unreachable(std::string(flag) + " " + url +
                      ": does not answer (is it up, does the bucket exist, are the credentials right?)");
  return store;
}

/// The S3 settings as `serve` reads them (AWS variables), then the flags; S3
/// stores stage their uploads under `staging`.
core::Config store_settings(const Request& r, const fs::path& staging) {
  const char* args[] = {"progimage"};
  auto loaded = core::load_config(1, args);
  if (!loaded.config) throw std::invalid_argument(loaded.output);
  core::Config cfg = *loaded.config;
  if (!r.s3_key_id.empty()) cfg.s3_access_key_id = r.s3_key_id;
  if (!r.s3_secret.empty()) cfg.s3_secret_access_key = r.s3_secret;
  if (!r.s3_region.empty()) cfg.s3_region = r.s3_region;
  cfg.data = staging.string();
  return cfg;
}

/// A test hook (--kill-after-items, not in --help): the process kills itself
/// with SIGKILL once this many items were copied, as an operator's kill -9
/// would, so that tests cut a copy off at a known point.
class KillAfter final : public copy::Observer {
 public:
  KillAfter(copy::Observer& inner, std::int64_t limit) : inner_(inner), limit_(limit) {}
  void phase(std::string_view name, std::int64_t items, std::int64_t bytes) override {
    copying_ = name.starts_with("copying");
    inner_.phase(name, items, bytes);
  }
  void advance(std::int64_t items, std::int64_t bytes) override {
    inner_.advance(items, bytes);
    if (!copying_ || limit_ <= 0 || (done_ += items) < limit_) return;
    std::fflush(stdout);
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
  }

 private:
  copy::Observer& inner_;
  std::int64_t limit_;
  std::int64_t done_ = 0;
  bool copying_ = false;
};

boost::json::object summary_json(const Request& r, const copy::Report& report, const char* status) {
  boost::json::object tables, blobs;
  for (const auto& t : report.tables)
    tables[t.table] = {{"source", t.source}, {"target_before", t.target_before}, {"copied", t.copied}, {"target", t.target}};
  for (const auto& b : report.blobs)
    blobs[b.kind] = {{"count", b.count},   {"bytes", b.bytes},         {"copied", b.copied},
                     {"copied_bytes", b.copied_bytes}, {"verified", b.verified}};
  boost::json::array problems, notes;
  for (const auto& p : report.problems) problems.push_back(boost::json::string(p));
  for (const auto& n : report.notes) notes.push_back(boost::json::string(n));
  return {{"event", "summary"},  {"status", status},     {"dry_run", r.dry_run},
          {"from_catalog", redacted(r.from_catalog)}, {"from_storage", r.from_storage},
          {"to_catalog", redacted(r.to_catalog)},     {"to_storage", r.to_storage},
          {"tables", tables},    {"blobs", blobs},       {"problems", problems}, {"notes", notes}};
}

void print_text(const copy::Report& report, bool dry_run) {
  std::printf("%-18s %10s %10s %10s\n", "table", "source", "target", dry_run ? "to copy" : "copied");
  for (const auto& t : report.tables)
    std::printf("%-18s %10lld %10lld %10lld\n", t.table.c_str(), static_cast<long long>(t.source),
                static_cast<long long>(dry_run ? t.target_before : t.target), static_cast<long long>(t.copied));
  std::printf("%-18s %10s %10s %10s %10s\n", "blobs", "count", "bytes", dry_run ? "to copy" : "copied",
              dry_run ? "" : "verified");
  for (const auto& b : report.blobs)
    std::printf("%-18s %10lld %10s %10lld %10s\n", b.kind.c_str(), static_cast<long long>(b.count),
                human_bytes(b.bytes).c_str(), static_cast<long long>(b.copied),
                dry_run ? "" : std::to_string(b.verified).c_str());
  for (const auto& n : report.notes) std::printf("note: %s\n", n.c_str());
}

const char* status_of(const copy::Report& report, bool dry_run) {
  if (!report.problems.empty()) return "failed";
  if (dry_run) return "dry_run";
  return report.already_complete ? "already_copied" : "copied";
}

int report_result(const Request& r, const copy::Report& report) {
  const char* status = status_of(report, r.dry_run);
  if (r.json) {
    std::printf("%s\n", boost::json::serialize(summary_json(r, report, status)).c_str());
    return report.problems.empty() ? 0 : 1;
  }
  print_text(report, r.dry_run);
  if (!report.problems.empty()) {
    std::printf("verification failed: %zu problems\n", report.problems.size());
    for (const auto& p : report.problems) std::printf("  %s\n", p.c_str());
    std::printf("Nothing was removed from the source. Fix or remove what is named in the target, then run the copy "
                "again: it copies what is missing and verifies again.\n");
    return 1;
  }
  if (r.dry_run) std::printf("dry run: nothing was written\n");
  else if (report.already_complete)
    std::printf("nothing to copy: the target already holds everything the source has (verified again)\n");
  else std::printf("copied and verified: every table's rows match and every blob's SHA-256 was re-read from the target\n");
  return 0;
}

/// A temporary directory for the staging files of S3 stores, removed at the end.
class StagingDir {
 public:
  explicit StagingDir(const std::string& given) {
    if (!given.empty()) {
      path_ = given;
      return;
    }
    path_ = fs::temp_directory_path() / ("progimage-copy-" + core::new_id());
    owned_ = true;
  }
  ~StagingDir() {
    std::error_code ec;
    if (owned_) fs::remove_all(path_, ec);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool owned_ = false;
};

/// A dry run leaves the target catalog as it is. One without a schema yet
/// (a new database, a sqlite file not made yet) holds nothing: an empty
/// stand-in in the staging directory answers for it.
std::unique_ptr<catalog::Catalog> open_dry_run_target(const std::string& url, const fs::path& staging) {
  constexpr std::string_view kSqlite = "sqlite://";
  const bool missing_file = url.starts_with(kSqlite) && !fs::exists(url.substr(kSqlite.size()));
  if (!missing_file) {
    auto target = open_catalog(url, "--to-catalog", false);
    if (target->schema_version() > 0) return target;
  }
  return make_catalog(std::string(kSqlite) + (staging / "empty-target.db").string());
}

int run_copy(const Request& r) {
  if (r.from_catalog == r.to_catalog) throw std::invalid_argument("--from-catalog and --to-catalog are the same catalog");
  if (r.from_storage == r.to_storage) throw std::invalid_argument("--from-storage and --to-storage are the same store");
  StagingDir staging(r.staging);
  const auto cfg = store_settings(r, staging.path());
  require_existing_sqlite(r.from_catalog, "--from-catalog");
  // The source is brought to this program's schema, as a server would at start.
  auto from_catalog = open_catalog(r.from_catalog, "--from-catalog", true);
  auto from_blobs = open_store(r.from_storage, "--from-storage", cfg);
  auto to_catalog = r.dry_run ? open_dry_run_target(r.to_catalog, staging.path())
                              : open_catalog(r.to_catalog, "--to-catalog", true);
  auto to_blobs = open_store(r.to_storage, "--to-storage", cfg);

  copy::Options options{r.derivatives, r.dry_run, r.batch};
  Progress progress(r.json ? ProgressStyle::json : default_progress_style());
  KillAfter observer(progress, r.kill_after);
  auto report = copy::run({*from_catalog, *from_blobs}, {*to_catalog, *to_blobs}, options, observer);
  progress.end_phase();
  return report_result(r, report);
}

}  // namespace

int copy(int argc, const char* const* argv) {
  CLI::App app{"Copies an installation (catalog and blobs) to another catalog and blob store, resumably and verified.",
               "progimage copy"};
  app.set_help_flag("-h,--help", "print this help and exit");
  app.footer(kFooter);
  Request r;
  app.add_option("--from-catalog", r.from_catalog, "catalog to copy: sqlite://PATH or postgresql://…")->required();
  app.add_option("--from-storage", r.from_storage, "its blob store: file://DIR or s3://BUCKET?…")->required();
  app.add_option("--to-catalog", r.to_catalog, "catalog to copy into (empty, or filled by an earlier copy)")->required();
  app.add_option("--to-storage", r.to_storage, "blob store to copy into")->required();
  app.add_flag("--derivatives", r.derivatives, "copy the derivative index and its blobs too (else rendered again)");
  app.add_flag("--dry-run", r.dry_run, "count what would be copied; write nothing");
  app.add_flag("--json", r.json, "print JSON lines: phase and progress events, then a summary");
  app.add_option("--batch", r.batch, "rows per transaction of the target")->check(CLI::Range(1, 100000));
  app.add_option("--staging", r.staging, "directory for the staging files of s3:// stores (default: a temporary one)");
  app.add_option("--s3-access-key-id", r.s3_key_id, "access key id of s3:// stores [env AWS_ACCESS_KEY_ID]");
  app.add_option("--s3-secret-access-key", r.s3_secret, "secret access key of s3:// stores [env AWS_SECRET_ACCESS_KEY]");
  app.add_option("--s3-region", r.s3_region, "region of s3:// stores [env AWS_REGION]");
  app.add_option("--kill-after-items", r.kill_after)->group("");  // tests only: see KillAfter
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    return run_copy(r);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "progimage copy: %s\nRun 'progimage copy --help' for examples.\n", e.what());
    return 2;
  } catch (const copy::TargetConflict& e) {
    std::fprintf(stderr, "progimage copy: %s; nothing was written. For example:\n", e.what());
    for (const auto& x : e.examples()) std::fprintf(stderr, "  %s\n", x.c_str());
    std::fprintf(stderr,
                 "Copy into an empty catalog (a new database, or a new sqlite file), or into one that an earlier copy "
                 "of this same source filled. Did a server already start on the target?\n");
    return 3;
  } catch (const Unreachable& e) {
    std::fprintf(stderr, "progimage copy: %s\n", e.what());
    return 4;
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "progimage copy: %s\nWhat was copied so far is kept: run the same command again to go on.\n",
                 e.what());
    return 4;
  }
}

}  // namespace progimage::app
