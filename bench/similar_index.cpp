// Similar-image queries at scale: similar::SimilarIndex (multi-index hashing)
// against a linear popcount scan over the same hashes, in one process, one
// query at a time. Prints Markdown tables: load time and memory, query
// latency percentiles per size, layout and distance, how p99 grows from the
// smallest to the largest size, a search with crop guesses (31 hashes at
// once, as the service asks), and the same at 4..8 substrings.
// Every index answer is checked against the scan; a difference fails the run.
//   similar_index [queries per case, default 2000] [sizes..., default 100000 1000000]
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/id.hpp"
#include "similar/similar_index.hpp"

namespace similar = progimage::similar;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kLimit = 10;  // the API's default page of similar images
constexpr int kDistances[] = {5, 10, 16};
constexpr int kTenants = 10;

/// How the stored hashes spread: uniformly, or in families of near-duplicates
/// (each a centre and copies up to 12 bits away), as a real catalog has them.
enum class Layout { uniform, clustered };

struct Case {
  std::size_t size;
  Layout layout;
  int tenants;  // queries ask for tenant 0's images
};

const char* name(Layout l) { return l == Layout::uniform ? "uniform" : "clustered"; }

/// Flips exactly `count` distinct bits.
std::uint64_t at_distance(std::uint64_t hash, int count, std::mt19937_64& rng) {
  std::uint64_t mask = 0;
  while (std::popcount(mask) < count) mask |= std::uint64_t{1} << (rng() % 64);
  return hash ^ mask;
}

std::vector<similar::Entry> make_entries(const Case& c, std::mt19937_64& rng) {
  std::vector<similar::Entry> entries;
  entries.reserve(c.size);
  std::vector<std::uint64_t> centres;
  if (c.layout == Layout::clustered)
    for (std::size_t i = 0; i < c.size / 20; ++i) centres.push_back(rng());
  for (std::size_t i = 0; i < c.size; ++i) {
    const std::uint64_t hash = c.layout == Layout::uniform
                                   ? rng()
                                   : at_distance(centres[rng() % centres.size()], static_cast<int>(rng() % 13), rng);
    entries.push_back({progimage::core::new_id(), "tenant-" + std::to_string(i % c.tenants), hash});
  }
  return entries;
}

/// The reference answer: every stored hash compared with every hash of the
/// search (nearest counts), sorted as the index sorts.
std::vector<similar::Match> scan(const std::vector<similar::Entry>& entries, const std::vector<std::uint64_t>& hashes,
                                 const std::vector<std::uint64_t>& search, const std::string& tenant, int max_distance) {
  std::vector<similar::Match> all;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    int d = 65;
    for (const auto h : search) d = std::min(d, std::popcount(hashes[i] ^ h));
    if (d <= max_distance && entries[i].tenant == tenant) all.push_back({entries[i].id, d});
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.distance != b.distance ? a.distance < b.distance : a.id < b.id; });
  if (all.size() > kLimit) all.resize(kLimit);
  return all;
}

/// Half the queries are stored images' hashes moved by up to `max_distance`
/// bits (a near-duplicate must be found), half random hashes (mostly misses).
std::vector<std::uint64_t> make_queries(const std::vector<similar::Entry>& entries, int tenants, int max_distance,
                                        std::size_t count, std::mt19937_64& rng) {
  std::vector<std::uint64_t> queries;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 2 == 1) {
      queries.push_back(rng());
      continue;
    }
    const std::size_t of_tenant0 = (rng() % (entries.size() / tenants)) * tenants;
    queries.push_back(at_distance(entries[of_tenant0].hash, static_cast<int>(rng() % (max_distance + 1)), rng));
  }
  return queries;
}

struct Latency {
  double p50 = 0, p99 = 0, max = 0;  // milliseconds
};

Latency percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  return {at(0.50), at(0.99), ms.back()};
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct Measured {
  Latency index, linear;
  std::size_t found_planted = 0, planted = 0;
};

