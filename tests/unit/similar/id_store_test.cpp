// IdStore against std::unordered_map: assign, find, release with backward
// shifts in the probe runs, and compaction of released characters.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "similar/id_store.hpp"

namespace progimage::similar::detail {
namespace {

std::string random_id(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string id(1 + rng() % 30, ' ');
  for (char& ch : id) ch = kAlphabet[rng() % 62];
  return id;
}

TEST(IdStore, FindsWhatWasAssignedAndNothingElse) {
  IdStore store;
  EXPECT_FALSE(store.find("absent"));
  store.assign(0, "a");
  store.assign(5, "bb");
  EXPECT_EQ(store.find("a"), Slot{0});
  EXPECT_EQ(store.find("bb"), Slot{5});
  EXPECT_FALSE(store.find("b"));
  EXPECT_EQ(store.id(5), "bb");
  EXPECT_EQ(store.size(), 2u);
}

TEST(IdStore, RefusesAnEmptyId) {
  IdStore store;
  EXPECT_THROW(store.assign(0, ""), core::Error);
}

TEST(IdStore, AgreesWithAMapThroughRandomAssignsAndReleases) {
  std::mt19937_64 rng(7);
  IdStore store;
  std::unordered_map<std::string, Slot> model;
  std::vector<std::string> by_slot;  // "" = free
  std::vector<Slot> free;
  std::vector<std::string> released;
  // Enough releases (several MB of characters) that compaction runs many times.
  for (int step = 0; step < 200'000; ++step) {
    const bool release = !model.empty() && rng() % 3 == 0;
    if (release) {
      Slot slot;
      do slot = static_cast<Slot>(rng() % by_slot.size());
      while (by_slot[slot].empty());
      store.release(slot);
      model.erase(by_slot[slot]);
      released.push_back(by_slot[slot]);
      by_slot[slot].clear();
      free.push_back(slot);
    } else {
      std::string id = random_id(rng);
      if (model.contains(id)) continue;
      Slot slot;
      if (!free.empty()) {
        slot = free.back();
        free.pop_back();
      } else {
        slot = static_cast<Slot>(by_slot.size());
        by_slot.emplace_back();
      }
      store.assign(slot, id);
      model[id] = slot;
      by_slot[slot] = id;
    }
    if (step % 20'000 == 0) {
      for (const auto& [id, slot] : model) {
        ASSERT_EQ(store.find(id), slot) << id;
        ASSERT_EQ(store.id(slot), id);
      }
    }
  }
  ASSERT_EQ(store.size(), model.size());
  for (const auto& [id, slot] : model) {
    ASSERT_EQ(store.find(id), slot) << id;
    ASSERT_EQ(store.id(slot), id);
  }
  for (const auto& id : released)
    if (!model.contains(id)) {
      EXPECT_FALSE(store.find(id)) << id;
    }
}

}  // namespace
}  // namespace progimage::similar::detail
