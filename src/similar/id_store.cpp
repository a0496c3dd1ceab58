#include "similar/id_store.hpp"

#include <bit>
#include <functional>
#include <limits>

#include "core/error.hpp"

namespace progimage::similar::detail {

namespace {
// Below this the holes are not worth a copy.
constexpr std::size_t kMinCompaction = 1 << 16;
}  // namespace

std::size_t IdStore::bucket_of(std::string_view id) const {
  return std::hash<std::string_view>{}(id) & (buckets_.size() - 1);
}

std::optional<Slot> IdStore::find(std::string_view id) const {
  if (buckets_.empty()) return std::nullopt;
  for (std::size_t b = bucket_of(id);; b = (b + 1) & (buckets_.size() - 1)) {
    const std::uint32_t entry = buckets_[b];
    if (entry == kEmpty) return std::nullopt;
    if (this->id(entry - 1) == id) return entry - 1;
  }
}

std::string_view IdStore::id(Slot slot) const {
  const Span& s = spans_[slot];
  return std::string_view(chars_).substr(s.offset, s.length);
}

void IdStore::insert_bucket(Slot slot) {
  std::size_t b = bucket_of(id(slot));
  while (buckets_[b] != kEmpty) b = (b + 1) & (buckets_.size() - 1);
  buckets_[b] = slot + 1;
}

void IdStore::grow_buckets(std::size_t capacity) {
  buckets_.assign(std::bit_ceil(std::max<std::size_t>(capacity, 16)), kEmpty);
  for (Slot slot = 0; slot < spans_.size(); ++slot)
    if (spans_[slot].length != 0) insert_bucket(slot);
}

void IdStore::reserve(std::size_t ids, std::size_t chars) {
  chars_.reserve(chars);
  spans_.reserve(ids);
  // Load factor at most 1/2 keeps probe runs short.
  if (buckets_.size() < 2 * ids) grow_buckets(2 * ids);
}

void IdStore::assign(Slot slot, std::string_view id) {
  if (id.empty() || id.size() > std::numeric_limits<std::uint32_t>::max())
    throw core::Error(core::ErrorCode::bad_parameter, "an image id must not be empty");
  if (chars_.size() + id.size() > std::numeric_limits<std::uint32_t>::max()) compact_chars();
  if (chars_.size() + id.size() > std::numeric_limits<std::uint32_t>::max())
    throw core::Error(core::ErrorCode::overloaded, "the similar-image index is full");
  if (spans_.size() <= slot) spans_.resize(slot + 1);
  spans_[slot] = Span{static_cast<std::uint32_t>(chars_.size()), static_cast<std::uint32_t>(id.size())};
  chars_.append(id);
  ++used_;
  if (2 * used_ > buckets_.size()) {
    grow_buckets(4 * used_);
  } else {
    insert_bucket(slot);
  }
}

void IdStore::release(Slot slot) {
  const std::size_t mask = buckets_.size() - 1;
  std::size_t hole = bucket_of(id(slot));
  while (buckets_[hole] != slot + 1) hole = (hole + 1) & mask;
  // Backward-shift deletion: move later members of the probe run into the
  // hole when their home bucket allows it, so that no tombstones are needed.
  for (std::size_t next = (hole + 1) & mask; buckets_[next] != kEmpty; next = (next + 1) & mask) {
    const std::size_t home = bucket_of(id(buckets_[next] - 1));
    // `next` may move to `hole` when its home does not lie cyclically in (hole, next].
    const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
    if (stays) continue;
    buckets_[hole] = buckets_[next];
    hole = next;
  }
  buckets_[hole] = kEmpty;
  garbage_ += spans_[slot].length;
  spans_[slot] = Span{};
  --used_;
  if (garbage_ >= kMinCompaction && 2 * garbage_ > chars_.size()) compact_chars();
}

void IdStore::compact_chars() {
  std::string packed;
  packed.reserve(chars_.size() - garbage_);
  for (Span& s : spans_) {
    if (s.length == 0) continue;
    const auto offset = static_cast<std::uint32_t>(packed.size());
    packed.append(chars_, s.offset, s.length);
    s.offset = offset;
  }
  chars_ = std::move(packed);
  garbage_ = 0;
}

std::size_t IdStore::memory_bytes() const {
  return chars_.capacity() + spans_.capacity() * sizeof(Span) + buckets_.capacity() * sizeof(std::uint32_t);
}

}  // namespace progimage::similar::detail
