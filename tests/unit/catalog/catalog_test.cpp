// Catalog behaviour, written against the Catalog interface only: every test
// runs once per backend in CatalogFactories (catalog_factories.hpp). What only
// a SQLite file shows is in sqlite_catalog_test.cpp; the job queue is in
// jobs_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "catalog/catalog.hpp"
#include "catalog_factories.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

using namespace progimage;
using namespace progimage::catalog;
using namespace progimage::catalog::test_support;

namespace {

template <class Factory>
class CatalogTest : public CatalogFixture<Factory> {};
TYPED_TEST_SUITE(CatalogTest, CatalogFactories, FactoryName);

}  // namespace

TYPED_TEST(CatalogTest, InsertAndGetRoundTripEveryField) {
  Catalog& c = this->catalog();
  auto img = make_image();
  img.format = "png";
  img.frames = 3;
  img.has_alpha = true;
  img.size = 5'000'000'000;  // beyond 32 bits
  img.description = "A day at the #beach";
  img.tags = {"Beach", " sea ", "beach"};
  img.camera_make = "Canon";
  img.camera_model = "Canon EOS 20D";
  img.focus = core::FocusPoint{0.25, 0.75};
  img.metadata_json = R"({"phash":"abcd","exif":{"iso":100}})";

  auto res = c.insert_image(img);
  EXPECT_FALSE(res.duplicate);
  EXPECT_EQ(res.image.tags, (std::vector<std::string>{"beach", "sea"}));

  auto got = c.get_image(img.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, img.id);
  EXPECT_EQ(got->sha256, img.sha256);
  EXPECT_EQ(got->format, "png");
  EXPECT_EQ(got->width, 640);
  EXPECT_EQ(got->height, 480);
  EXPECT_EQ(got->size, 5'000'000'000);
  EXPECT_EQ(got->frames, 3);
  EXPECT_TRUE(got->has_alpha);
  EXPECT_EQ(got->created_at, img.created_at);
  EXPECT_EQ(got->name, "photo.jpg");
  EXPECT_EQ(got->description, "A day at the #beach");
  EXPECT_EQ(got->tags, (std::vector<std::string>{"beach", "sea"}));
  EXPECT_EQ(got->camera_make, "Canon");
  EXPECT_EQ(got->camera_model, "Canon EOS 20D");
  ASSERT_TRUE(got->focus);
  EXPECT_DOUBLE_EQ(got->focus->x, 0.25);
  EXPECT_DOUBLE_EQ(got->focus->y, 0.75);
  EXPECT_EQ(got->metadata_json, img.metadata_json);

  EXPECT_FALSE(c.get_image("missing"));
  EXPECT_FALSE(c.get_image(""));
}

TYPED_TEST(CatalogTest, InsertFillsDefaultsAndValidates) {
  Catalog& c = this->catalog();
  auto img = make_image(0);
  img.id.clear();
  auto res = c.insert_image(img);
  EXPECT_TRUE(core::looks_like_id(res.image.id));
  EXPECT_GT(res.image.created_at, 1600000000);
  EXPECT_EQ(c.get_image(res.image.id)->metadata_json, "{}");
  EXPECT_FALSE(c.get_image(res.image.id)->focus);

  auto bad = make_image();
  bad.metadata_json = "[1,2]";
  EXPECT_THROW(c.insert_image(bad), std::invalid_argument);
  bad.metadata_json = "{";
  EXPECT_THROW(c.insert_image(bad), std::invalid_argument);
  bad.metadata_json.clear();
  bad.sha256.clear();
  EXPECT_THROW(c.insert_image(bad), std::invalid_argument);
}

TYPED_TEST(CatalogTest, DuplicateBytesReturnTheExistingImage) {
  Catalog& c = this->catalog();
  auto first = make_image();
  first.name = "first.jpg";
  c.insert_image(first);
  auto second = first;
  second.id = core::new_id();
  second.name = "second.jpg";
  auto res = c.insert_image(second);
  EXPECT_TRUE(res.duplicate);
  EXPECT_EQ(res.image.id, first.id);
  EXPECT_EQ(res.image.name, "first.jpg");
  EXPECT_FALSE(c.get_image(second.id));
  EXPECT_EQ(search(c, {}).size(), 1u);
}

// Nodes share the rate limits by counting the API nodes that beat lately:
// a worker node does not count, a silent node is forgotten, a stopped one leaves.
TYPED_TEST(CatalogTest, NodesThatBeatLatelyAreCounted) {
  Catalog& c = this->catalog();
  EXPECT_EQ(c.beat_node("a", true, 1000, 985), 1);
  EXPECT_EQ(c.beat_node("b", true, 1001, 986), 2);
  EXPECT_EQ(c.beat_node("w", false, 1002, 987), 2) << "a worker node serves no API";
  EXPECT_EQ(c.beat_node("a", true, 1005, 990), 2) << "a beat again is the same node";
  EXPECT_EQ(c.beat_node("a", true, 1017, 1002), 1) << "b has been silent for three beats";
  c.remove_node("a");
  EXPECT_EQ(c.beat_node("w", false, 1018, 1003), 0);
}

// The similar-image index is built from this scan: every hashed image of
// every tenant, the hash's 64 bits intact, and only the recent ones for a refresh.
TYPED_TEST(CatalogTest, ScanImageHashesGivesEveryHashedImageSince) {
  Catalog& c = this->catalog();
  auto old = make_image(1000);
  old.phash = 0xffd8a0000000000fULL;  // the top bit set: stored as a negative integer
  auto recent = make_image(2000);
  recent.phash = 42;
  recent.tenant = "other";
  auto unhashed = make_image(3000);
  for (const auto& img : {old, recent, unhashed}) c.insert_image(img);

  auto scan = [&c](std::int64_t since) {
    std::map<std::string, std::pair<std::string, std::uint64_t>> seen;
    c.scan_image_hashes(since, [&](ImageHash&& h) { seen[h.id] = {h.tenant, h.phash}; });
    return seen;
  };
  auto all = scan(0);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(all[old.id], std::make_pair(std::string("default"), std::uint64_t{0xffd8a0000000000fULL}));
  EXPECT_EQ(all[recent.id], std::make_pair(std::string("other"), std::uint64_t{42}));
  auto since = scan(2000);
  EXPECT_EQ(since.size(), 1u);
  EXPECT_TRUE(since.count(recent.id));
  c.delete_image(recent.id);
  EXPECT_FALSE(scan(0).count(recent.id));
}

// Several threads upload the same bytes at the same moment: one row, and
// everyone else learns its id.
TYPED_TEST(CatalogTest, DedupeRaceInsertsExactlyOneRow) {
  Catalog& c = this->catalog();
  constexpr int kRounds = 25, kThreads = 4;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<core::ImageRecord> copies(kThreads, make_image(1700000000 + round));
    for (auto& img : copies) img.id = core::new_id();
    const auto results = run_together(kThreads, [&](int t) { return c.insert_image(copies[t]); });
    int fresh = 0;
    std::set<std::string> ids;
    for (const auto& r : results) {
      fresh += r.duplicate ? 0 : 1;
      ids.insert(r.image.id);
    }
    EXPECT_EQ(fresh, 1) << "round " << round;
    EXPECT_EQ(ids.size(), 1u) << "round " << round;
  }
  EXPECT_EQ(search(c, {}).size(), static_cast<std::size_t>(kRounds));
}

