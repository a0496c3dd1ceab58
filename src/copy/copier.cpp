#include "copy/copier.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "core/hash.hpp"

namespace progimage::copy {

namespace {

using catalog::Catalog;
using catalog::TableRow;
using catalog::TransferTable;
using storage::BlobStore;
using storage::Space;

/// Examples a message names at most.
constexpr std::size_t kExamples = 5;

std::vector<const TransferTable*> tables_to_copy(const Options& options) {
  std::vector<const TransferTable*> out;
  for (const auto& t : catalog::transfer_tables())
    if (!t.cache || options.derivatives) out.push_back(&t);
  return out;
}

/// The rows of one table in key order, read a batch at a time.
class RowCursor {
 public:
  RowCursor(Catalog& catalog, const TransferTable& table, int batch)
      : catalog_(catalog), table_(table), batch_(batch) {}

  /// The current row, or nullptr after the last.
  const TableRow* current() {
    if (pos_ == rows_.size() && !done_) fetch();
    return pos_ < rows_.size() ? &rows_[pos_] : nullptr;
  }
  void next() { ++pos_; }

 private:
  void fetch() {
    const TableRow after = rows_.empty() ? TableRow{} : rows_.back();
    rows_ = catalog_.export_rows(table_, after, batch_);
    pos_ = 0;
    done_ = rows_.size() < static_cast<std::size_t>(batch_);
  }

