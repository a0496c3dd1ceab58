// SimilarIndex against a brute-force linear scan on random hashes with
// planted near neighbours, for every number of substrings; tenants, remove,
// replace, exclude, limit and order, bounds, bulk load and concurrent use.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "similar/similar_index.hpp"

namespace progimage::similar {
namespace {

// `hash` with `k` distinct random bits flipped.
std::uint64_t flip_bits(std::uint64_t hash, int k, std::mt19937_64& rng) {
  std::uint64_t mask = 0;
  while (std::popcount(mask) < k) mask |= std::uint64_t{1} << (rng() % 64);
  return hash ^ mask;
}

// What the index must answer, computed the slow way.
std::vector<Match> brute_force(const std::map<std::string, Entry>& entries, std::uint64_t hash,
                               const std::string& tenant, int max_distance, std::size_t limit,
                               const std::string& exclude = {}) {
  std::vector<Match> out;
  for (const auto& [id, e] : entries) {
    const int d = std::popcount(e.hash ^ hash);
    if (d <= max_distance && (tenant.empty() || e.tenant == tenant) && id != exclude) out.push_back({id, d});
  }
  std::sort(out.begin(), out.end(),
            [](const Match& a, const Match& b) { return a.distance != b.distance ? a.distance < b.distance : a.id < b.id; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

// Random hashes in three tenants, and clusters: a centre with neighbours at
// every distance 0..14 (two at each), which is where the answers lie.
struct Corpus {
  std::map<std::string, Entry> entries;
  std::vector<std::uint64_t> centres;
};

Corpus make_corpus(std::size_t random, std::size_t clusters, std::mt19937_64& rng) {
  static const std::string kTenants[] = {"a", "b", "c"};
  Corpus c;
  std::size_t n = 0;
  auto add = [&](std::uint64_t hash) {
    std::string id = "img" + std::to_string(n++);
    c.entries[id] = Entry{id, kTenants[rng() % 3], hash};
  };
  for (std::size_t i = 0; i < random; ++i) add(rng());
  for (std::size_t i = 0; i < clusters; ++i) {
    const std::uint64_t centre = rng();
    c.centres.push_back(centre);
    for (int d = 0; d <= 14; ++d) {
      add(flip_bits(centre, d, rng));
      add(flip_bits(centre, d, rng));
    }
  }
  return c;
}

std::vector<Entry> as_vector(const std::map<std::string, Entry>& entries) {
  std::vector<Entry> out;
  for (const auto& [id, e] : entries) out.push_back(e);
  return out;
}

class SimilarIndexBySubstrings : public ::testing::TestWithParam<int> {};

TEST_P(SimilarIndexBySubstrings, AnswersWhatALinearScanAnswers) {
  std::mt19937_64 rng(42 + GetParam());
  const Corpus corpus = make_corpus(20'000, 60, rng);
  SimilarIndex index(GetParam());
  index.load(as_vector(corpus.entries));
  ASSERT_EQ(index.size(), corpus.entries.size());

  int queries = 0;
  std::size_t matches = 0;
  for (int r : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 20, 32, 64}) {
    for (std::size_t i = 0; i < corpus.centres.size(); i += 3) {
      // Near a centre (a few bits off it) or anywhere at all.
      const std::uint64_t q = i % 2 == 0 ? flip_bits(corpus.centres[i], static_cast<int>(rng() % 4), rng) : rng();
      for (const std::string tenant : {"", "a", "b"}) {
        const std::size_t limit = r >= 20 ? 25 : 1000;
        const auto expected = brute_force(corpus.entries, q, tenant, r, limit);
        ASSERT_EQ(index.query(q, tenant, r, limit), expected) << "r=" << r << " tenant=" << tenant;
        matches += expected.size();
        ++queries;
      }
    }
  }
  EXPECT_EQ(queries, 18 * 20 * 3);
  EXPECT_GT(matches, 5'000u);  // the planted neighbours were there to be found
}

INSTANTIATE_TEST_SUITE_P(Substrings, SimilarIndexBySubstrings, ::testing::Values(4, 5, 6, 7, 8));

// Several hashes of one image (its crop guesses): each entry once, at its
// nearest distance to any of them — through the tables (small distances)
// and through the scan the index prefers for large ones.
TEST(SimilarIndex, SeveralQueryHashesAnswerEachEntryOnceAtItsNearest) {
  std::mt19937_64 rng(7);
  const Corpus corpus = make_corpus(20'000, 40, rng);
  SimilarIndex index;
  index.load(as_vector(corpus.entries));
  std::size_t merged = 0;
  for (int r : {0, 3, 6, 10, 16, 32}) {
    for (std::size_t i = 0; i < corpus.centres.size(); ++i) {
      // Two guesses near two different centres, and one anywhere.
      const std::vector<std::uint64_t> hashes = {flip_bits(corpus.centres[i], 2, rng),
                                                 flip_bits(corpus.centres[(i + 1) % corpus.centres.size()], 1, rng),
                                                 flip_bits(corpus.centres[i], 5, rng), rng()};
      std::map<std::string, int> nearest;
      for (const auto h : hashes)
        for (const auto& m : brute_force(corpus.entries, h, "a", r, corpus.entries.size())) {
          auto [it, fresh] = nearest.emplace(m.id, m.distance);
          if (!fresh) it->second = std::min(it->second, m.distance);
        }
      std::vector<Match> expected;
      for (const auto& [id, d] : nearest) expected.push_back({id, d});
      std::sort(expected.begin(), expected.end(), [](const Match& a, const Match& b) {
        return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
      });
      if (expected.size() > 50) expected.resize(50);
      ASSERT_EQ(index.query(hashes, "a", r, 50), expected) << "r=" << r;
      merged += expected.size();
    }
  }
  EXPECT_GT(merged, 1'000u);
  EXPECT_TRUE(index.query(std::vector<std::uint64_t>{}, "a", 10, 10).empty());
}

TEST(SimilarIndex, EntriesAddedOneByOneAnswerAsALoadedIndexDoes) {
  std::mt19937_64 rng(5);
  const Corpus corpus = make_corpus(5'000, 30, rng);
  SimilarIndex loaded, inserted;
  loaded.load(as_vector(corpus.entries));
  for (const auto& [id, e] : corpus.entries) inserted.insert(e.id, e.tenant, e.hash);
  for (std::uint64_t centre : corpus.centres)
    for (int r : {3, 10, 12}) EXPECT_EQ(inserted.query(centre, "", r, 100), loaded.query(centre, "", r, 100));
}

TEST(SimilarIndex, NeverAnswersWithAnotherTenantsEntry) {
  SimilarIndex index;
  const std::uint64_t h = 0x0123456789abcdefULL;
  index.insert("mine", "a", h);
  index.insert("theirs", "b", h);
  index.insert("theirs-near", "b", h ^ 1);
  EXPECT_EQ(index.query(h, "a", 10, 10), (std::vector<Match>{{"mine", 0}}));
  EXPECT_EQ(index.query(h, "b", 10, 10), (std::vector<Match>{{"theirs", 0}, {"theirs-near", 1}}));
  EXPECT_TRUE(index.query(h, "nobody", 64, 10).empty());
  // Also on the linear path of a wide radius.
  EXPECT_EQ(index.query(h, "a", 64, 10), (std::vector<Match>{{"mine", 0}}));
  // The empty tenant is every tenant's.
  EXPECT_EQ(index.query(h, "", 10, 10).size(), 3u);
}

TEST(SimilarIndex, RemoveTakesAnEntryOutAndItsSlotServesTheNext) {
  SimilarIndex index;
  index.insert("x", "a", 0xff);
  index.insert("y", "a", 0xfe);
  EXPECT_TRUE(index.remove("x"));
  EXPECT_FALSE(index.remove("x"));
  EXPECT_FALSE(index.find("x"));
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.query(0xff, "", 64, 10), (std::vector<Match>{{"y", 1}}));
  index.insert("z", "b", 0xff);
  EXPECT_EQ(index.query(0xff, "", 10, 10), (std::vector<Match>{{"z", 0}, {"y", 1}}));
  EXPECT_EQ(index.find("z")->tenant, "b");
}

TEST(SimilarIndex, InsertingAnIdAgainReplacesItsHashAndTenant) {
  SimilarIndex index;
  index.insert("x", "a", 0);
  index.insert("x", "b", ~std::uint64_t{0});
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.query(0, "", 10, 10).empty());
  EXPECT_TRUE(index.query(~std::uint64_t{0}, "a", 10, 10).empty());
  EXPECT_EQ(index.query(~std::uint64_t{0}, "b", 10, 10), (std::vector<Match>{{"x", 0}}));
  const auto e = index.find("x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->hash, ~std::uint64_t{0});
}

TEST(SimilarIndex, LeavesTheExcludedImageOut) {
  SimilarIndex index;
  index.insert("self", "a", 0x1234);
  index.insert("copy", "a", 0x1235);
  EXPECT_EQ(index.query(0x1234, "a", 10, 10, "self"), (std::vector<Match>{{"copy", 1}}));
  EXPECT_EQ(index.query(0x1234, "a", 64, 10, "self"), (std::vector<Match>{{"copy", 1}}));
  EXPECT_EQ(index.query(0x1234, "a", 10, 10, "unknown").size(), 2u);
}

TEST(SimilarIndex, LimitKeepsTheNearestAndEqualDistancesGoById) {
  SimilarIndex index;
  const std::uint64_t h = 0xf0f0f0f0f0f0f0f0ULL;
  index.insert("d3", "a", h ^ 0x7);
  index.insert("c0", "a", h);
  index.insert("b1", "a", h ^ 0x100);
  index.insert("a1", "a", h ^ 0x1);
  index.insert("e2", "a", h ^ 0x3);
  EXPECT_EQ(index.query(h, "a", 10, 3), (std::vector<Match>{{"c0", 0}, {"a1", 1}, {"b1", 1}}));
  EXPECT_EQ(index.query(h, "a", 10, 100),
            (std::vector<Match>{{"c0", 0}, {"a1", 1}, {"b1", 1}, {"e2", 2}, {"d3", 3}}));
  EXPECT_TRUE(index.query(h, "a", 10, 0).empty());
}

TEST(SimilarIndex, MaxDistanceBoundsAreInclusiveAndOutsideZeroTo64IsBadParameter) {
  SimilarIndex index;
  index.insert("zero", "a", 0);
  index.insert("ten", "a", (std::uint64_t{1} << 10) - 1);
  index.insert("eleven", "a", (std::uint64_t{1} << 11) - 1);
  index.insert("all", "a", ~std::uint64_t{0});
  EXPECT_EQ(index.query(0, "a", 0, 10), (std::vector<Match>{{"zero", 0}}));
  EXPECT_EQ(index.query(0, "a", 10, 10), (std::vector<Match>{{"zero", 0}, {"ten", 10}}));
  EXPECT_EQ(index.query(0, "a", 64, 10).size(), 4u);
  for (int bad : {-1, 65, 1000}) {
    try {
      (void)index.query(0, "a", bad, 10);
      ADD_FAILURE() << bad << " accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    }
  }
}

TEST(SimilarIndex, RefusesAnEmptyIdAndSubstringCountsOutside4To8) {
  SimilarIndex index;
  EXPECT_THROW(index.insert("", "a", 1), core::Error);
  EXPECT_THROW(index.load({Entry{"", "a", 1}}), core::Error);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_THROW(SimilarIndex(3), core::Error);
  EXPECT_THROW(SimilarIndex(9), core::Error);
}

TEST(SimilarIndex, LoadReplacesEverythingAndALaterDuplicateWins) {
  SimilarIndex index;
  index.insert("old", "a", 5);
  index.load({Entry{"x", "a", 1}, Entry{"y", "b", 2}, Entry{"x", "c", 3}});
  EXPECT_EQ(index.size(), 2u);
  EXPECT_FALSE(index.find("old"));
  const auto x = index.find("x");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->tenant, "c");
  EXPECT_EQ(x->hash, 3u);
  EXPECT_EQ(index.query(3, "c", 0, 10), (std::vector<Match>{{"x", 0}}));
  EXPECT_TRUE(index.query(1, "", 0, 10).empty());
  // Inserts after a load go on from it.
  index.insert("z", "a", 3);
  EXPECT_EQ(index.query(3, "", 0, 10), (std::vector<Match>{{"x", 0}, {"z", 0}}));
}

TEST(SimilarIndex, QueriesStayCorrectWhileOtherThreadsInsertAndRemove) {
  std::mt19937_64 rng(9);
  SimilarIndex index;
  std::vector<Entry> base;
  for (int i = 0; i < 20'000; ++i) base.push_back(Entry{"r" + std::to_string(i), "a", rng()});
  // Stable pairs: never touched by the writers, always to be found.
  std::vector<std::uint64_t> stable;
  for (int i = 0; i < 50; ++i) {
    stable.push_back(rng());
    base.push_back(Entry{"s" + std::to_string(i), "a", flip_bits(stable.back(), 3, rng)});
  }
  index.load(base);

  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, queries{0};
  auto reader = [&](int seed) {
    std::mt19937_64 r(seed);
    while (!stop) {
      const std::size_t i = r() % stable.size();
      const auto found = index.query(stable[i], "a", 10, 50);
      const std::string want = "s" + std::to_string(i);
      if (std::none_of(found.begin(), found.end(), [&](const Match& m) { return m.id == want; })) ++wrong;
      // A writer's entries belong to tenant "w": never in tenant a's answers.
      if (std::any_of(found.begin(), found.end(), [](const Match& m) { return m.id[0] == 'w'; })) ++wrong;
      ++queries;
    }
  };
  auto writer = [&](int seed) {
    while (queries < 100) std::this_thread::yield();  // readers first, in full flow
    std::mt19937_64 r(seed);
    for (int round = 0; round < 20'000; ++round) {
      const std::string id = "w" + std::to_string(seed) + "-" + std::to_string(r() % 500);
      if (r() % 3 == 0) {
        index.remove(id);
      } else {
        // Close to a stable hash, so that writes land in the buckets being read.
        index.insert(id, "w", flip_bits(stable[r() % stable.size()], 2, r));
      }
    }
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) readers.emplace_back(reader, 100 + t);
  const auto start = std::chrono::steady_clock::now();
  std::thread w1(writer, 1), w2(writer, 2);
  w1.join();
  w2.join();
  const auto writing = std::chrono::steady_clock::now() - start;
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(queries.load(), 100);
  // Writers go before queries that arrive after them: 40,000 writes take well
  // under a second here, and took about 50 s with a reader-preferring lock.
  EXPECT_LT(writing, std::chrono::seconds(10));
  // The writers' entries are each there or not, as their last operation left them.
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(index.find("s" + std::to_string(i)));
  EXPECT_GE(index.size(), base.size());
}

}  // namespace
}  // namespace progimage::similar