TYPED_TEST(CatalogTest, UpdateReplacesOnlyGivenFields) {
  Catalog& c = this->catalog();
  auto img = make_image();
  img.description = "old words";
  img.tags = {"a", "b"};
  img.focus = core::FocusPoint{0.1, 0.2};
  c.insert_image(img);

  ImagePatch tags_only;
  tags_only.tags = std::vector<std::string>{" Zebra", "APPLE", "zebra"};
  auto up = c.update_image(img.id, tags_only);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->tags, (std::vector<std::string>{"apple", "zebra"}));
  EXPECT_EQ(up->description, "old words");
  ASSERT_TRUE(up->focus);

  ImagePatch desc_and_focus;
  desc_and_focus.description = "sunsets everywhere";
  desc_and_focus.focus = std::optional<core::FocusPoint>{};  // clear
  up = c.update_image(img.id, desc_and_focus);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->description, "sunsets everywhere");
  EXPECT_FALSE(up->focus);
  EXPECT_EQ(up->tags, (std::vector<std::string>{"apple", "zebra"}));

  ImagePatch set_focus;
  set_focus.focus = core::FocusPoint{0.5, 1.0};
  EXPECT_DOUBLE_EQ(c.update_image(img.id, set_focus)->focus->y, 1.0);

  // The full-text index follows the description.
  EXPECT_EQ(search(c, {.text = "sunset"}), std::vector<std::string>{img.id});
  EXPECT_TRUE(search(c, {.text = "old"}).empty());
  EXPECT_EQ(search(c, {.tags = {"APPLE"}}), std::vector<std::string>{img.id});
  EXPECT_TRUE(search(c, {.tags = {"a"}}).empty());

  EXPECT_FALSE(c.update_image("missing", tags_only));
  EXPECT_EQ(c.integrity_check(), "ok");
}

