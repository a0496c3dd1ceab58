#pragma once
// Moving an installation: every row of one catalog and every blob those rows
// name, into another catalog and blob store of any engine. Resumable: what
// the target holds already is skipped, so a run cut off at any point (kill -9
// included) goes on where it stopped. Verified: at the end the rows of both
// catalogs are compared table by table and every blob is re-read from the
// target and its SHA-256 checked.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "storage/blob_store.hpp"

namespace progimage::copy {

struct Options {
  bool derivatives = false;  // the derivative index and its blobs too (else the target renders them again)
  bool dry_run = false;      // count what would be copied; write nothing
  int batch = 500;           // rows per transaction of the target
};

/// What a run is doing, for a progress display. Called on the caller's thread.
class Observer {
 public:
  virtual ~Observer() = default;
  /// A phase begins: how many items (rows, blobs) and blob bytes it goes through.
  virtual void phase(std::string_view name, std::int64_t items, std::int64_t bytes) = 0;
  /// Items and bytes of the current phase done since the last call.
  virtual void advance(std::int64_t items, std::int64_t bytes) = 0;
};

struct TableCount {
  std::string table;
  std::int64_t source = 0;
  std::int64_t target_before = 0;  // rows the target held when the run began
  std::int64_t copied = 0;         // rows this run inserted (a dry run: would insert)
  std::int64_t target = 0;         // rows the target holds at the end
};

/// originals, derivatives or outputs.
struct BlobCount {
  std::string kind;
  std::int64_t count = 0;
  std::int64_t bytes = 0;
  std::int64_t copied = 0;  // blobs this run wrote (a dry run: would write)
  std::int64_t copied_bytes = 0;
  std::int64_t verified = 0;  // re-read from the target with the right SHA-256
};

struct Report {
  std::vector<TableCount> tables;
  std::vector<BlobCount> blobs;
  /// What verification found wrong, one line each; empty when all is verified.
  std::vector<std::string> problems;
  /// What was left behind on purpose (e.g. kept job outputs already gone from the source).
  std::vector<std::string> notes;
  /// Nothing needed copying: the target held everything already.
  bool already_complete = false;
};

/// The target holds rows that the source does not: another installation's
/// data, or a server ran on it. Thrown before anything is written.
class TargetConflict : public std::runtime_error {
 public:
  TargetConflict(std::string message, std::vector<std::string> examples)
      : std::runtime_error(std::move(message)), examples_(std::move(examples)) {}
  /// A few of the rows, as "table key=value: why".
  const std::vector<std::string>& examples() const noexcept { return examples_; }

 private:
  std::vector<std::string> examples_;
};

struct Endpoints {
  catalog::Catalog& catalog;
  storage::BlobStore& blobs;
};

/// Copies `from` into `to` (see the file comment). The source must not change
/// meanwhile. Throws TargetConflict, or the backends' errors (core::Error,
/// std::runtime_error) when one cannot be read or written; a rerun goes on.
Report run(Endpoints from, Endpoints to, const Options& options, Observer& observer);

}  // namespace progimage::copy
