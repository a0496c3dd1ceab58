#pragma once
// Similar images: the stored images whose perceptual hash lies near a given
// one, within one tenant. Every node keeps the index in memory: built from
// the catalog at start, kept current by this node's uploads and deletes,
// and caught up with other nodes' uploads by refresh(). The catalog stays the
// truth: a match whose record is gone (deleted elsewhere) is dropped.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "core/image.hpp"
#include "core/tenant.hpp"
#include "similar/similar_index.hpp"

namespace progimage::service {

/// How near and how many: `max_distance` is the Hamming distance of the
/// 64-bit hashes (a resized, recompressed, slightly cropped or recoloured
/// copy lies within 10).
struct SimilarQuery {
  int max_distance = 10;
  int limit = 10;
};
inline constexpr int kMaxSimilarDistance = 32;  // beyond it, unrelated images match by chance
inline constexpr int kMaxSimilarLimit = 100;
/// Throws core::Error(bad_parameter) naming what is out of range.
void check_similar_query(const SimilarQuery& query);

struct SimilarImage {
  core::ImageRecord image;
  int distance = 0;
};

class SimilarImages {
 public:
  explicit SimilarImages(catalog::Catalog& catalog) : catalog_(catalog) {}

  /// Loads every stored hash; queries answer from the old content meanwhile.
  void rebuild();
  /// Adds the images stored (by any node) since the last rebuild or refresh.
  void refresh();
  /// A new image of this node (one without a hash is not indexed).
  void added(const core::ImageRecord& image);
  void removed(const std::string& id) { index_.remove(id); }

  /// The images of `tenant` near any of `hashes` (one image's, from
  /// imaging::similarity_hashes), nearest first, leaving out `exclude_id`.
  /// The query must have passed check_similar_query().
  std::vector<SimilarImage> near(const std::string& tenant, std::span<const std::uint64_t> hashes,
                                 const SimilarQuery& query, const std::string& exclude_id = {});
  /// The hash the index holds for a stored image (older rows have it only
  /// in their metadata, which the index read).
  std::optional<std::uint64_t> hash_of(const std::string& id) const;
  std::size_t size() const { return index_.size(); }

 private:
  /// Reads the catalog's hashes of images created at or after `since`.
  std::vector<similar::Entry> scan(std::int64_t since);
  /// Where the next refresh starts reading: a little before the last read
  /// began, since an image's creation time is taken before its commit.
  void mark_read(std::int64_t started);

  catalog::Catalog& catalog_;
  similar::SimilarIndex index_;
  std::atomic<std::int64_t> next_since_{0};
};

}  // namespace progimage::service