TYPED_TEST(CatalogTest, DeleteRemovesRowTagsTextAndDerivatives) {
  Catalog& c = this->catalog();
  auto img = make_image();
  img.tags = {"beach"};
  img.description = "sunset";
  auto other = make_image();
  other.tags = {"beach"};
  c.insert_image(img);
  c.insert_image(other);
  c.put_derivative(make_derivative("d2", img.sha256, 10, 1));
  c.put_derivative(make_derivative("d1", img.sha256, 10, 1));
  c.put_derivative(make_derivative("d3", other.sha256, 10, 1));

  auto res = c.delete_image(img.id);
  EXPECT_TRUE(res.found);
  EXPECT_TRUE(res.blob_unreferenced);
  EXPECT_EQ(res.sha256, img.sha256);
  EXPECT_EQ(res.derivative_keys, (std::vector<std::string>{"d1", "d2"}));

  EXPECT_FALSE(c.get_image(img.id));
  EXPECT_FALSE(c.get_derivative("d1"));
  EXPECT_TRUE(c.get_derivative("d3"));
  EXPECT_EQ(search(c, {.tags = {"beach"}}), std::vector<std::string>{other.id});
  EXPECT_TRUE(search(c, {.text = "sunset"}).empty());
  EXPECT_EQ(c.integrity_check(), "ok");

  auto again = c.delete_image(img.id);
  EXPECT_FALSE(again.found);
  EXPECT_FALSE(again.blob_unreferenced);
  EXPECT_TRUE(again.derivative_keys.empty());

  // The same bytes can be uploaded again afterwards, as a new image.
  auto back = img;
  back.id = core::new_id();
  EXPECT_FALSE(c.insert_image(back).duplicate);
}

TYPED_TEST(CatalogTest, ListsNewestFirstAndFilters) {
  Catalog& c = this->catalog();
  auto a = make_image(100, "a.jpg");
  a.tags = {"beach", "sea"};
  a.camera_model = "iPhone 8 Plus";
  auto b = make_image(200, "b.png");
  b.format = "png";
  b.tags = {"city"};
  b.camera_model = "Canon EOS 20D";
  auto d = make_image(300, "d.jpg");
  d.tags = {"sea"};
  auto e = make_image(300, "e.jpg");  // same second as d: id breaks the tie
  for (auto* img : {&a, &b, &d, &e}) c.insert_image(*img);

  const std::string hi = std::max(d.id, e.id), lo = std::min(d.id, e.id);
  EXPECT_EQ(search(c, {}), (std::vector<std::string>{hi, lo, b.id, a.id}));

  EXPECT_EQ(sorted(search(c, {.tags = {"beach", "city"}})), sorted({a.id, b.id}));  // OR
  EXPECT_EQ(search(c, {.tags = {"sea"}}), (std::vector<std::string>{d.id, a.id}));
  EXPECT_TRUE(search(c, {.tags = {"nothing"}}).empty());
  EXPECT_TRUE(search(c, {.tags = {std::string(101, 'x')}}).empty());  // longer than any tag can be
  EXPECT_EQ(search(c, {.tags = {std::string(101, 'x'), "city"}}), std::vector<std::string>{b.id});
  EXPECT_EQ(search(c, {.tags = {" "}}).size(), 4u);  // a blank tag filters nothing
  EXPECT_EQ(search(c, {.format = "png"}), std::vector<std::string>{b.id});
  EXPECT_EQ(search(c, {.format = "PNG"}), std::vector<std::string>{b.id});
  EXPECT_EQ(search(c, {.camera = "iphone 8 plus"}), std::vector<std::string>{a.id});
  EXPECT_EQ(search(c, {.camera = "CANON EOS 20D"}), std::vector<std::string>{b.id});
  EXPECT_TRUE(search(c, {.camera = "Canon"}).empty());  // the whole model, not a prefix
  EXPECT_EQ(search(c, {.from = 200, .to = 200}), std::vector<std::string>{b.id});  // inclusive
  EXPECT_EQ(search(c, {.from = 201}), (std::vector<std::string>{hi, lo}));
  EXPECT_EQ(search(c, {.to = 199}), std::vector<std::string>{a.id});
  EXPECT_EQ(search(c, {.tags = {"sea"}, .format = "jpeg", .from = 150}), std::vector<std::string>{d.id});
  EXPECT_EQ(search(c, {.text = "png"}), std::vector<std::string>{b.id});  // the name is searched too
}

