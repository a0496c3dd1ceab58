#include "service/similar_images.hpp"

#include "core/error.hpp"
#include "core/time.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

// Longer than any upload takes from its creation time to its commit.
constexpr std::int64_t kCommitMarginSeconds = 120;

}  // namespace

void check_similar_query(const SimilarQuery& q) {
  if (q.max_distance < 0 || q.max_distance > kMaxSimilarDistance)
    throw Error(ErrorCode::bad_parameter,
                "max_distance must be 0 to " + std::to_string(kMaxSimilarDistance) + ", got " +
                    std::to_string(q.max_distance));
  if (q.limit < 1 || q.limit > kMaxSimilarLimit)
    throw Error(ErrorCode::bad_parameter,
                "limit must be 1 to " + std::to_string(kMaxSimilarLimit) + ", got " + std::to_string(q.limit));
}

std::vector<similar::Entry> SimilarImages::scan(std::int64_t since) {
  std::vector<similar::Entry> entries;
  catalog_.scan_image_hashes(since, [&entries](catalog::ImageHash&& h) {
    entries.push_back(similar::Entry{std::move(h.id), std::move(h.tenant), h.phash});
  });
  return entries;
}

void SimilarImages::mark_read(std::int64_t started) { next_since_.store(started - kCommitMarginSeconds); }

void SimilarImages::rebuild() {
  const auto started = core::unix_now();
  index_.load(scan(0));
  mark_read(started);
}

void SimilarImages::refresh() {
  const auto started = core::unix_now();
  for (auto& e : scan(next_since_.load())) index_.insert(std::move(e.id), std::move(e.tenant), e.hash);
  mark_read(started);
}

void SimilarImages::added(const core::ImageRecord& image) {
  if (image.phash) index_.insert(image.id, image.tenant, *image.phash);
}

std::optional<std::uint64_t> SimilarImages::hash_of(const std::string& id) const {
  auto entry = index_.find(id);
  if (!entry) return std::nullopt;
  return entry->hash;
}

std::vector<SimilarImage> SimilarImages::near(const std::string& tenant, std::span<const std::uint64_t> hashes,
                                              const SimilarQuery& query, const std::string& exclude_id) {
  std::vector<SimilarImage> out;
  for (auto& match : index_.query(hashes, tenant, query.max_distance, static_cast<std::size_t>(query.limit), exclude_id)) {
    auto rec = catalog_.get_image(match.id);
    if (!rec) {
      index_.remove(match.id);  // deleted by another node
      continue;
    }
    out.push_back(SimilarImage{std::move(*rec), match.distance});
  }
  return out;
}

}  // namespace progimage::service
