#include "auth/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace progimage::auth {

void RateLimiter::set_share(double share) noexcept {
  share_.store(std::clamp(share, 1e-6, 1.0), std::memory_order_relaxed);
}

RateLimiter::Shard& RateLimiter::shard_of(const std::string& client) {
  return shards_[std::hash<std::string>{}(client) % kShards];
}

int RateLimiter::admit(const std::string& client, const RateLimit& limit, Clock::time_point now) {
  const double share = this->share();
  const double rate = limit.per_second * share;
  // A node never holds less than one request of burst, or a small share would refuse everything.
  const double capacity = std::max(1.0, limit.burst * share);
  if (rate <= 0) return 0;
  auto& shard = shard_of(client);
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(client);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= kMaxBucketsPerShard) {
      std::erase_if(shard.buckets, [&](const auto& entry) {
        const double idle = std::chrono::duration<double>(now - entry.second.refilled).count();
        return entry.second.tokens + idle * rate >= capacity;
      });
    }
    it = shard.buckets.emplace(client, Bucket{capacity, now}).first;
  }
  auto& bucket = it->second;
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - bucket.refilled).count());
  bucket.tokens = std::min(capacity, bucket.tokens + elapsed * rate);
  bucket.refilled = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - bucket.tokens) / rate)));
}

}  // namespace progimage::auth