TYPED_TEST(CatalogTest, FullTextSearchStemsAndFoldsDiacritics) {
  Catalog& c = this->catalog();
  auto a = make_image(1, "IMG_0001.jpg");
  a.description = "Sunsets over the sea";
  auto b = make_image(2, "sunset_beach-photo.jpg");
  auto d = make_image(3, "breakfast.jpg");
  d.description = "Café crème, running late";
  for (auto* img : {&a, &b, &d}) c.insert_image(*img);

  EXPECT_EQ(sorted(search(c, {.text = "sunset"})), sorted({a.id, b.id}));
  EXPECT_EQ(sorted(search(c, {.text = "SUNSETS"})), sorted({a.id, b.id}));
  EXPECT_EQ(search(c, {.text = "beach"}), std::vector<std::string>{b.id});
  EXPECT_EQ(search(c, {.text = "cafe"}), std::vector<std::string>{d.id});
  EXPECT_EQ(search(c, {.text = "run"}), std::vector<std::string>{d.id});
  EXPECT_EQ(search(c, {.text = "sunset sea"}), std::vector<std::string>{a.id});  // all words
  EXPECT_TRUE(search(c, {.text = "sunset moon"}).empty());
  EXPECT_EQ(search(c, {.text = "   "}).size(), 3u);  // blank text filters nothing
}

TYPED_TEST(CatalogTest, FullTextSearchTreatsAnyTextAsWords) {
  Catalog& c = this->catalog();
  auto a = make_image(1, "sunset.jpg");
  c.insert_image(a);
  for (std::string text : {"\"", "a\"b", "AND", "OR NOT", "*", "name:foo", "NEAR(a b)", "(", ")", "-",
                           "^sunset", "'", "\\", "sunset\"", "\"sunset", "{name}: x", "a + b", "sunset*",
                           "NOT sunset", "\x01\x02", "\xff\xfe", "'; DROP TABLE images; --"}) {
    EXPECT_NO_THROW(c.list_images({.text = text})) << text;
  }
  // Syntax characters are ignored, operators are plain words.
  EXPECT_EQ(search(c, {.text = "sunset\""}), std::vector<std::string>{a.id});
  EXPECT_EQ(search(c, {.text = "^sunset"}), std::vector<std::string>{a.id});
  EXPECT_TRUE(search(c, {.text = "sunset OR nothing"}).empty());
  EXPECT_TRUE(search(c, {.text = "NOT sunset"}).empty());
  EXPECT_TRUE(c.get_image(a.id));
}

TYPED_TEST(CatalogTest, LimitIsClampedAndPagesCarryACursor) {
  Catalog& c = this->catalog();
  for (int i = 0; i < 1003; ++i) c.insert_image(make_image(1000 + i));
  auto one = c.list_images({.limit = 0});
  EXPECT_EQ(one.images.size(), 1u);
  EXPECT_FALSE(one.next_cursor.empty());
  auto max = c.list_images({.limit = 5000});
  EXPECT_EQ(max.images.size(), 1000u);
  auto rest = c.list_images({.limit = 5000, .cursor = max.next_cursor});
  EXPECT_EQ(rest.images.size(), 3u);
  EXPECT_TRUE(rest.next_cursor.empty());
  EXPECT_EQ(rest.images.back().created_at, 1000);
  // A page that ends exactly at the last row says so.
  auto exact = c.list_images({.limit = 3, .cursor = max.next_cursor});
  EXPECT_EQ(exact.images.size(), 3u);
  EXPECT_TRUE(exact.next_cursor.empty());
}

TYPED_TEST(CatalogTest, BadCursorIsABadParameter) {
  Catalog& c = this->catalog();
  for (std::string bad : {"!!!", "bm9jb2xvbg", "%%%"}) {
    try {
      c.list_images({.cursor = bad});
      ADD_FAILURE() << "no error for " << bad;
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    }
  }
}

