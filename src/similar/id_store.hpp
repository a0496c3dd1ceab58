#pragma once
// The image ids of the similar-image index, packed: every id's characters in
// one buffer, found by id through an open-addressing table of slot numbers.
// About 30 bytes per 22-character id instead of ~100 for a map of strings.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::similar::detail {

/// A position in the index's per-entry arrays.
using Slot = std::uint32_t;

/// Maps slots to ids and ids to slots. Not thread-safe (SimilarIndex locks).
class IdStore {
 public:
  /// Gives `slot` the id `id`. The slot must have none and the id must be new.
  void assign(Slot slot, std::string_view id);
  /// Forgets the id of `slot` (which must have one).
  void release(Slot slot);
  /// The slot holding `id`, if any.
  std::optional<Slot> find(std::string_view id) const;
  /// The id of an assigned slot; valid until the next assign or release.
  std::string_view id(Slot slot) const;

  std::size_t size() const { return used_; }
  /// Prepares for `ids` ids of about `chars` characters in all.
  void reserve(std::size_t ids, std::size_t chars);
  std::size_t memory_bytes() const;

 private:
  struct Span {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;  // 0: the slot has no id (ids are never empty)
  };
  static constexpr std::uint32_t kEmpty = 0;  // in buckets_, else slot + 1

  std::size_t bucket_of(std::string_view id) const;
  void insert_bucket(Slot slot);
  void grow_buckets(std::size_t capacity);
  void compact_chars();

  std::string chars_;         // the ids back to back, with holes left by release()
  std::vector<Span> spans_;   // by slot
  std::vector<std::uint32_t> buckets_;  // linear probing, power-of-two size
  std::size_t used_ = 0;      // assigned slots
  std::size_t garbage_ = 0;   // characters of released ids still in chars_
};

}  // namespace progimage::similar::detail
