#pragma once
// Request rates per client (a key, or a token's subject): token buckets in
// memory. Several nodes enforce a limit together by each taking its share of
// the rate and the burst (1/N with N nodes serving), so that no request asks
// another node or the catalog.
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/principal.hpp"

namespace progimage::auth {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  /// The fraction of every limit that this node enforces, in (0, 1].
  void set_share(double share) noexcept;
  double share() const noexcept { return share_.load(std::memory_order_relaxed); }

  /// Takes one request from the client's bucket: 0 when it may go on, else
  /// the whole seconds after which one more request would be admitted (≥ 1).
  int admit(const std::string& client, const RateLimit& limit) { return admit(client, limit, Clock::now()); }
  int admit(const std::string& client, const RateLimit& limit, Clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr std::size_t kShards = 16;
  /// Buckets per shard before those that are full again (idle clients) are dropped.
  static constexpr std::size_t kMaxBucketsPerShard = 4096;

  Shard& shard_of(const std::string& client);

  std::atomic<double> share_{1.0};
  std::array<Shard, kShards> shards_;
};

}  // namespace progimage::auth