// Pages walked while other uploads arrive (newer, older and in the same
// second as the cursor) never repeat an image and never skip one that was
// there when the walk began.
TYPED_TEST(CatalogTest, CursorPagesAreStableUnderConcurrentInserts) {
  Catalog& c = this->catalog();
  std::vector<std::string> original;
  for (int i = 0; i < 30; ++i) original.push_back(c.insert_image(make_image(1000 + i / 3)).image.id);

  std::vector<core::ImageRecord> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = c.list_images({.limit = 4, .cursor = cursor});
    ASSERT_LE(page.images.size(), 4u);
    seen.insert(seen.end(), page.images.begin(), page.images.end());
    cursor = page.next_cursor;
    if (!page.images.empty()) {
      c.insert_image(make_image(5000));                            // newer: before the walk
      c.insert_image(make_image(page.images.back().created_at));  // same second as the cursor
      c.insert_image(make_image(10));                              // older: later in the walk
    }
    ASSERT_LT(++pages, 100);
  } while (!cursor.empty());

  std::set<std::string> unique;
  for (const auto& img : seen) EXPECT_TRUE(unique.insert(img.id).second) << "repeated " << img.id;
  for (const auto& id : original) EXPECT_TRUE(unique.count(id)) << "skipped " << id;
  for (std::size_t k = 1; k < seen.size(); ++k) {
    EXPECT_TRUE(std::tie(seen[k - 1].created_at, seen[k - 1].id) > std::tie(seen[k].created_at, seen[k].id));
  }
}