  Catalog& catalog_;
  const TransferTable& table_;
  int batch_;
  std::vector<TableRow> rows_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

/// Calls `each` with every batch of the table's rows, in key order.
void for_each_batch(Catalog& catalog, const TransferTable& table, int batch,
                    const std::function<void(const std::vector<TableRow>&)>& each) {
  TableRow after;
  while (true) {
    auto rows = catalog.export_rows(table, after, batch);
    if (!rows.empty()) each(rows);
    if (rows.size() < static_cast<std::size_t>(batch)) return;
    after = std::move(rows.back());
  }
}

std::string first_difference(const TransferTable& table, const TableRow& a, const TableRow& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return std::string(table.columns[i].name);
  return "?";
}

/// How the rows of one table in two catalogs differ, walking both in key order.
struct TableDiff {
  std::int64_t source = 0, target = 0;
  std::int64_t missing = 0;    // in the source only
  std::int64_t extra = 0;      // in the target only
  std::int64_t different = 0;  // same key, other values
  std::vector<std::string> absent;     // examples of missing rows
  std::vector<std::string> conflicts;  // examples of extra and different rows
  static void example(std::vector<std::string>& list, std::string text) {
    if (list.size() < kExamples) list.push_back(std::move(text));
  }
};

TableDiff diff_table(Catalog& source, Catalog& target, const TransferTable& table, int batch, Observer& observer) {
  TableDiff d;
  RowCursor a(source, table, batch), b(target, table, batch);
  while (true) {
    const TableRow* x = a.current();
    const TableRow* y = b.current();
    if (!x && !y) break;
    const int order = !x ? 1 : !y ? -1 : catalog::compare_keys(*x, *y, table.key_columns);
    if (order < 0) {
      ++d.missing;
      d.example(d.absent, catalog::describe_key(table, *x) + ": not in the target");
    } else if (order > 0) {
      ++d.extra;
      d.example(d.conflicts, catalog::describe_key(table, *y) + ": in the target only");
    } else if (*x != *y) {
      ++d.different;
      d.example(d.conflicts, catalog::describe_key(table, *x) + ": " + first_difference(table, *x, *y) + " differs");
    }
    if (order <= 0) {
      ++d.source;
      a.next();
    }
    if (order >= 0) {
      ++d.target;
      b.next();
    }
    observer.advance(1, 0);
  }
  return d;
}

// ---- blobs -----------------------------------------------------------------

struct Blob {
  Space space;
  std::string key;
  std::int64_t size = 0;
  std::string sha256;  // what its bytes must hash to, when known (originals are named by it)
};

const TransferTable& table_named(std::string_view name) {
  for (const auto& t : catalog::transfer_tables())
    if (t.name == name) return t;
  throw std::logic_error("no transfer table " + std::string(name));
}

/// Every blob the source's rows name: the originals of its images (each once,
/// however many tenants store the bytes), their working copies, kept job outputs, and with
/// --derivatives the indexed derivatives.
std::vector<Blob> blobs_named(Endpoints from, const Options& options, Report& report) {
  std::vector<Blob> blobs;
  const auto& images = table_named("images");
  const auto sha = catalog::column_index(images, "sha256"), size = catalog::column_index(images, "size");
  std::map<std::string, std::int64_t> originals;
  for_each_batch(from.catalog, images, options.batch, [&](const std::vector<TableRow>& rows) {
    for (const auto& r : rows) originals.emplace(std::get<std::string>(r[sha]), std::get<std::int64_t>(r[size]));
  });
  for (auto& [key, bytes] : originals) blobs.push_back({Space::originals, key, bytes, key});

  const auto& copies = table_named("working_copies");
  const auto ck = catalog::column_index(copies, "key"), cn = catalog::column_index(copies, "size");
  for_each_batch(from.catalog, copies, options.batch, [&](const std::vector<TableRow>& rows) {
    for (const auto& r : rows) blobs.push_back({Space::working, std::get<std::string>(r[ck]), std::get<std::int64_t>(r[cn]), {}});
  });

  if (options.derivatives) {
    const auto& derivatives = table_named("derivatives");
    const auto k = catalog::column_index(derivatives, "key"), n = catalog::column_index(derivatives, "size");
    for_each_batch(from.catalog, derivatives, options.batch, [&](const std::vector<TableRow>& rows) {
      for (const auto& r : rows) blobs.push_back({Space::derivatives, std::get<std::string>(r[k]), std::get<std::int64_t>(r[n]), {}});
    });
  }

  const auto& items = table_named("job_items");
  const auto output = catalog::column_index(items, "result_output_key");
  for_each_batch(from.catalog, items, options.batch, [&](const std::vector<TableRow>& rows) {
    for (const auto& r : rows) {
      const auto* key = std::get_if<std::string>(&r[output]);
      if (!key || key->empty()) continue;
      // Kept outputs expire: one whose bytes went before the sweep forgot it is not an error.
      if (auto bytes = from.blobs.size_of(Space::outputs, *key))
        blobs.push_back({Space::outputs, *key, *bytes, {}});
      else
        report.notes.push_back("outputs/" + *key + ": gone from the source (an expired job output): not copied");
    }
  });
  return blobs;
}

BlobCount& count_of(Report& report, Space space) {
  for (auto& c : report.blobs)
    if (c.kind == storage::space_name(space)) return c;
  return report.blobs.emplace_back(BlobCount{storage::space_name(space)});
}

std::string blob_name(const Blob& b) { return std::string(storage::space_name(b.space)) + "/" + b.key; }

/// True when the target has a blob of that key and size (its bytes are checked at the end).
bool present(BlobStore& store, const Blob& b) { return store.size_of(b.space, b.key) == b.size; }

/// The SHA-256 of a stored blob, read in pieces; nullopt when it is not there.
std::optional<std::string> hash_of(BlobStore& store, const Blob& b, Observer* observer) {
  core::Sha256 h;
  const bool found = store.read_range(b.space, b.key, 0, std::max<std::int64_t>(b.size, 1), [&](std::string_view piece) {
    h.update(piece);
    if (observer) observer->advance(0, static_cast<std::int64_t>(piece.size()));
  });
  if (!found) return std::nullopt;
  return h.hex_digest();
}

/// Streams one blob from the source store into a staging file of the
/// target, hashing it on the way, and publishes it there unless its bytes are
/// not what the source's catalog says. A problem, or "" when copied.
std::string copy_blob(BlobStore& from, BlobStore& to, const Blob& b, Observer& observer) {
  auto staged = to.create_staging();
  core::Sha256 h;
  const bool found = from.read_range(b.space, b.key, 0, std::max<std::int64_t>(b.size, 1), [&](std::string_view piece) {
    staged->write(piece.data(), piece.size());
    h.update(piece);
    observer.advance(0, static_cast<std::int64_t>(piece.size()));
  });
  if (!found) return blob_name(b) + ": missing from the source store";
  if (staged->size() != b.size)
    return blob_name(b) + ": " + std::to_string(staged->size()) + " bytes in the source store, the catalog says " +
           std::to_string(b.size);
  if (!b.sha256.empty() && h.hex_digest() != b.sha256)
    return blob_name(b) + ": damaged in the source store (its bytes do not hash to its name)";
  to.publish(*staged, b.space, b.key);
  return {};
}

std::int64_t total_bytes(const std::vector<Blob>& blobs) {
  std::int64_t n = 0;
  for (const auto& b : blobs) n += b.size;
  return n;
}

// ---- the phases --------------------------------------------------------------

/// Fills the counts of each table and refuses a target with rows the source
/// does not have; returns the rows missing from the target, per table.
std::vector<std::int64_t> check_target(Endpoints from, Endpoints to, const std::vector<const TransferTable*>& tables,
                                       const Options& options, Report& report, Observer& observer) {
  std::int64_t rows = 0;
  for (const auto* t : tables) {
    auto& c = report.tables.emplace_back(TableCount{std::string(t->name)});
    c.source = from.catalog.count_rows(*t);
    c.target_before = to.catalog.count_rows(*t);
    if (c.target_before > 0) rows += c.source + c.target_before;
  }
  observer.phase("checking the target", rows, 0);
  std::vector<std::int64_t> missing;
  std::vector<std::string> conflicts;
  std::int64_t conflicting = 0;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    auto& c = report.tables[i];
    if (c.target_before == 0) {
      missing.push_back(c.source);
      continue;
    }
    auto d = diff_table(from.catalog, to.catalog, *tables[i], options.batch, observer);
    missing.push_back(d.missing);
    conflicting += d.extra + d.different;
    for (auto& e : d.conflicts) TableDiff::example(conflicts, std::move(e));
  }
  if (conflicting > 0)
    throw TargetConflict("the target catalog holds " + std::to_string(conflicting) +
                             " rows that differ from the source's or that the source does not have",
                         std::move(conflicts));
  return missing;
}

void copy_blobs(Endpoints from, Endpoints to, const std::vector<Blob>& blobs, Report& report, Observer& observer) {
  observer.phase("copying blobs", static_cast<std::int64_t>(blobs.size()), total_bytes(blobs));
  for (const auto& b : blobs) {
    auto& c = count_of(report, b.space);
    if (present(to.blobs, b)) {
      observer.advance(1, b.size);
      continue;
    }
    if (auto problem = copy_blob(from.blobs, to.blobs, b, observer); !problem.empty()) {
      report.problems.push_back(problem);
    } else {
      ++c.copied;
      c.copied_bytes += b.size;
    }
    observer.advance(1, 0);
  }
}

void copy_rows(Endpoints from, Endpoints to, const std::vector<const TransferTable*>& tables, const Options& options,
               Report& report, Observer& observer) {
  std::int64_t rows = 0;
  for (const auto& c : report.tables) rows += c.source;
  observer.phase("copying rows", rows, 0);
  for (std::size_t i = 0; i < tables.size(); ++i) {
    for_each_batch(from.catalog, *tables[i], options.batch, [&](const std::vector<TableRow>& batch) {
      report.tables[i].copied += to.catalog.import_rows(*tables[i], batch);
      observer.advance(static_cast<std::int64_t>(batch.size()), 0);
    });
  }
}

void verify(Endpoints from, Endpoints to, const std::vector<const TransferTable*>& tables,
            const std::vector<Blob>& blobs, const Options& options, Report& report, Observer& observer) {
  std::int64_t rows = 0;
  for (const auto& c : report.tables) rows += c.source + c.target_before + c.copied;
  observer.phase("verifying", rows + static_cast<std::int64_t>(blobs.size()), total_bytes(blobs));
  for (std::size_t i = 0; i < tables.size(); ++i) {
    auto d = diff_table(from.catalog, to.catalog, *tables[i], options.batch, observer);
    report.tables[i].target = d.target;
    if (d.missing + d.extra + d.different == 0) continue;
    std::string line = "table " + report.tables[i].table + ": " + std::to_string(d.source) + " rows in the source, " +
                       std::to_string(d.target) + " in the target (" + std::to_string(d.missing) + " missing, " +
                       std::to_string(d.extra) + " extra, " + std::to_string(d.different) + " different)";
    for (const auto& e : d.conflicts) line += "; " + e;
    for (const auto& e : d.absent) line += "; " + e;
    report.problems.push_back(line);
  }
  for (const auto& b : blobs) {
    const auto actual = hash_of(to.blobs, b, &observer);
    const auto expected = b.sha256.empty() ? hash_of(from.blobs, b, nullptr) : std::optional<std::string>(b.sha256);
    observer.advance(1, 0);
    if (!actual) report.problems.push_back(blob_name(b) + ": missing from the target store");
    else if (expected && *actual != *expected)
      report.problems.push_back(blob_name(b) + ": SHA-256 in the target store is " + *actual + ", expected " + *expected);
    else ++count_of(report, b.space).verified;
  }
}

void count_blobs(const std::vector<Blob>& blobs, Report& report) {
  for (const auto& b : blobs) {
    auto& c = count_of(report, b.space);
    ++c.count;
    c.bytes += b.size;
  }
}

/// What a dry run reports: the rows and blobs the target lacks.
void plan_only(Endpoints to, const std::vector<Blob>& blobs, const std::vector<std::int64_t>& missing,
               Report& report, Observer& observer) {
  for (std::size_t i = 0; i < missing.size(); ++i) report.tables[i].copied = missing[i];
  observer.phase("checking blobs", static_cast<std::int64_t>(blobs.size()), 0);
  for (const auto& b : blobs) {
    if (!present(to.blobs, b)) {
      auto& c = count_of(report, b.space);
      ++c.copied;
      c.copied_bytes += b.size;
    }
    observer.advance(1, 0);
  }
}

}  // namespace

Report run(Endpoints from, Endpoints to, const Options& options, Observer& observer) {
  Report report;
  const auto tables = tables_to_copy(options);
  const auto missing = check_target(from, to, tables, options, report, observer);
  for (auto space : {Space::originals, Space::working, Space::derivatives, Space::outputs})
    if (space != Space::derivatives || options.derivatives) count_of(report, space);
  if (std::all_of(report.tables.begin(), report.tables.end(), [](auto& t) { return t.source == 0; }))
    report.notes.push_back("the source catalog holds nothing: is it the installation's catalog?");
  const auto blobs = blobs_named(from, options, report);
  count_blobs(blobs, report);
  if (options.dry_run) {
    plan_only(to, blobs, missing, report, observer);
    return report;
  }
  to.blobs.sweep_staging();  // what a run cut off left
  // Blobs first, as an upload stores them: a row never names bytes the target lacks.
  copy_blobs(from, to, blobs, report, observer);
  copy_rows(from, to, tables, options, report, observer);
  verify(from, to, tables, blobs, options, report, observer);
  report.already_complete = std::all_of(report.tables.begin(), report.tables.end(), [](auto& t) { return t.copied == 0; }) &&
                            std::all_of(report.blobs.begin(), report.blobs.end(), [](auto& b) { return b.copied == 0; });
  return report;
}

}  // namespace progimage::copy
