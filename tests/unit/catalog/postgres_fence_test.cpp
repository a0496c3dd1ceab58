// Cache fences (src/catalog/postgres_fence.hpp): a write waits for the
// answers of the other live nodes, and for a silent node only once.
#include "catalog/postgres_fence.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace progimage::catalog::postgres {
namespace {

using namespace std::chrono_literals;

TEST(Fences, AWriteWaitsUntilEveryPeerAnswered) {
  Fences fences;
  auto fence = fences.open();
  EXPECT_TRUE(fences.owns(fence.token()));
  std::thread peers([&] {
    std::this_thread::sleep_for(50ms);
    fences.acknowledged(fence.token(), "b");
    fences.acknowledged("someone-elses-token", "c");  // ignored
    std::this_thread::sleep_for(50ms);
    fences.acknowledged(fence.token(), "c");
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(fences.wait(fence, {"b", "c"}, 10s).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms) << "it waited for c";
  peers.join();
}

TEST(Fences, ASilentPeerCostsOneTimeoutUntilItAnswersAgain) {
  Fences fences;
  {
    auto first = fences.open();
    fences.acknowledged(first.token(), "b");
    EXPECT_EQ(fences.wait(first, {"b", "dead"}, 50ms), std::vector<std::string>{"dead"});
  }
  {
    auto second = fences.open();
    fences.acknowledged(second.token(), "b");
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(fences.wait(second, {"b", "dead"}, 10s).empty()) << "the silent node is not waited for";
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  }
  auto third = fences.open();
  fences.acknowledged(third.token(), "dead");  // it is back
  auto fourth = fences.open();
  EXPECT_EQ(fences.wait(fourth, {"dead"}, 50ms), std::vector<std::string>{"dead"}) << "waited for again";
}

TEST(Fences, AClosedFenceIsNoLongerOwned) {
  Fences fences;
  std::string token;
  {
    auto fence = fences.open();
    token = fence.token();
  }
  EXPECT_FALSE(fences.owns(token));
  fences.acknowledged(token, "b");  // a late answer changes nothing
  EXPECT_FALSE(fences.owns(token));
}

}  // namespace
}  // namespace progimage::catalog::postgres