TYPED_TEST(CatalogTest, DerivativeIndexRoundTrip) {
  Catalog& c = this->catalog();
  EXPECT_EQ(c.derivative_bytes(), 0);
  EXPECT_FALSE(c.get_derivative("k1"));
  auto d = make_derivative("k1", "sha-a", 100, 50);
  c.put_derivative(d);
  auto got = c.get_derivative("k1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->sha256, "sha-a");
  EXPECT_EQ(got->params, "w=100");
  EXPECT_EQ(got->format, "webp");
  EXPECT_EQ(got->width, 100);
  EXPECT_EQ(got->height, 50);
  EXPECT_EQ(got->size, 100);
  EXPECT_EQ(got->created_at, 1000);
  EXPECT_EQ(got->last_used_at, 50);

  d.size = 250;  // upsert replaces
  c.put_derivative(d);
  EXPECT_EQ(c.get_derivative("k1")->size, 250);
  c.put_derivative(make_derivative("k2", "sha-a", 10, 50));
  c.put_derivative(make_derivative("k3", "sha-b", 5, 50));
  EXPECT_EQ(c.derivative_bytes(), 265);
  auto list = c.list_derivatives("default", "sha-a");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(c.list_derivatives("default", "sha-zzz").empty());

  EXPECT_EQ(c.remove_derivatives("default", "sha-a"), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_TRUE(c.remove_derivatives("default", "sha-a").empty());
  EXPECT_EQ(c.derivative_bytes(), 5);
}

// Persisted touches: SqliteCatalog.TouchesArePersisted.
TYPED_TEST(CatalogTest, TouchesAreSeenAtOnce) {
  Catalog& c = this->catalog();
  c.put_derivative(make_derivative("k1", "s", 1, 10));
  c.touch_derivative("k1", 500);
  c.touch_derivative("k1", 400);  // never moves backwards
  EXPECT_EQ(c.get_derivative("k1")->last_used_at, 500);
  EXPECT_EQ(c.list_derivatives("default", "s").at(0).last_used_at, 500);
  c.touch_derivative("missing", 600);  // harmless
}

TYPED_TEST(CatalogTest, EvictsLeastRecentlyUsedFirst) {
  Catalog& c = this->catalog();
  c.put_derivative(make_derivative("a", "s", 100, 10));
  c.put_derivative(make_derivative("b", "s", 100, 20));
  c.put_derivative(make_derivative("c", "s", 100, 30));
  c.put_derivative(make_derivative("d", "s", 100, 40));
  c.touch_derivative("a", 50);  // a becomes the most recent

  EXPECT_TRUE(c.evict_derivatives(400).empty());  // within budget
  EXPECT_EQ(c.evict_derivatives(250), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(c.derivative_bytes(), 200);
  EXPECT_TRUE(c.get_derivative("a"));
  EXPECT_TRUE(c.get_derivative("d"));
  EXPECT_EQ(c.evict_derivatives(199), std::vector<std::string>{"d"});
  EXPECT_EQ(c.evict_derivatives(0), std::vector<std::string>{"a"});
  EXPECT_TRUE(c.evict_derivatives(-1).empty());
  EXPECT_EQ(c.derivative_bytes(), 0);
}

TYPED_TEST(CatalogTest, ConcurrentReadersAndWriters) {
  Catalog& c = this->catalog();
  constexpr int kWriters = 4, kReaders = 4, kPerWriter = 50;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      try {
        for (int i = 0; i < kPerWriter; ++i) {
          auto img = make_image(1000 + i);
          img.tags = {"w" + std::to_string(w)};
          img.description = "sunset number " + std::to_string(i);
          c.insert_image(img);
          auto key = core::sha256_hex(img.id);
          c.put_derivative(make_derivative(key, img.sha256, 10, i));
          c.touch_derivative(key, 2000 + i);
          if (i % 10 == 0) c.evict_derivatives(1'000'000);
          if (i % 7 == 0) {
            ImagePatch p;
            p.tags = std::vector<std::string>{"w" + std::to_string(w), "patched"};
            c.update_image(img.id, p);
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      try {
        while (!done.load()) {
          std::string cursor;
          std::set<std::string> ids;
          do {
            auto page = c.list_images({.limit = 17, .cursor = cursor});
            for (const auto& img : page.images) {
              if (!ids.insert(img.id).second) ++failures;  // a page walk never repeats
              if (!c.get_image(img.id)) ++failures;        // rows are never half there
            }
            cursor = page.next_cursor;
          } while (!cursor.empty());
          c.list_images({.tags = {"w1"}, .text = "sunset"});
          c.derivative_bytes();
          ++reads;
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (std::size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(search(c, {}).size(), static_cast<std::size_t>(kWriters * kPerWriter));
  EXPECT_EQ(search(c, {.tags = {"w2"}}).size(), static_cast<std::size_t>(kPerWriter));
  EXPECT_EQ(c.derivative_bytes(), kWriters * kPerWriter * 10);
  EXPECT_EQ(c.integrity_check(), "ok");
}

TYPED_TEST(CatalogTest, StatsCountFormatsCamerasDaysAndDedupeSavings) {
  Catalog& c = this->catalog();
  auto a = make_image(1700000000, "a.jpg");
  a.camera_model = "NIKON D70";
  auto b = make_image(1700086400, "b.png");
  b.format = "png";
  b.camera_model = "";
  auto d = make_image(1700086400 + 60, "d.jpg");
  d.camera_model = "NIKON D70";
  for (auto* img : {&b, &d}) img->sha256 = std::string(64, img == &b ? 'b' : 'd');
  c.insert_image(a);
  c.insert_image(b);
  c.insert_image(d);
  auto again = a;
  again.id.clear();
  EXPECT_TRUE(c.insert_image(again).duplicate);

  auto st = c.stats(1700000000 - 86400, {});
  EXPECT_EQ(st.images, 3);
  EXPECT_EQ(st.bytes_stored, a.size + b.size + d.size);
  EXPECT_EQ(st.bytes_saved_by_dedupe, a.size);
  ASSERT_EQ(st.formats.size(), 2u);
  EXPECT_EQ(st.formats[0], (std::pair<std::string, std::int64_t>{a.format, 2}));
  ASSERT_EQ(st.camera_models.size(), 2u);
  EXPECT_EQ(st.camera_models[0], (std::pair<std::string, std::int64_t>{"NIKON D70", 2}));
  EXPECT_EQ(st.camera_models[1], (std::pair<std::string, std::int64_t>{"unknown", 1}));
  ASSERT_EQ(st.uploads_per_day.size(), 2u);
  EXPECT_EQ(st.uploads_per_day[0], (std::pair<std::string, std::int64_t>{"2023-11-14", 1}));
  EXPECT_EQ(st.uploads_per_day[1], (std::pair<std::string, std::int64_t>{"2023-11-15", 2}));
  // Only days from `since_day` count.
  EXPECT_EQ(c.stats(1700086400, {}).uploads_per_day.size(), 1u);
}

TYPED_TEST(CatalogTest, SettingKeepsTheFirstValue) {
  Catalog& c = this->catalog();
  EXPECT_EQ(c.setting("callback_secret", "first"), "first");
  EXPECT_EQ(c.setting("callback_secret", "second"), "first");
  EXPECT_EQ(c.setting("callback_secret", ""), "first");
  EXPECT_EQ(c.setting("other", ""), "");  // names are apart; an empty value is a value
  EXPECT_EQ(c.setting("other", "x"), "");
  EXPECT_EQ(c.setting("callback_secret", "third"), "first");
}

// Callers that ask at the same moment with different defaults all get the
// value of one of them.
TYPED_TEST(CatalogTest, SettingIsAgreedByConcurrentCallers) {
  Catalog& c = this->catalog();
  const auto values = run_together(8, [&](int t) { return c.setting("secret", "value " + std::to_string(t)); });
  EXPECT_EQ(std::set<std::string>(values.begin(), values.end()).size(), 1u);
  EXPECT_EQ(c.setting("secret", "late"), values[0]);
}

// Working copies belong to bytes, not to an image: every image of those bytes
// shares them, they go with the last one, and none is recorded without one.
TYPED_TEST(CatalogTest, WorkingCopiesAreSharedByTheImagesOfTheirBytesAndGoWithTheLast) {
  Catalog& c = this->catalog();
  auto mine = make_image(100, "big.jpg");
  mine.wants_working_copies = true;
  auto theirs = mine;
  theirs.id = core::new_id();
  theirs.tenant = "other";
  theirs.wants_working_copies = false;
  ASSERT_FALSE(c.insert_image(mine).duplicate);
  ASSERT_FALSE(c.insert_image(theirs).duplicate);

  // The upload's transaction queued the item that makes them, for the image that asked.
  const auto items = c.claim_items("w", 10, 60'000, 4'000'000'000'000);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].kind, ItemKind::working_copies);
  EXPECT_EQ(items[0].source, mine.id);
  EXPECT_TRUE(items[0].job_id.empty());
  EXPECT_TRUE(c.complete_item(items[0].id, {}, 4'000'000'000'000));

  const WorkingCopyRecord small{mine.sha256, 512, mine.sha256 + "0200", "jpeg", 512, 384, 70'000, 100};
  const WorkingCopyRecord large{mine.sha256, 2048, mine.sha256 + "0800", "jpeg", 2048, 1536, 600'000, 100};
  EXPECT_TRUE(c.put_working_copy(large));
  EXPECT_TRUE(c.put_working_copy(small));
  EXPECT_TRUE(c.put_working_copy(small)) << "recording one again replaces it";
  const auto copies = c.working_copies(mine.sha256);
  ASSERT_EQ(copies.size(), 2u);
  EXPECT_EQ(copies[0].level, 512);
  EXPECT_EQ(copies[0].key, small.key);
  EXPECT_EQ(copies[0].format, "jpeg");
  EXPECT_EQ(copies[0].width, 512);
  EXPECT_EQ(copies[0].height, 384);
  EXPECT_EQ(copies[0].size, 70'000);
  EXPECT_EQ(copies[1].level, 2048);
  EXPECT_EQ(c.stats(0, "").bytes_working_copies, 670'000);
  EXPECT_EQ(c.stats(0, "other").bytes_working_copies, 670'000) << "the other tenant's image decodes them too";
  EXPECT_EQ(c.stats(0, "nobody").bytes_working_copies, 0);

  const auto first = c.delete_image(mine.id);
  EXPECT_FALSE(first.blob_unreferenced);
  EXPECT_TRUE(first.working_copy_keys.empty());
  EXPECT_EQ(c.working_copies(mine.sha256).size(), 2u) << "the other image still uses them";

  auto last = c.delete_image(theirs.id);
  EXPECT_TRUE(last.blob_unreferenced);
  std::sort(last.working_copy_keys.begin(), last.working_copy_keys.end());
  EXPECT_EQ(last.working_copy_keys, (std::vector<std::string>{small.key, large.key}));
  EXPECT_TRUE(c.working_copies(mine.sha256).empty());
  EXPECT_EQ(c.stats(0, "").bytes_working_copies, 0);

  // A copy finished after the last image went is refused, not left behind.
  EXPECT_FALSE(c.put_working_copy(small));
  EXPECT_TRUE(c.working_copies(mine.sha256).empty());
  EXPECT_EQ(c.integrity_check(), "ok");
}
