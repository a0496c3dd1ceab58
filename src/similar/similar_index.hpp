#pragma once
// Stored images whose perceptual hashes lie near a query hash: the index
// behind "similar images". Multi-index hashing (Norouzi, Punjani and Fleet,
// "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012): the
// 64 bits are cut into substrings, each indexed in its own table; a query
// looks up the substrings' near neighbours and verifies the candidates with
// popcount. Entries belong to tenants and a query never crosses them.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "similar/id_store.hpp"
#include "similar/writer_first_mutex.hpp"

namespace progimage::similar {

/// One stored image: its id, its tenant and the 64-bit perceptual hash that
/// imaging computes (`phash` of the image's metadata).
struct Entry {
  std::string id;
  std::string tenant;
  std::uint64_t hash = 0;
};

/// A stored image near the query; `distance` is the Hamming distance of the hashes.
struct Match {
  std::string id;
  int distance = 0;
  bool operator==(const Match&) const = default;
};

/// The largest Hamming distance between two 64-bit hashes.
inline constexpr int kMaxDistance = 64;
/// Substrings per hash: 4 of 16 bits measured fastest at 10^5 and 10^6
/// random hashes for distances up to 10 (bench/RESULTS.md).
inline constexpr int kDefaultSubstrings = 4;

/// Thread-safe: queries run concurrently with each other (shared lock);
/// insert, remove and load take the lock exclusively (load only to swap in
/// what it built), ahead of queries that arrive after them.
class SimilarIndex {
 public:
  /// `substrings` (4..8) tables, one per part of the hash. Throws core::Error
  /// bad_parameter outside that range (fewer parts make tables too large).
  explicit SimilarIndex(int substrings = kDefaultSubstrings);

  /// Adds an entry; an id already present is replaced (hash and tenant).
  /// Throws core::Error bad_parameter for an empty id.
  void insert(std::string id, std::string tenant, std::uint64_t hash);
  /// Removes an entry; false when the id was not there.
  bool remove(const std::string& id);
  /// Replaces the whole content by `entries` (a later duplicate id wins), as
  /// at start from the catalog. Queries keep running on the old content
  /// while the new one is built.
  void load(std::vector<Entry> entries);

  std::size_t size() const;
  std::optional<Entry> find(const std::string& id) const;

  /// Entries within `max_distance` of `hash`, nearest first, equal distances
  /// by id, at most `limit`. Only `tenant`'s entries, or every tenant's when
  /// `tenant` is empty. `exclude_id` (the image asked about) is left out.
  /// Throws core::Error bad_parameter when max_distance is outside 0..64.
  std::vector<Match> query(std::uint64_t hash, const std::string& tenant, int max_distance,
                           std::size_t limit, const std::string& exclude_id = {}) const;
  /// The same for several hashes of one image (imaging::similarity_hashes):
  /// an entry's distance is its nearest to any of them, and it comes once.
  std::vector<Match> query(std::span<const std::uint64_t> hashes, const std::string& tenant, int max_distance,
                           std::size_t limit, const std::string& exclude_id = {}) const;

  /// Approximate heap bytes held, for metrics and the benchmark.
  std::size_t memory_bytes() const;

 private:
  using Slot = detail::Slot;
  struct Hit {
    Slot slot;
    int distance;
  };
  /// One substring of the hash and its table: bucket `key` lists the slots
  /// whose hash has that value in bits [shift, shift + bits).
  struct Table {
    int shift = 0;
    int bits = 0;
    std::vector<std::vector<Slot>> buckets;
    std::uint32_t key(std::uint64_t hash) const {
      return static_cast<std::uint32_t>((hash >> shift) & ((std::uint64_t{1} << bits) - 1));
    }
  };
  /// Everything behind the lock, so that load() can build a new one aside.
  struct Content {
    std::vector<Table> tables;
    std::vector<std::uint64_t> hashes;  // by slot
    std::vector<std::uint32_t> tenant;  // by slot: index into tenant_names, kFree when unused
    detail::IdStore ids;
    std::vector<Slot> free;  // unused slots, reused first
    std::vector<std::string> tenant_names;
    std::unordered_map<std::string, std::uint32_t> tenant_index;
    std::size_t live = 0;
  };
  static constexpr std::uint32_t kFree = 0xffffffff;
  static constexpr std::uint32_t kAnyTenant = 0xfffffffe;
  static constexpr int kMaxSubstrings = 8;
  /// Per table, the substring distance a query searches within (-1: none).
  using Radii = std::array<int, kMaxSubstrings>;

  static Content empty_content(int substrings);
  static std::uint32_t intern_tenant(Content& c, std::string tenant);
  static void link(Content& c, Slot slot);
  static void unlink(Content& c, Slot slot);
  static Radii radii(const Content& c, int max_distance);
  static bool scan_is_cheaper(const Content& c, const Radii& radii);

  template <class Accept>
  void search_tables(std::uint64_t hash, int max_distance, const Radii& radii,
                     const Accept& accept, std::vector<Hit>& hits) const;
  template <class Accept>
  void scan(std::span<const std::uint64_t> hashes, int max_distance, const Accept& accept,
            std::vector<Hit>& hits) const;
  static void keep_nearest_per_slot(std::vector<Hit>& hits);

  int substrings_;
  mutable detail::WriterFirstMutex mutex_;
  Content content_;
};

}  // namespace progimage::similar
