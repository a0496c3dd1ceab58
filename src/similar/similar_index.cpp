#include "similar/similar_index.hpp"

#include <algorithm>
#include <bit>
#include <mutex>
#include <shared_mutex>

#include "core/error.hpp"

namespace progimage::similar {

namespace {

using core::Error;
using core::ErrorCode;

// A probe of a bucket or a candidate check is a random memory access; a scan
// of one entry is sequential. Roughly this many scanned entries cost as much
// as one probe (measured in bench_similar; the choice only matters for wide
// radii, where both ways take about the same time).
constexpr double kRandomAccessCost = 8;

// Calls f(k) for every k of `bits` bits within Hamming distance `radius` of
// `key`, each once: bits are flipped in increasing positions only.
template <class F>
void for_each_within(std::uint32_t key, int bits, int radius, int from, const F& f) {
  f(key);
  if (radius == 0) return;
  for (int b = from; b < bits; ++b) for_each_within(key ^ (std::uint32_t{1} << b), bits, radius - 1, b + 1, f);
}

// How many keys of `bits` bits lie within `radius` of one: sum of C(bits, k).
double ball_size(int bits, int radius) {
  double total = 0, choose = 1;
  for (int k = 0; k <= radius; ++k) {
    total += choose;
    choose = choose * (bits - k) / (k + 1);
  }
  return total;
}

int popcount(std::uint64_t v) { return std::popcount(v); }

}  // namespace

SimilarIndex::SimilarIndex(int substrings) : substrings_(substrings), content_(empty_content(substrings)) {}

SimilarIndex::Content SimilarIndex::empty_content(int substrings) {
  if (substrings < 4 || substrings > kMaxSubstrings)
    throw Error(ErrorCode::bad_parameter, "the similar-image index takes 4 to 8 substrings");
  Content c;
  // 64 bits in `substrings` parts as equal as can be, the wider ones first.
  int shift = 0;
  for (int j = 0; j < substrings; ++j) {
    Table t;
    t.bits = 64 / substrings + (j < 64 % substrings ? 1 : 0);
    t.shift = shift;
    t.buckets.resize(std::size_t{1} << t.bits);
    shift += t.bits;
    c.tables.push_back(std::move(t));
  }
  return c;
}

std::uint32_t SimilarIndex::intern_tenant(Content& c, std::string tenant) {
  if (auto it = c.tenant_index.find(tenant); it != c.tenant_index.end()) return it->second;
  const auto index = static_cast<std::uint32_t>(c.tenant_names.size());
  c.tenant_names.push_back(tenant);
  c.tenant_index.emplace(std::move(tenant), index);
  return index;
}

void SimilarIndex::link(Content& c, Slot slot) {
  for (Table& t : c.tables) t.buckets[t.key(c.hashes[slot])].push_back(slot);
}

void SimilarIndex::unlink(Content& c, Slot slot) {
  for (Table& t : c.tables) {
    auto& bucket = t.buckets[t.key(c.hashes[slot])];
    auto it = std::find(bucket.begin(), bucket.end(), slot);
    *it = bucket.back();
    bucket.pop_back();
  }
}

void SimilarIndex::insert(std::string id, std::string tenant, std::uint64_t hash) {
  if (id.empty()) throw Error(ErrorCode::bad_parameter, "an image id must not be empty");
  std::unique_lock lock(mutex_);
  Content& c = content_;
  const std::uint32_t t = intern_tenant(c, std::move(tenant));
  if (const auto slot = c.ids.find(id)) {
    unlink(c, *slot);
    c.hashes[*slot] = hash;
    c.tenant[*slot] = t;
    link(c, *slot);
    return;
  }
  Slot slot;
  if (!c.free.empty()) {
    slot = c.free.back();
    c.free.pop_back();
  } else {
    slot = static_cast<Slot>(c.hashes.size());
    c.hashes.push_back(0);
    c.tenant.push_back(kFree);
  }
  c.ids.assign(slot, id);
  c.hashes[slot] = hash;
  c.tenant[slot] = t;
  link(c, slot);
  ++c.live;
}

bool SimilarIndex::remove(const std::string& id) {
  std::unique_lock lock(mutex_);
  Content& c = content_;
  const auto slot = c.ids.find(id);
  if (!slot) return false;
  unlink(c, *slot);
  c.ids.release(*slot);
  c.tenant[*slot] = kFree;
  c.free.push_back(*slot);
  --c.live;
  return true;
}

void SimilarIndex::load(std::vector<Entry> entries) {
  Content c = empty_content(substrings_);
  std::size_t chars = 0;
  for (const Entry& e : entries) {
    if (e.id.empty()) throw Error(ErrorCode::bad_parameter, "an image id must not be empty");
    chars += e.id.size();
  }
  c.ids.reserve(entries.size(), chars);
  c.hashes.reserve(entries.size());
  c.tenant.reserve(entries.size());
  for (Entry& e : entries) {
    const std::uint32_t t = intern_tenant(c, std::move(e.tenant));
    if (const auto slot = c.ids.find(e.id)) {  // a later duplicate wins
      c.hashes[*slot] = e.hash;
      c.tenant[*slot] = t;
      continue;
    }
    const auto slot = static_cast<Slot>(c.hashes.size());
    c.ids.assign(slot, e.id);
    c.hashes.push_back(e.hash);
    c.tenant.push_back(t);
  }
  entries = {};
  c.live = c.hashes.size();
  // Buckets sized exactly before they are filled: no regrowth, no slack.
  for (Table& t : c.tables) {
    std::vector<std::uint32_t> counts(t.buckets.size(), 0);
    for (std::uint64_t h : c.hashes) ++counts[t.key(h)];
    for (std::size_t k = 0; k < counts.size(); ++k) t.buckets[k].reserve(counts[k]);
  }
  for (Slot slot = 0; slot < c.hashes.size(); ++slot) link(c, slot);

  std::unique_lock lock(mutex_);
  std::swap(content_, c);
  lock.unlock();
  // The old content is freed here, outside the lock.
}

std::size_t SimilarIndex::size() const {
  std::shared_lock lock(mutex_);
  return content_.live;
}

std::optional<Entry> SimilarIndex::find(const std::string& id) const {
  std::shared_lock lock(mutex_);
  const Content& c = content_;
  const auto slot = c.ids.find(id);
  if (!slot) return std::nullopt;
  return Entry{id, c.tenant_names[c.tenant[*slot]], c.hashes[*slot]};
}

SimilarIndex::Radii SimilarIndex::radii(const Content& c, int max_distance) {
  // With r = q*m + a (0 <= a < m), a hash within r of the query is within q
  // of it on one of the first a+1 substrings or within q-1 on one of the
  // others: otherwise the distance would be at least (a+1)(q+1) + (m-a-1)q = r+1.
  const int m = static_cast<int>(c.tables.size());
  const int q = max_distance / m, a = max_distance % m;
  Radii r;
  r.fill(-1);
  for (int j = 0; j < m; ++j) r[j] = j <= a ? q : q - 1;
  return r;
}

bool SimilarIndex::scan_is_cheaper(const Content& c, const Radii& radii) {
  double work = 0;
  for (std::size_t j = 0; j < c.tables.size(); ++j) {
    if (radii[j] < 0) continue;
    const int bits = c.tables[j].bits;
    const double probes = ball_size(bits, radii[j]);
    const double candidates = probes * static_cast<double>(c.live) / static_cast<double>(std::uint64_t{1} << bits);
    work += probes + candidates;
  }
  return kRandomAccessCost * work >= static_cast<double>(c.live);
}

template <class Accept>
void SimilarIndex::search_tables(std::uint64_t hash, int max_distance, const Radii& radii, const Accept& accept,
                                 std::vector<Hit>& hits) const {
  const Content& c = content_;
  for (std::size_t j = 0; j < c.tables.size(); ++j) {
    if (radii[j] < 0) continue;
    const Table& table = c.tables[j];
    for_each_within(table.key(hash), table.bits, radii[j], 0, [&](std::uint32_t key) {
      for (const Slot slot : table.buckets[key]) {
        const std::uint64_t diff = c.hashes[slot] ^ hash;
        const int distance = popcount(diff);
        if (distance > max_distance || !accept(slot)) continue;
        // Counted by the first table that reaches it, so each match comes once.
        bool earlier = false;
        for (std::size_t i = 0; i < j && !earlier; ++i)
          earlier = radii[i] >= 0 && popcount(c.tables[i].key(diff)) <= radii[i];
        if (!earlier) hits.push_back(Hit{slot, distance});
      }
    });
  }
}

template <class Accept>
void SimilarIndex::scan(std::span<const std::uint64_t> hashes, int max_distance, const Accept& accept,
                        std::vector<Hit>& hits) const {
  const Content& c = content_;
  for (Slot slot = 0; slot < c.hashes.size(); ++slot) {
    int distance = kMaxDistance + 1;
    for (const std::uint64_t hash : hashes) distance = std::min(distance, popcount(c.hashes[slot] ^ hash));
    if (distance <= max_distance && c.tenant[slot] != kFree && accept(slot)) hits.push_back(Hit{slot, distance});
  }
}

std::vector<Match> SimilarIndex::query(std::uint64_t hash, const std::string& tenant, int max_distance,
                                       std::size_t limit, const std::string& exclude_id) const {
  return query(std::span<const std::uint64_t>(&hash, 1), tenant, max_distance, limit, exclude_id);
}

std::vector<Match> SimilarIndex::query(std::span<const std::uint64_t> hashes, const std::string& tenant,
                                       int max_distance, std::size_t limit, const std::string& exclude_id) const {
  if (max_distance < 0 || max_distance > kMaxDistance)
    throw Error(ErrorCode::bad_parameter, "max_distance must be 0 to 64");
  if (hashes.empty()) return {};
  std::shared_lock lock(mutex_);
  const Content& c = content_;
  std::uint32_t wanted = kAnyTenant;
  if (!tenant.empty()) {
    const auto it = c.tenant_index.find(tenant);
    if (it == c.tenant_index.end()) return {};
    wanted = it->second;
  }
  const auto excluded = exclude_id.empty() ? std::nullopt : c.ids.find(exclude_id);
  const Slot skip = excluded ? *excluded : kFree;
  const auto accept = [&](Slot slot) {
    return slot != skip && (wanted == kAnyTenant || c.tenant[slot] == wanted);
  };

  std::vector<Hit> hits;
  const Radii r = radii(c, max_distance);
  if (scan_is_cheaper(c, r)) {
    scan(hashes, max_distance, accept, hits);
  } else {
    for (const std::uint64_t hash : hashes) search_tables(hash, max_distance, r, accept, hits);
    if (hashes.size() > 1) keep_nearest_per_slot(hits);
  }

  const auto nearer = [&](const Hit& x, const Hit& y) {
    if (x.distance != y.distance) return x.distance < y.distance;
    return c.ids.id(x.slot) < c.ids.id(y.slot);
  };
  const std::size_t n = std::min(limit, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n), hits.end(), nearer);
  std::vector<Match> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(Match{std::string(c.ids.id(hits[i].slot)), hits[i].distance});
  return out;
}

// Several query hashes reach the same entry: it counts once, at its nearest.
void SimilarIndex::keep_nearest_per_slot(std::vector<Hit>& hits) {
  std::sort(hits.begin(), hits.end(), [](const Hit& x, const Hit& y) {
    return x.slot != y.slot ? x.slot < y.slot : x.distance < y.distance;
  });
  hits.erase(std::unique(hits.begin(), hits.end(), [](const Hit& x, const Hit& y) { return x.slot == y.slot; }),
             hits.end());
}

std::size_t SimilarIndex::memory_bytes() const {
  std::shared_lock lock(mutex_);
  const Content& c = content_;
  std::size_t bytes = c.hashes.capacity() * sizeof(std::uint64_t) + c.tenant.capacity() * sizeof(std::uint32_t) +
                      c.free.capacity() * sizeof(Slot) + c.ids.memory_bytes();
  for (const Table& t : c.tables) {
    bytes += t.buckets.capacity() * sizeof(std::vector<Slot>);
    for (const auto& b : t.buckets) bytes += b.capacity() * sizeof(Slot);
  }
  return bytes;
}

}  // namespace progimage::similar
