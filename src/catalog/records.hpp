#pragma once
// Records in and out of a catalog, for every engine: the column lists that
// SELECT and RETURNING clauses name, the mapping of such a row to a record,
// and what a record becomes before it is inserted.
#include <cstdint>
#include <string>

#include "catalog/catalog.hpp"
#include "catalog/row.hpp"
#include "core/image.hpp"

namespace progimage::catalog {

// Each column list is read by the function after it, in its order. Images
// need the engine's JSON aggregates: their columns come from image_columns()
// (image_sql.hpp).

/// The columns of image `i`, then its tags as a JSON array and its variants
/// as a JSON object (name -> status).
core::ImageRecord read_image(const Row& row);

/// On `derivatives`.
extern const std::string kDerivativeColumns;
DerivativeRecord read_derivative(const Row& row);

/// On `jobs`.
extern const std::string kJobColumns;
JobRecord read_job(const Row& row);

/// On `job_items`: one result of a job.
extern const std::string kItemResultColumns;
ItemResult read_item_result(const Row& row);

/// On `job_items`: an item as handed to a worker (without its job's spec).
extern const std::string kClaimedItemColumns;
ClaimedItem read_claimed_item(const Row& row);

/// On `image_variants`.
extern const std::string kWorkingCopyColumns;
/// The integrity check's query for working copies whose bytes no image has (their sha256).
inline constexpr const char* kOrphanWorkingCopies =
    "SELECT w.sha256 FROM working_copies w WHERE NOT EXISTS (SELECT 1 FROM images i WHERE i.sha256 = w.sha256)";
WorkingCopyRecord read_working_copy(const Row& row);

extern const std::string kVariantColumns;
VariantState read_variant(const Row& row);

/// On `api_keys`.
extern const std::string kApiKeyColumns;
ApiKeyRecord read_api_key(const Row& row);

/// The seven usage counters from column `first` on, in UsageCounts' order.
UsageCounts read_usage_counts(const Row& row, int first);

/// An item that has just ended: what else its outcome changes (its job, or
/// the variant it made).
struct FinishedItem {
  std::string job_id;  // empty for variant items
  ItemKind kind = ItemKind::image;
  std::string source;   // image id or URL
  std::string variant;  // preset name, for variant items
};
/// On `job_items`, for the RETURNING clause of the UPDATE that ends an item.
extern const std::string kFinishedItemColumns;
FinishedItem read_finished_item(const Row& row);
FinishedItem finished_item(const ClaimedItem& item);

/// `image` as insert_image() stores it: a new id and the current time when
/// they are empty, metadata_json "{}" when empty, tags normalised
/// (core::normalize_tags), every variant "pending". Throws
/// std::invalid_argument for an empty sha256 or a metadata_json that is not
/// a JSON object (records are built by the program: that is a bug).
core::ImageRecord image_for_insert(core::ImageRecord image);

/// `spec` as create_job() stores it: a new id when empty, created_at from
/// `now_ms` when 0, at least one attempt.
JobSpec job_spec_for_insert(JobSpec spec, std::int64_t now_ms);

}  // namespace progimage::catalog
