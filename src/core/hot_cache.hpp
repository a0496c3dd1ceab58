#pragma once
// A small thread-safe LRU cache with a byte budget and an optional expiry per
// entry: keeps hot image records, small originals and derivatives in memory so
// that a repeated GET costs no catalog query and no file read.
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace progimage::core {

template <class Value>
class HotCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit HotCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  std::optional<Value> get(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (it->second->expires && *it->second->expires <= Clock::now()) {
      drop(it->second);
      return std::nullopt;
    }
    order_.splice(order_.begin(), order_, it->second);  // most recent first
    return it->second->value;
  }

  void put(const std::string& key, Value value, std::size_t cost,
           std::optional<Clock::duration> ttl = std::nullopt) {
    if (cost > budget_ / 4) return;  // one entry never crowds out the rest
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) drop(it->second);
    std::optional<Clock::time_point> expires;
    if (ttl) expires = Clock::now() + *ttl;
    order_.push_front(Entry{key, std::move(value), cost, expires});
    index_[key] = order_.begin();
    used_ += cost;
    while (used_ > budget_ && !order_.empty()) drop(std::prev(order_.end()));
  }

  void erase(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) drop(it->second);
  }

  void clear() {
    std::lock_guard lock(mutex_);
    order_.clear();
    index_.clear();
    used_ = 0;
  }

 private:
  struct Entry {
    std::string key;
    Value value;
    std::size_t cost;
    std::optional<Clock::time_point> expires;
  };
  using Iter = typename std::list<Entry>::iterator;

  void drop(Iter it) {
    used_ -= it->cost;
    index_.erase(it->key);
    order_.erase(it);
  }

  std::mutex mutex_;
  std::size_t budget_;
  std::size_t used_ = 0;
  std::list<Entry> order_;
  std::unordered_map<std::string, Iter> index_;
};

}  // namespace progimage::core