/// Runs the searches (each one or more hashes of one image) through the index
/// (all of them) and the scan (a sample, it is slow at 10^6); every sampled
/// answer must equal the scan's.
Measured measure(const similar::SimilarIndex& index, const std::vector<similar::Entry>& entries,
                 const std::vector<std::uint64_t>& hashes, const std::vector<std::vector<std::uint64_t>>& searches,
                 int max_distance, bool& wrong) {
  const std::string tenant = "tenant-0";
  const std::size_t scan_every = std::max<std::size_t>(1, entries.size() / 50'000);
  Measured m;
  std::vector<double> index_ms, linear_ms;
  for (std::size_t i = 0; i < searches.size(); ++i) {
    const auto start = Clock::now();
    const auto got = index.query(searches[i], tenant, max_distance, kLimit);
    index_ms.push_back(ms_since(start));
    if (i % 2 == 0) {
      ++m.planted;
      m.found_planted += got.empty() ? 0 : 1;
    }
    if (i % scan_every != 0) continue;
    const auto scan_start = Clock::now();
    const auto want = scan(entries, hashes, searches[i], tenant, max_distance);
    linear_ms.push_back(ms_since(scan_start));
    if (got != want) {
      std::fprintf(stderr, "WRONG: search from %016llx at %d: index %zu matches, scan %zu\n",
                   static_cast<unsigned long long>(searches[i].front()), max_distance, got.size(), want.size());
      wrong = true;
    }
  }
  m.index = percentiles(index_ms);
  m.linear = percentiles(linear_ms);
  return m;
}

/// One hash per search.
std::vector<std::vector<std::uint64_t>> single(const std::vector<std::uint64_t>& queries) {
  std::vector<std::vector<std::uint64_t>> out;
  for (const auto q : queries) out.push_back({q});
  return out;
}

constexpr int kSearchHashes = 31;  // imaging::similarity_hashes: the image and 30 crop guesses

/// Each query hash with 30 guesses 4 to 16 bits from it, as crop guesses lie.
std::vector<std::vector<std::uint64_t>> with_crop_guesses(const std::vector<std::uint64_t>& queries,
                                                          std::mt19937_64& rng) {
  std::vector<std::vector<std::uint64_t>> out;
  for (const auto q : queries) {
    std::vector<std::uint64_t> search = {q};
    while (search.size() < kSearchHashes) search.push_back(at_distance(q, 4 + static_cast<int>(rng() % 13), rng));
    out.push_back(std::move(search));
  }
  return out;
}

struct Loaded {
  std::vector<similar::Entry> entries;
  std::vector<std::uint64_t> hashes;
  double load_ms = 0;
  std::size_t memory = 0, resident = 0;
};

Loaded load(similar::SimilarIndex& index, const Case& c, std::mt19937_64& rng) {
  Loaded l;
  l.entries = make_entries(c, rng);
  for (const auto& e : l.entries) l.hashes.push_back(e.hash);
  auto copy = l.entries;  // load() takes its entries, as the server's start does
  const std::size_t before = resident_bytes();
  const auto start = Clock::now();
  index.load(std::move(copy));
  l.load_ms = ms_since(start);
  l.resident = resident_bytes() - std::min(before, resident_bytes());
  l.memory = index.memory_bytes();
  return l;
}

int run(std::size_t queries, const std::vector<std::size_t>& sizes) {
  std::mt19937_64 rng(20261203);
  bool wrong = false;
  std::map<std::string, double> p99_by_case;  // "layout tenants d" at each size, for the growth table

  std::printf("| hashes | layout | tenants | load | index memory (RSS growth) | distance | p50 | p99 | max | linear p50 | linear p99 | "
              "p99 speed-up | planted found |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::size_t size : sizes)
    for (const Layout layout : {Layout::uniform, Layout::clustered})
      for (const int tenants : {1, kTenants}) {
        const Case c{size, layout, tenants};
        similar::SimilarIndex index;
        const Loaded l = load(index, c, rng);
        for (const int d : kDistances) {
          const auto qs = make_queries(l.entries, tenants, d, queries, rng);
          const Measured m = measure(index, l.entries, l.hashes, single(qs), d, wrong);
          std::printf("| %zu | %s | %d | %.0f ms | %.1f MB (%.1f MB) | %d | %.3f ms | %.3f ms | %.3f ms | %.2f ms | %.2f ms | "
                      "%.0f× | %zu/%zu |\n",
                      size, name(layout), tenants, l.load_ms, l.memory / 1e6, l.resident / 1e6, d, m.index.p50, m.index.p99,
                      m.index.max, m.linear.p50, m.linear.p99, m.linear.p99 / m.index.p99, m.found_planted,
                      m.planted);
          p99_by_case[std::string(name(layout)) + " " + std::to_string(tenants) + " " + std::to_string(d) + " " +
                      std::to_string(size)] = m.index.p99;
        }
        std::fflush(stdout);
      }

  if (sizes.size() >= 2) {
    const std::size_t small = sizes.front(), large = sizes.back();
    std::printf("\nGrowth of p99 from %zu to %zu hashes (linear would be %.0f×):\n\n"
                "| layout | tenants | distance | p99 ratio |\n|---|---:|---:|---:|\n",
                small, large, double(large) / double(small));
    for (const Layout layout : {Layout::uniform, Layout::clustered})
      for (const int tenants : {1, kTenants})
        for (const int d : kDistances) {
          const std::string key = std::string(name(layout)) + " " + std::to_string(tenants) + " " + std::to_string(d) + " ";
          std::printf("| %s | %d | %d | %.2f× |\n", name(layout), tenants, d,
                      p99_by_case[key + std::to_string(large)] / p99_by_case[key + std::to_string(small)]);
        }
  }

  // What one API search asks: an image's 31 similarity hashes (its own and its
  // crop guesses, which lie some bits away from it) in one query at distance 10.
  std::printf("\nOne search with %d hashes (an image and its crop guesses) at distance 10:\n\n"
              "| hashes | layout | tenants | p50 | p99 | max | linear p99 | planted found |\n"
              "|---:|---|---:|---:|---:|---:|---:|---:|\n",
              kSearchHashes);
  for (const std::size_t size : sizes)
    for (const Layout layout : {Layout::uniform, Layout::clustered}) {
      const Case c{size, layout, kTenants};
      similar::SimilarIndex index;
      const Loaded l = load(index, c, rng);
      const auto qs = make_queries(l.entries, kTenants, 10, queries, rng);
      const Measured m = measure(index, l.entries, l.hashes, with_crop_guesses(qs, rng), 10, wrong);
      std::printf("| %zu | %s | %d | %.3f ms | %.3f ms | %.3f ms | %.2f ms | %zu/%zu |\n", size, name(layout), kTenants,
                  m.index.p50, m.index.p99, m.index.max, m.linear.p99, m.found_planted, m.planted);
      std::fflush(stdout);
    }

  // The header's choice of 4 substrings, checked at the largest size.
  std::printf("\nSubstrings at %zu uniform hashes, one tenant:\n\n| substrings | load | memory | distance | p50 | p99 |\n"
              "|---:|---:|---:|---:|---:|---:|\n",
              sizes.back());
  for (int m = 4; m <= 8; ++m) {
    similar::SimilarIndex index(m);
    const Loaded l = load(index, {sizes.back(), Layout::uniform, 1}, rng);
    for (const int d : {5, 10}) {
      const auto qs = make_queries(l.entries, 1, d, queries, rng);
      const Measured r = measure(index, l.entries, l.hashes, single(qs), d, wrong);
      std::printf("| %d | %.0f ms | %.1f MB | %d | %.3f ms | %.3f ms |\n", m, l.load_ms, l.memory / 1e6, d, r.index.p50,
                  r.index.p99);
    }
    std::fflush(stdout);
  }
  if (wrong) std::fprintf(stderr, "the index and the linear scan disagreed (see WRONG lines)\n");
  return wrong ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t queries = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 2000;
  std::vector<std::size_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {100'000, 1'000'000};
  if (queries < 2 || std::any_of(sizes.begin(), sizes.end(), [](std::size_t s) { return s < kTenants * 10; })) {
    std::fprintf(stderr, "usage: %s [queries per case >= 2] [sizes >= 100...]\n", argv[0]);
    return 2;
  }
  return run(queries, sizes);
}
